import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  /** SHA-256 of the script, as Prisma records it in `_prisma_migrations.checksum`. */
  readonly checksum: string;
}

const MIGRATIONS_DIR = join('prisma', 'migrations');

/**
 * Finds `prisma/migrations` by walking up from `start`: the same code runs from
 * the sources (tests), from the webpack bundle in dist/ and from the Docker image.
 */
export function findMigrationsDir(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    const candidate = join(dir, MIGRATIONS_DIR);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no ${MIGRATIONS_DIR} directory above ${start}`);
    dir = parent;
  }
}

/** The migrations in Prisma's layout (`<timestamp>_<name>/migration.sql`), oldest first. */
export function readMigrationFiles(dir: string = findMigrationsDir()): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}
