import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { MigrationFile } from './migration-files';

/** The advisory lock `prisma migrate` takes, so our runner and Prisma's never run at once. */
const PRISMA_MIGRATE_LOCK = 72_707_369;

// Prisma's own DDL for its bookkeeping table, so `prisma migrate deploy` can take over.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export class UnknownSchemaError extends Error {
  constructor(problems: readonly string[]) {
    super(
      `The database schema is not one this version knows:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'UnknownSchemaError';
  }
}

interface AppliedMigration {
  readonly migration_name: string;
  readonly checksum: string;
  readonly finished_at: Date | null;
  readonly rolled_back_at: Date | null;
}

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
}

async function readApplied(client: Client): Promise<AppliedMigration[]> {
  const exists = await client.query(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
  if (!exists.rows[0]?.present) return [];
  const result = await client.query<AppliedMigration>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at',
  );
  return result.rows;
}

/**
 * Compares the database's migration history with the migrations this version
 * ships. Anything the version does not know (a migration from a newer version,
 * an edited migration, a failed one) makes the schema unknown.
 */
function compare(applied: readonly AppliedMigration[], files: readonly MigrationFile[]): MigrationReport {
  const byName = new Map(files.map((file) => [file.name, file]));
  const problems: string[] = [];
  const done = new Set<string>();
  for (const row of applied) {
    if (row.rolled_back_at) continue;
    const file = byName.get(row.migration_name);
    if (!file) problems.push(`migration ${row.migration_name} is applied but unknown to this version`);
    else if (file.checksum !== row.checksum)
      problems.push(`migration ${row.migration_name} was modified after it was applied`);
    else if (!row.finished_at) problems.push(`migration ${row.migration_name} failed or is still running`);
    done.add(row.migration_name);
  }
  if (problems.length > 0) throw new UnknownSchemaError(problems);
  return {
    applied: files.filter((file) => done.has(file.name)).map((file) => file.name),
    pending: files.filter((file) => !done.has(file.name)).map((file) => file.name),
  };
}

async function apply(client: Client, file: MigrationFile): Promise<void> {
  await client.query('BEGIN');
  try {
    const id = randomUUID();
    await client.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
      [id, file.checksum, file.name],
    );
    await client.query(file.sql);
    await client.query(
      'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
      [id],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw new Error(`migration ${file.name} failed: ${(error as Error).message}`, { cause: error });
  }
}

async function withMigrationLock<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      return await work(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]);
    }
  } finally {
    await client.end();
  }
}

/**
 * Applies pending migrations, each in its own transaction, recording them in
 * `_prisma_migrations` as Prisma does. Refuses a schema it does not know.
 */
export async function migrate(url: string, files: readonly MigrationFile[]): Promise<MigrationReport> {
  return withMigrationLock(url, async (client) => {
    const report = compare(await readApplied(client), files);
    for (const name of report.pending) {
      await apply(
        client,
        files.find((file) => file.name === name)!,
      );
    }
    return { applied: [...report.applied, ...report.pending], pending: [] };
  });
}

/** Checks, without changing anything, that the database is at exactly this version's schema. */
export async function verifySchema(url: string, files: readonly MigrationFile[]): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const report = compare(await readApplied(client), files);
    if (report.pending.length > 0) {
      throw new UnknownSchemaError(report.pending.map((name) => `migration ${name} is not applied`));
    }
  } finally {
    await client.end();
  }
}
