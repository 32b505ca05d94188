import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { testEnvironment } from './environment';

/**
 * Integration and end-to-end tests need the real PostgreSQL and the real Kafka
 * broker. When either is missing the run fails here, loudly, instead of
 * skipping: `npm test` starts the broker; PostgreSQL runs on every machine.
 */
export default async function checkInfrastructure(): Promise<void> {
  const problems: string[] = [];

  const pg = new Client({ connectionString: testEnvironment.postgresUrl, connectionTimeoutMillis: 3_000 });
  try {
    await pg.connect();
    await pg.query('SELECT 1');
  } catch (error) {
    problems.push(
      `PostgreSQL is not reachable at ${testEnvironment.postgresUrl}: ${(error as Error).message}`,
    );
  } finally {
    await pg.end().catch(() => undefined);
  }

  const admin = new Kafka({
    clientId: 'test-setup',
    brokers: testEnvironment.kafkaBrokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 2 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    problems.push(
      `No Kafka broker answers at ${testEnvironment.kafkaBrokers.join(',')}: ${(error as Error).message} ` +
        '(npm test starts one; alone, run `npm run kafka -- start`)',
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  if (problems.length > 0) throw new Error(`Test infrastructure missing:\n  - ${problems.join('\n  - ')}`);
}
