import { Pool } from 'pg';
import type { Logger } from 'pino';
import type { AppConfig } from '@iam/config';

/** One pg pool per process, shared by Prisma and the few statements that need pg itself. */
export function createPool(config: AppConfig['database'], logger: Logger, applicationName: string): Pool {
  const pool = new Pool({
    connectionString: config.url,
    max: config.poolSize,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client that loses its server must not crash the process; the pool replaces it.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  return pool;
}
