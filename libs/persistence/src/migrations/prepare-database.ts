import type { AppConfig } from '@iam/config';
import { ensureDatabase } from '../database/ensure-database';
import { readMigrationFiles } from './migration-files';
import { migrate, verifySchema, type MigrationReport } from './migration-runner';

/**
 * What the service does with its database before anything else: create it if
 * missing, bring it to this version's schema (or, when migrations are run by
 * `prisma migrate deploy`, only check it), and refuse to go on otherwise.
 */
export async function prepareDatabase(config: AppConfig['database']): Promise<MigrationReport | undefined> {
  await ensureDatabase(config.url);
  const files = readMigrationFiles();
  if (config.migrateOnStart) return migrate(config.url, files);
  await verifySchema(config.url, files);
  return undefined;
}

/**
 * For what must change nothing (a replay's dry run): only check that the
 * database exists at this version's schema; never create or migrate it.
 */
export async function checkDatabase(config: AppConfig['database']): Promise<void> {
  await verifySchema(config.url, readMigrationFiles());
}
