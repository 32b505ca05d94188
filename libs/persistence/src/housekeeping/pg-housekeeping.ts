import type { Sql } from '../database/sql';

/** How long what has served its purpose is kept, and how much one statement deletes. */
export interface RetentionPolicy {
  /** A completed event's id, after it was first processed. */
  readonly processedEventRetentionMs: number;
  /** A session and its refresh-token hashes, after its absolute expiry. */
  readonly endedSessionRetentionMs: number;
  /** Rows per statement, each its own short transaction (HOUSEKEEPING_BATCH_SIZE by default). */
  readonly batchSize?: number;
}

/** Rows one housekeeping statement deletes: a short transaction, a bounded lock footprint. */
export const HOUSEKEEPING_BATCH_SIZE = 1_000;

export interface PrunedRows {
  readonly processedEvents: number;
  readonly sessions: number;
}

/**
 * Deletes up to $2 rows of `table` matching `past` (which compares `age` with
 * $1), oldest first, skipping rows another transaction holds (another
 * instance's run, a writer), and counts them.
 */
function pruneStatement(table: string, key: string, age: string, past: string): string {
  return `
WITH deleted AS (
  DELETE FROM ${table} WHERE ${key} IN (
    SELECT ${key} FROM ${table} WHERE ${past}
    ORDER BY ${age} LIMIT $2
    FOR UPDATE SKIP LOCKED
  ) RETURNING 1
) SELECT count(*)::int AS count FROM deleted`;
}

/**
 * Completed events' records. An event whose fan-out has not finished
 * (APPLIED) keeps its record whatever its age: a restart resumes it from the
 * scope stored there.
 */
const PRUNE_PROCESSED_EVENTS = pruneStatement(
  'processed_events',
  'event_id',
  'processed_at',
  "status = 'COMPLETED' AND processed_at < $1",
);

/**
 * Sessions past their absolute expiry (revoked ones included: a revocation
 * never extends it); their refresh-token hashes go with them (ON DELETE CASCADE).
 */
const PRUNE_ENDED_SESSIONS = pruneStatement('sessions', 'id', 'expires_at', 'expires_at < $1');

/**
 * Deletes what the service no longer needs, so that its tables stop growing
 * with the traffic they have seen. Safe to run from every instance at once
 * (rows another run holds are skipped) and at any time:
 * - an event id is needed to recognise a re-delivery, which comes minutes
 *   after the first delivery at most; an older replay is made harmless by the
 *   facts themselves (last writer wins by source time) and by publishing only
 *   changed authorities;
 * - a session past its expiry can no longer be renewed, and its tokens have
 *   expired (an access token lives minutes); once it is gone, presenting its
 *   refresh token is refused as unknown (401) rather than as expired (412).
 */
export class PgHousekeeping {
  private readonly batchSize: number;

  constructor(
    private readonly sql: Sql,
    private readonly policy: RetentionPolicy,
  ) {
    this.batchSize = policy.batchSize ?? HOUSEKEEPING_BATCH_SIZE;
    if (this.batchSize < 1) throw new Error('housekeeping needs a batch size of at least 1');
  }

  /**
   * Deletes what is past its retention at `now`. `stop` ends it between two
   * batches (a shutdown need not wait for a first run through years of
   * history); the rest is left for the next run.
   */
  async prune(now: Date, stop?: AbortSignal): Promise<PrunedRows> {
    return {
      processedEvents: await this.deleteInBatches(
        'housekeeping-processed-events',
        PRUNE_PROCESSED_EVENTS,
        new Date(now.getTime() - this.policy.processedEventRetentionMs),
        stop,
      ),
      sessions: await this.deleteInBatches(
        'housekeeping-ended-sessions',
        PRUNE_ENDED_SESSIONS,
        new Date(now.getTime() - this.policy.endedSessionRetentionMs),
        stop,
      ),
    };
  }

  /** Deletes a batch at a time until a batch comes back short; returns the rows deleted. */
  private async deleteInBatches(
    name: string,
    statement: string,
    before: Date,
    stop: AbortSignal | undefined,
  ): Promise<number> {
    let deleted = 0;
    while (!stop?.aborted) {
      const [row] = await this.sql.query<{ count: number }>(name, statement, [before, this.batchSize]);
      const count = row?.count ?? 0;
      deleted += count;
      if (count < this.batchSize) break;
    }
    return deleted;
  }
}
