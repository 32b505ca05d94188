import { Pool } from 'pg';
import { dropDatabase, ensureDatabase, migrate, readMigrationFiles } from '@iam/persistence';
import { testEnvironment, uniqueName } from './environment';

export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

export function testDatabaseUrl(name: string): string {
  const url = new URL(testEnvironment.postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database of its own for a test file, optionally at the current schema. */
export async function createTestDatabase(
  prefix: string,
  options: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  const url = testDatabaseUrl(uniqueName(`iam_${prefix}`).toLowerCase());
  await ensureDatabase(url);
  if (options.migrate ?? true) await migrate(url, readMigrationFiles());
  return { url, drop: () => dropDatabase(url) };
}

/** A pg pool on a test database that survives the database being dropped under it. */
export function testPool(url: string, max: number): Pool {
  const pool = new Pool({ connectionString: url, max });
  // DROP DATABASE ... WITH (FORCE) can terminate a connection pool.end() is still closing.
  pool.on('error', () => undefined);
  return pool;
}
