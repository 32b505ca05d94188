import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgLoginThrottle, PgSql } from '@iam/persistence';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * The failed-login limit lives in the database: two throttles on two pools
 * stand for two instances of the deployment behind a load balancer.
 */
describe('PgLoginThrottle: failed client logins shared by every instance (real PostgreSQL)', () => {
  const settings = { maxFailures: 3, windowMs: 60_000 };
  let database: TestDatabase;
  let pools: Pool[];
  let first: PgLoginThrottle;
  let second: PgLoginThrottle;
  const t0 = new Date('2026-11-29T12:00:00.000Z');
  const at = (seconds: number) => new Date(t0.getTime() + seconds * 1_000);

  beforeAll(async () => {
    database = await createTestDatabase('login_throttle');
    pools = [1, 2].map(() => new Pool({ connectionString: database.url, max: 2 }));
    first = new PgLoginThrottle(new PgSql(pools[0]!), settings);
    second = new PgLoginThrottle(new PgSql(pools[1]!), settings);
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await database.drop();
  });

  const rows = async (clientId?: string) => {
    const { rows: counted } = await pools[0]!.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM client_login_failures WHERE $1::text IS NULL OR client_id = $1',
      [clientId ?? null],
    );
    return counted[0]!.n;
  };

  it('counts failures recorded by any instance against the same limit', async () => {
    await first.recordFailure('app-a', at(0));
    await second.recordFailure('app-a', at(10));
    expect(await first.retryAfterSeconds('app-a', at(11))).toBe(0);
    await first.recordFailure('app-a', at(20));
    // The third failure, whichever instance saw it, reaches the limit on both; the oldest leaves at 60 s.
    expect(await first.retryAfterSeconds('app-a', at(21))).toBe(39);
    expect(await second.retryAfterSeconds('app-a', at(21))).toBe(39);
    expect(await second.retryAfterSeconds('app-a', at(60.5))).toBe(0);
    // Another client id is not affected.
    expect(await second.retryAfterSeconds('app-b', at(21))).toBe(0);
  });

  it("clears a client's failures on a success at any instance", async () => {
    for (const seconds of [0, 1, 2]) await first.recordFailure('app-c', at(seconds));
    expect(await first.retryAfterSeconds('app-c', at(3))).toBeGreaterThan(0);
    await second.recordSuccess('app-c');
    expect(await first.retryAfterSeconds('app-c', at(3))).toBe(0);
    expect(await rows('app-c')).toBe(0);
  });

  it('drops failures that have left the window as new ones are recorded, for every client id', async () => {
    for (let i = 0; i < 20; i += 1) await first.recordFailure(`made-up-${i}`, at(100));
    expect(await rows()).toBeGreaterThanOrEqual(20);
    await second.recordFailure('app-d', at(161));
    // Only the failure just recorded is still within its window.
    expect(await rows()).toBe(1);
  });
});
