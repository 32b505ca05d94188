import type { Sql } from '@iam/persistence';

export interface CountedSql {
  readonly sql: Sql;
  /** The name of every statement sent, inside transactions too ('(unnamed)' for unnamed ones). */
  readonly statements: string[];
  /** How many transactions were opened. */
  readonly transactions: { count: number };
}

/** Sql that records what it sends (not BEGIN and COMMIT themselves: those are `transactions`). */
export function countingSql(sql: Sql): CountedSql {
  const counted: CountedSql = { sql, statements: [], transactions: { count: 0 } };
  return { ...counted, sql: recording(sql, counted) };
}

function recording(sql: Sql, counted: CountedSql): Sql {
  return {
    query: (name, text, values) => {
      counted.statements.push(name ?? '(unnamed)');
      return sql.query(name, text, values);
    },
    transaction: (work) => {
      counted.transactions.count += 1;
      return sql.transaction((inner) => work(recording(inner, counted)));
    },
  };
}
