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
