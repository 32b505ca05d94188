import type { Pool } from 'pg';
import type { Sql } from '../database/sql';

/** The record a dead letter stands for: its key in `dead_letters`. */
export interface DeadLetterOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export const deadLetterOriginKey = (origin: DeadLetterOrigin): string =>
  `${origin.topic}/${origin.partition}/${origin.offset}`;

/**
 * Which dead letters `dlq redrive` has re-submitted, by the record each stands
 * for, so that running it again re-submits only the others. A redrive
 * publishes first and records after: interrupted between the two, the next run
 * re-submits that one again (a valid event is then a duplicate the consumer
 * knows by its id), never none.
 */
export class PgDeadLetterRedrives {
  constructor(private readonly sql: Sql) {}

  /**
   * Runs `work` as the only redrive of `deadLetterTopic` (a session advisory
   * lock): two at once would both find a dead letter not redriven yet, and both
   * re-submit it. Undefined, without running it, when another holds the lock.
   */
  static async exclusively<T>(
    pool: Pool,
    deadLetterTopic: string,
    work: () => Promise<T>,
  ): Promise<T | undefined> {
    const connection = await pool.connect();
    const key = `dlq-redrive:${deadLetterTopic}`;
    try {
      const { rows } = await connection.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [key],
      );
      if (!rows[0]?.locked) return undefined;
      try {
        return await work();
      } finally {
        await connection.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
      }
    } finally {
      connection.release();
    }
  }

  /** When each of `origins` was redriven, by deadLetterOriginKey, for those that were. */
  async redrivenAt(origins: readonly DeadLetterOrigin[]): Promise<ReadonlyMap<string, Date>> {
    if (origins.length === 0) return new Map();
    const rows = await this.sql.query<DeadLetterOrigin & { redriven_at: Date }>(
      'dead-letters-redriven-at',
      `SELECT d.topic, d.partition, d."offset"::text AS "offset", d.redriven_at
       FROM dead_letters d
       JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS o(topic, partition, "offset")
         ON d.topic = o.topic AND d.partition = o.partition AND d."offset" = o."offset"
       WHERE d.redriven_at IS NOT NULL`,
      [
        origins.map((origin) => origin.topic),
        origins.map((origin) => origin.partition),
        origins.map((origin) => origin.offset),
      ],
    );
    return new Map(rows.map((row) => [deadLetterOriginKey(row), row.redriven_at]));
  }

  /**
   * Records that the dead letter of `origin` was re-submitted; its row is made
   * again if it is gone (a database restored from before it, say).
   */
  async recordRedrive(
    origin: DeadLetterOrigin,
    dead: { readonly reason: string; readonly eventId: string | undefined },
    at: Date,
  ): Promise<void> {
    await this.sql.query(
      'dead-letter-redriven',
      `INSERT INTO dead_letters (topic, partition, "offset", reason, event_id, redriven_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (topic, partition, "offset") DO UPDATE SET redriven_at = EXCLUDED.redriven_at`,
      [origin.topic, origin.partition, origin.offset, dead.reason, dead.eventId ?? null, at],
    );
  }
}
