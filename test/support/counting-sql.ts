import type { Sql } from '@iam/persistence';

/** Sql that records the name of every statement it sends ('(unnamed)' for unnamed ones). */
export function countingSql(sql: Sql): { sql: Sql; statements: string[] } {
  const statements: string[] = [];
  const counting: Sql = {
    query: (name, text, values) => {
      statements.push(name ?? '(unnamed)');
      return sql.query(name, text, values);
    },
    transaction: (work) => sql.transaction(work),
  };
  return { sql: counting, statements };
}
