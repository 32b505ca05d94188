import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureDatabase,
  migrate,
  readMigrationFiles,
  UnknownSchemaError,
  verifySchema,
  type MigrationFile,
} from '@iam/persistence';
import { createTestDatabase, type TestDatabase } from '../support/database';

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('database preparation (real PostgreSQL)', () => {
  let database: TestDatabase;
  const files = readMigrationFiles();

  beforeAll(async () => {
    database = await createTestDatabase('migrations', { migrate: false });
  });
  afterAll(async () => database.drop());

  it('creates the database only when it is missing', async () => {
    expect(await ensureDatabase(database.url)).toBe(false);
  });

  it('refuses an empty database when only verifying', async () => {
    await expect(verifySchema(database.url, files)).rejects.toThrow(UnknownSchemaError);
  });

  it('applies every migration and records it the way Prisma does', async () => {
    const report = await migrate(database.url, files);
    expect(report.applied).toEqual(files.map((file) => file.name));
    const rows = await query<{ migration_name: string; checksum: string; applied_steps_count: number }>(
      database.url,
      'SELECT migration_name, checksum, applied_steps_count FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY migration_name',
    );
    expect(rows).toEqual(
      files.map((file) => ({ migration_name: file.name, checksum: file.checksum, applied_steps_count: 1 })),
    );
    await expect(verifySchema(database.url, files)).resolves.toBeUndefined();
  });

  it('is idempotent, also when instances migrate at the same time', async () => {
    const reports = await Promise.all([migrate(database.url, files), migrate(database.url, files)]);
    for (const report of reports) expect(report.applied).toHaveLength(files.length);
    const [count] = await query<{ n: string }>(
      database.url,
      'SELECT count(*) AS n FROM "_prisma_migrations"',
    );
    expect(Number(count?.n)).toBe(files.length);
  });

  it('refuses a schema with a migration this version does not know', async () => {
    const newer: MigrationFile = { name: '29990101000000_future', sql: 'SELECT 1', checksum: 'f'.repeat(64) };
    await migrate(database.url, [...files, newer]);
    await expect(verifySchema(database.url, files)).rejects.toThrow(/unknown to this version/);
    await expect(migrate(database.url, files)).rejects.toThrow(UnknownSchemaError);
  });

  it('lets an older version start once a newer migration is undone and marked rolled back (README, Upgrades and rollbacks)', async () => {
    const newer: MigrationFile = {
      name: '29990102000000_future_table',
      sql: 'CREATE TABLE future_table (id int)',
      checksum: 'e'.repeat(64),
    };
    // The previous test's unknown migration (it changed nothing) is rolled back the same way.
    await query(
      database.url,
      `UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = '29990101000000_future'`,
    );
    await migrate(database.url, [...files, newer]);
    await expect(verifySchema(database.url, files)).rejects.toThrow(/unknown to this version/);
    await query(
      database.url,
      `DROP TABLE future_table;
       UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = '${newer.name}'`,
    );
    await expect(verifySchema(database.url, files)).resolves.toBeUndefined();
    // Rolling forward again re-applies it.
    expect((await migrate(database.url, [...files, newer])).applied).toContain(newer.name);
    const [table] = await query<{ present: boolean }>(
      database.url,
      `SELECT to_regclass('future_table') IS NOT NULL AS present`,
    );
    expect(table?.present).toBe(true);
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const edited = files.map((file, index) => (index === 0 ? { ...file, checksum: '0'.repeat(64) } : file));
    await expect(verifySchema(database.url, edited)).rejects.toThrow(/modified after it was applied/);
  });
});

describe('the lookup index migration (real PostgreSQL; README, Upgrades and rollbacks)', () => {
  const MIGRATION = '20261201090000_lookup_indexes';
  let database: TestDatabase;
  const files = readMigrationFiles();
  const before = files.slice(
    0,
    files.findIndex((file) => file.name === MIGRATION),
  );

  /** The lookup indexes there are, each with ' (invalid)' when a failed build left it unusable. */
  const lookupIndexes = async () =>
    (
      await query<{ name: string }>(
        database.url,
        `SELECT c.relname || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END AS name
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relname IN ('sessions_user_id_idx', 'sessions_user_id_client_id_idx',
                             'refresh_tokens_session_id_idx', 'refresh_tokens_session_id_rotated_at_idx')
         ORDER BY c.relname`,
      )
    ).map((row) => row.name);
  const REPLACED = ['refresh_tokens_session_id_idx', 'sessions_user_id_idx'];
  const REPLACEMENTS = ['refresh_tokens_session_id_rotated_at_idx', 'sessions_user_id_client_id_idx'];

  beforeAll(async () => {
    database = await createTestDatabase('migration_session_index', { migrate: false });
  });
  afterAll(async () => database.drop());

  it('replaces the two single-column indexes with the wider ones, whether built beforehand or left invalid by a failed build', async () => {
    expect(before.length).toBeGreaterThan(0);
    await migrate(database.url, before);
    expect(await lookupIndexes()).toEqual(REPLACED);
    // The operator's non-blocking builds ahead of the upgrade (README, Operator runbook): one
    // completes, the other fails and leaves an invalid index behind (as a cancelled one would).
    await query(
      database.url,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_user_id_client_id_idx" ON "sessions"("user_id", "client_id")`,
    );
    await query(
      database.url,
      `CREATE INDEX CONCURRENTLY "refresh_tokens_session_id_rotated_at_idx" ON "refresh_tokens"("session_id", "rotated_at")`,
    );
    await query(
      database.url,
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'refresh_tokens_session_id_rotated_at_idx'::regclass`,
    );
    expect(await lookupIndexes()).toEqual([
      'refresh_tokens_session_id_idx',
      'refresh_tokens_session_id_rotated_at_idx (invalid)',
      'sessions_user_id_client_id_idx',
      'sessions_user_id_idx',
    ]);

    expect((await migrate(database.url, files)).applied).toContain(MIGRATION);
    expect(await lookupIndexes()).toEqual(REPLACEMENTS);
  });

  it('is rolled back by marking it, and applied again on the way forward', async () => {
    await query(
      database.url,
      `UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name >= '${MIGRATION}'`,
    );
    await expect(verifySchema(database.url, before)).resolves.toBeUndefined();

    expect((await migrate(database.url, files)).applied).toContain(MIGRATION);
    expect(await lookupIndexes()).toEqual(REPLACEMENTS);
  });
});
