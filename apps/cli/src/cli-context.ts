import type { Kafka } from 'kafkajs';
import pino from 'pino';
import type { Pool } from 'pg';
import { loadConfig, type AppConfig } from '@iam/config';
import { createKafka } from '@iam/messaging';
import { createRootLogger, type RootLogger } from '@iam/observability';
import { checkDatabase, createPool, PgSql, prepareDatabase, PrismaService, type Sql } from '@iam/persistence';

/**
 * The resources a command may need, created on first use so that a command
 * needing neither the database nor Kafka works without their settings.
 */
export class CliContext {
  private cachedConfig: AppConfig | undefined;
  private cachedPool: Pool | undefined;
  private cachedPrisma: PrismaService | undefined;
  private cachedKafka: Kafka | undefined;
  // Logs go to stderr: stdout carries the command's output, for people and scripts.
  readonly logger: RootLogger = createRootLogger(
    process.env.LOG_LEVEL ?? 'warn',
    'iam-cli',
    pino.destination(2),
  );

  get config(): AppConfig {
    this.cachedConfig ??= loadConfig();
    return this.cachedConfig;
  }

  /**
   * The database, prepared the way the service prepares it (created and
   * migrated if allowed); with `migrate: false`, for a command that only
   * reads or must change nothing, only checked to be at this version's schema.
   */
  async database(
    options: { migrate?: boolean } = {},
  ): Promise<{ prisma: PrismaService; sql: Sql; pool: Pool }> {
    if (!this.cachedPool) {
      await (options.migrate === false ? checkDatabase : prepareDatabase)(this.config.database);
      this.cachedPool = createPool({ ...this.config.database, poolSize: 4 }, this.logger, 'iam-cli');
      this.cachedPrisma = new PrismaService(this.cachedPool);
    }
    return { prisma: this.cachedPrisma!, sql: new PgSql(this.cachedPool), pool: this.cachedPool };
  }

  get kafka(): Kafka {
    this.cachedKafka ??= createKafka(this.config, this.logger, '-cli');
    return this.cachedKafka;
  }

  async close(): Promise<void> {
    await this.cachedPrisma?.$disconnect();
    await this.cachedPool?.end();
  }
}

/** Writes a command's result; tables for people, JSON with --json for scripts. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function table(rows: readonly object[]): string {
  if (rows.length === 0) return '(none)';
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) =>
    columns.map((column) => formatCell((row as Record<string, unknown>)[column])),
  );
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...cells.map((line) => line[index]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, index) => value.padEnd(widths[index]!))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}

function formatCell(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.join(',');
  return value === null || value === undefined ? '' : String(value);
}
