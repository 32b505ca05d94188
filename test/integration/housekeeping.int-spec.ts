import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PgHousekeeping, PgSql } from '@iam/persistence';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';

const DAY = 86_400_000;
const NOW = new Date('2026-11-30T12:00:00.000Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);
const RETENTION = { processedEventRetentionMs: 7 * DAY, endedSessionRetentionMs: 7 * DAY };

/**
 * Housekeeping against the real schema: exactly the rows past their
 * retention go, a batch at a time, refresh-token hashes with their session,
 * and two instances pruning at once delete each row once.
 */
describe('PgHousekeeping: processed events and ended sessions past their retention (real PostgreSQL)', () => {
  let database: TestDatabase;
  let pools: Pool[];
  let pool: Pool;

  beforeAll(async () => {
    database = await createTestDatabase('housekeeping');
    pools = [testPool(database.url, 4), testPool(database.url, 4)];
    pool = pools[0]!;
    await pool.query("INSERT INTO users (id) VALUES ('user-1')");
    await pool.query("INSERT INTO clients (id) VALUES ('client-1')");
  });
  afterAll(async () => {
    await Promise.all(pools.map((each) => each.end()));
    await database.drop();
  });
  beforeEach(async () => {
    await pool.query('DELETE FROM processed_events');
    await pool.query('DELETE FROM sessions');
  });

  async function processedEvent(id: string, status: 'APPLIED' | 'COMPLETED', processedAt: Date) {
    await pool.query(
      `INSERT INTO processed_events (event_id, type, subject, event_time, topic, partition, "offset", status, processed_at)
       VALUES ($1, 'iam.user.role-granted', 'user-1', $2, 'roles', 0, 0, $3, $2)`,
      [id, processedAt, status],
    );
  }

  /** A session that expires at `expiresAt`, with two refresh-token hashes (one rotated). */
  async function session(expiresAt: Date, status: 'ACTIVE' | 'REVOKED' = 'ACTIVE'): Promise<string> {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO sessions (id, user_id, client_id, auth_level, remember_me, status, revoked_at, created_at,
                             expires_at, claims_version, token_id, token_expires_at)
       VALUES ($1, 'user-1', 'client-1', 'AUTH-BASIC', true, $2, $3, $4, $5, 1, 'jti', $5)`,
      [
        id,
        status,
        status === 'REVOKED' ? daysAgo(20) : null,
        new Date(expiresAt.getTime() - 30 * DAY),
        expiresAt,
      ],
    );
    await pool.query(
      `INSERT INTO refresh_tokens (token_hash, session_id, rotated_at) VALUES ($1, $3, now()), ($2, $3, NULL)`,
      [`${id}-old`, `${id}-new`, id],
    );
    return id;
  }

  const ids = async (table: 'processed_events' | 'sessions') =>
    (
      await pool.query<{ id: string }>(
        `SELECT ${table === 'sessions' ? 'id::text' : 'event_id'} AS id FROM ${table} ORDER BY 1`,
      )
    ).rows.map((row) => row.id);

  it('deletes completed events processed before the retention, keeps newer ones and unfinished fan-outs', async () => {
    await processedEvent('old-completed', 'COMPLETED', daysAgo(8));
    await processedEvent('old-applied', 'APPLIED', daysAgo(30));
    await processedEvent('recent-completed', 'COMPLETED', daysAgo(6));

    const pruned = await new PgHousekeeping(new PgSql(pool), RETENTION).prune(NOW);

    expect(pruned).toEqual({ processedEvents: 1, sessions: 0 });
    expect(await ids('processed_events')).toEqual(['old-applied', 'recent-completed']);
  });

  it('deletes sessions past their expiry by the retention, revoked or not, with their refresh-token hashes', async () => {
    const long = await session(daysAgo(8));
    const revokedLong = await session(daysAgo(9), 'REVOKED');
    const recent = await session(daysAgo(6));
    const revokedLive = await session(new Date(NOW.getTime() + DAY), 'REVOKED');
    const live = await session(new Date(NOW.getTime() + 30 * DAY));

    const pruned = await new PgHousekeeping(new PgSql(pool), RETENTION).prune(NOW);

    expect(pruned).toEqual({ processedEvents: 0, sessions: 2 });
    expect(await ids('sessions')).toEqual([recent, revokedLive, live].sort());
    const { rows } = await pool.query<{ session_id: string }>(
      'SELECT DISTINCT session_id::text AS session_id FROM refresh_tokens',
    );
    expect(rows.map((row) => row.session_id).sort()).toEqual([recent, revokedLive, live].sort());
    expect(rows.map((row) => row.session_id)).not.toContain(long);
    expect(rows.map((row) => row.session_id)).not.toContain(revokedLong);
  });

  it('deletes a backlog larger than one batch, a batch at a time', async () => {
    for (let i = 0; i < 7; i += 1) await processedEvent(`backlog-${i}`, 'COMPLETED', daysAgo(10 + i));
    for (let i = 0; i < 5; i += 1) await session(daysAgo(10 + i));

    const pruned = await new PgHousekeeping(new PgSql(pool), { ...RETENTION, batchSize: 2 }).prune(NOW);

    expect(pruned).toEqual({ processedEvents: 7, sessions: 5 });
    expect(await ids('processed_events')).toEqual([]);
    expect(await ids('sessions')).toEqual([]);
  });

  it('run by two instances at once, deletes every row once between them', async () => {
    for (let i = 0; i < 300; i += 1) await processedEvent(`both-${i}`, 'COMPLETED', daysAgo(8 + (i % 5)));
    const [first, second] = pools.map(
      (each) => new PgHousekeeping(new PgSql(each), { ...RETENTION, batchSize: 10 }),
    );

    const outcomes = await Promise.all([first!.prune(NOW), second!.prune(NOW)]);

    expect(outcomes[0]!.processedEvents + outcomes[1]!.processedEvents).toBe(300);
    expect(await ids('processed_events')).toEqual([]);
  });

  it('skips the rows another transaction holds instead of waiting for them, and takes them on a later run', async () => {
    await processedEvent('held', 'COMPLETED', daysAgo(8));
    await processedEvent('free', 'COMPLETED', daysAgo(9));
    const holder = await pools[1]!.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM processed_events WHERE event_id = 'held' FOR UPDATE");

      // Without SKIP LOCKED this would wait for the holder, and the test would time out.
      const pruned = await new PgHousekeeping(new PgSql(pool), RETENTION).prune(NOW);
      expect(pruned.processedEvents).toBe(1);
      expect(await ids('processed_events')).toEqual(['held']);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await new PgHousekeeping(new PgSql(pool), RETENTION).prune(NOW)).processedEvents).toBe(1);
    expect(await ids('processed_events')).toEqual([]);
  });

  it('stops between two batches when told to, leaving the rest for the next run', async () => {
    for (let i = 0; i < 6; i += 1) await processedEvent(`stop-${i}`, 'COMPLETED', daysAgo(10 + i));
    const stop = new AbortController();
    const sql = new PgSql(pool);
    const stopping = {
      query: async (...args: Parameters<PgSql['query']>) => {
        const rows = await sql.query(...args);
        stop.abort();
        return rows;
      },
      transaction: sql.transaction.bind(sql),
    } as PgSql;

    const first = await new PgHousekeeping(stopping, { ...RETENTION, batchSize: 2 }).prune(NOW, stop.signal);

    expect(first).toEqual({ processedEvents: 2, sessions: 0 });
    expect(await ids('processed_events')).toHaveLength(4);
    expect((await new PgHousekeeping(sql, { ...RETENTION, batchSize: 2 }).prune(NOW)).processedEvents).toBe(
      4,
    );
  });

  it('changes nothing when nothing is past its retention, and refuses a batch size below 1', async () => {
    await processedEvent('fresh', 'COMPLETED', daysAgo(1));
    const live = await session(new Date(NOW.getTime() + DAY));

    expect(await new PgHousekeeping(new PgSql(pool), RETENTION).prune(NOW)).toEqual({
      processedEvents: 0,
      sessions: 0,
    });
    expect(await ids('processed_events')).toEqual(['fresh']);
    expect(await ids('sessions')).toEqual([live]);
    expect(() => new PgHousekeeping(new PgSql(pool), { ...RETENTION, batchSize: 0 })).toThrow(/batch size/);
  });
});
