import { Client, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DryRunAbandonedError, isTransientDatabaseError, RolledBackSql } from '@iam/persistence';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** The dry run's transaction (an operator's `replay --dry-run`) beside live traffic, on real PostgreSQL. */

let database: TestDatabase;
let pool: Pool;
let live: Client;

const countOf = async (id: string) =>
  (await live.query<{ n: number }>('SELECT count(*)::int AS n FROM clients WHERE id = $1', [id])).rows[0]!.n;

beforeAll(async () => {
  database = await createTestDatabase('rolled_back_sql');
  pool = new Pool({ connectionString: database.url, max: 2 });
  live = new Client({ connectionString: database.url });
  await live.connect();
  await live.query(`INSERT INTO clients (id) VALUES ('held')`);
});

afterAll(async () => {
  await live?.end();
  await pool?.end();
  await database?.drop();
});

describe('RolledBackSql (real PostgreSQL)', () => {
  it('sees its own writes, and none survive it', async () => {
    const sql = await RolledBackSql.begin(pool);
    await sql.query(null, `INSERT INTO clients (id) VALUES ('dry')`);
    expect(await sql.query(null, `SELECT id FROM clients WHERE id = 'dry'`)).toEqual([{ id: 'dry' }]);
    expect(await countOf('dry')).toBe(0);
    await sql.rollback();
    expect(await countOf('dry')).toBe(0);
  });

  it('gives way to a row live traffic holds, in well under the server deadlock check, and is then abandoned', async () => {
    await live.query('BEGIN');
    await live.query(`UPDATE clients SET service_id = 'live' WHERE id = 'held'`);
    const sql = await RolledBackSql.begin(pool);
    try {
      const started = performance.now();
      const waited = sql.query(null, `UPDATE clients SET service_id = 'dry' WHERE id = 'held'`);
      await expect(waited).rejects.toThrow(DryRunAbandonedError);
      expect(performance.now() - started).toBeLessThan(1_000);
      const failure = await waited.catch((error: unknown) => error);
      expect(String(failure)).toContain('55P03');
      // Retrying would only fail again inside the aborted transaction: not transient, and every
      // later statement fails at once with the same error.
      expect(isTransientDatabaseError(failure)).toBe(false);
      await expect(sql.query(null, 'SELECT 1')).rejects.toBe(failure);
    } finally {
      await sql.rollback();
    }
    // The live transaction was never disturbed.
    await live.query('COMMIT');
    const { rows } = await live.query(`SELECT service_id FROM clients WHERE id = 'held'`);
    expect(rows).toEqual([{ service_id: 'live' }]);
  });
});
