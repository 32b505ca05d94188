import type { Sql } from '@iam/persistence';

/** Sql that records the name of every statement it sends ('(unnamed)' for unnamed ones). */
export function countingSql(sql: Sql): { sql: Sql; statements: string[] } {
  const statements: string[] = [];
  return { sql: recording(sql, statements), statements };
}

/** Records statements inside transactions too (not BEGIN and COMMIT themselves). */
function recording(sql: Sql, statements: string[]): Sql {
  return {
    query: (name, text, values) => {
      statements.push(name ?? '(unnamed)');
      return sql.query(name, text, values);
    },
    transaction: (work) => sql.transaction((inner) => work(recording(inner, statements))),
  };
}
