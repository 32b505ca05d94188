import type { Sql } from '@iam/persistence';

/** Runs before a named statement is sent, e.g. to let another connection act in between two statements. */
export type BeforeStatement = (name: string | null) => Promise<void> | void;

/**
 * Sql that records the name of every statement it sends ('(unnamed)' for
 * unnamed ones) and, given `before`, awaits it ahead of each one.
 */
export function countingSql(sql: Sql, before?: BeforeStatement): { sql: Sql; statements: string[] } {
  const statements: string[] = [];
  return { sql: recording(sql, statements, before), statements };
}

/** Records statements inside transactions too (not BEGIN and COMMIT themselves). */
function recording(sql: Sql, statements: string[], before: BeforeStatement | undefined): Sql {
  return {
    query: async (name, text, values) => {
      statements.push(name ?? '(unnamed)');
      await before?.(name);
      return sql.query(name, text, values);
    },
    transaction: (work) => sql.transaction((inner) => work(recording(inner, statements, before))),
  };
}
