import { localPostgresUrl } from '../../scripts/lib/project.mjs';

/**
 * Where the integration and end-to-end tests find their infrastructure: the
 * machine's PostgreSQL (over its Unix socket when it has one) and the Kafka broker `npm test`
 * starts (127.0.0.1 only).
 */
export const testEnvironment = {
  postgresUrl: process.env.TEST_POSTGRES_URL ?? localPostgresUrl('postgres'),
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
};

/** A name unique to this test run, usable as a database, topic or group name. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
