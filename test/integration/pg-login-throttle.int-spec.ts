import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgLoginThrottle, PgSql } from '@iam/persistence';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';

/**
 * The failed-login limit lives in the database: two throttles on two pools
 * stand for two instances of the deployment behind a load balancer. An
 * admitted attempt counts as a failure until a success clears it.
 */
describe('PgLoginThrottle: client login attempts shared by every instance (real PostgreSQL)', () => {
  const settings = { maxFailures: 3, windowMs: 60_000 };
  let database: TestDatabase;
  let pools: Pool[];
  let first: PgLoginThrottle;
  let second: PgLoginThrottle;
  const t0 = new Date('2026-11-29T12:00:00.000Z');
  const at = (seconds: number) => new Date(t0.getTime() + seconds * 1_000);

  beforeAll(async () => {
    database = await createTestDatabase('login_throttle');
    pools = [1, 2].map(() => {
      const pool = testPool(database.url, 8);
      return pool;
    });
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

  it('counts attempts admitted by any instance against the same limit', async () => {
    expect(await first.admit('app-a', at(0))).toBe(0);
    expect(await second.admit('app-a', at(10))).toBe(0);
    expect(await first.admit('app-a', at(20))).toBe(0);
    // Three attempts, whichever instance admitted them: the oldest leaves the window at 60 s.
    expect(await second.admit('app-a', at(21))).toBe(39);
    expect(await first.admit('app-a', at(21))).toBe(39);
    // Refused attempts are not counted: at 60.5 s one slot is free again.
    expect(await rows('app-a')).toBe(3);
    expect(await second.admit('app-a', at(60.5))).toBe(0);
    // Another client id is not affected.
    expect(await second.admit('app-b', at(21))).toBe(0);
  });

  it('admits no more than the limit when guesses arrive at once on both instances', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, index) => (index % 2 === 0 ? first : second).admit('app-burst', at(5))),
    );
    expect(outcomes.filter((wait) => wait === 0)).toHaveLength(settings.maxFailures);
    expect(await rows('app-burst')).toBe(settings.maxFailures);
  });

  it("clears a client's attempts on a success at any instance", async () => {
    for (const seconds of [0, 1, 2]) expect(await first.admit('app-c', at(seconds))).toBe(0);
    expect(await first.admit('app-c', at(3))).toBeGreaterThan(0);
    await second.recordSuccess('app-c');
    expect(await rows('app-c')).toBe(0);
    expect(await first.admit('app-c', at(3))).toBe(0);
  });

  it('deletes attempts that have left the window as new ones are admitted, and keeps the rest', async () => {
    await pools[0]!.query('DELETE FROM client_login_failures');
    for (let i = 0; i < 20; i += 1) expect(await first.admit(`made-up-${i}`, at(100))).toBe(0);
    expect(await first.admit('still-in-window', at(150))).toBe(0);
    expect(await second.admit('app-d', at(161))).toBe(0);
    // The 20 made-up ids are past the window at 161 s; the one at 150 s is not.
    expect(await rows()).toBe(2);
    expect(await rows('still-in-window')).toBe(1);
  });
});
