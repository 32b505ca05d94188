import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '@iam/persistence';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** The service's pool against real PostgreSQL: what every connection it opens is set to. */

let database: TestDatabase;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  database = await createTestDatabase('pool', { migrate: false });
});

afterAll(async () => {
  await database?.drop();
});

/** What `SHOW <setting>` answers on each of `count` connections held at once. */
async function settingOnConnections(url: string, setting: string, count: number): Promise<string[]> {
  const pool = createPool({ url, poolSize: count, migrateOnStart: false }, logger, 'iam-pool-test');
  try {
    const clients = await Promise.all(Array.from({ length: count }, () => pool.connect()));
    try {
      return await Promise.all(
        clients.map(
          async (client) =>
            (await client.query<Record<string, string>>(`SHOW ${setting}`)).rows[0]![setting]!,
        ),
      );
    } finally {
      clients.forEach((client) => client.release());
    }
  } finally {
    await pool.end();
  }
}

describe('createPool (real PostgreSQL)', () => {
  it('turns JIT compilation off on every connection, before its first statement', async () => {
    expect(await settingOnConnections(database.url, 'jit', 3)).toEqual(['off', 'off', 'off']);
  });

  it("turns it off for pool.query too, the path of the service's statements and Prisma's", async () => {
    const pool = createPool(
      { url: database.url, poolSize: 1, migrateOnStart: false },
      logger,
      'iam-pool-test',
    );
    try {
      expect((await pool.query<{ jit: string }>('SHOW jit')).rows).toEqual([{ jit: 'off' }]);
    } finally {
      await pool.end();
    }
  });

  it('keeps the startup options an operator put in the URL', async () => {
    const url = new URL(database.url);
    url.searchParams.set('options', '-c statement_timeout=4321');
    expect(await settingOnConnections(url.toString(), 'statement_timeout', 2)).toEqual(['4321ms', '4321ms']);
    expect(await settingOnConnections(url.toString(), 'jit', 1)).toEqual(['off']);
  });
});
