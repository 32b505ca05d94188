import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterOriginKey, PgDeadLetterRedrives, PgSql } from '@iam/persistence';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** What `dlq redrive` records of its runs, on real PostgreSQL. */

let database: TestDatabase;
let pool: Pool;
let redrives: PgDeadLetterRedrives;
const origin = (offset: string) => ({ topic: 'iam.role-changes.v1', partition: 2, offset });

beforeAll(async () => {
  database = await createTestDatabase('dlq_redrives');
  pool = new Pool({ connectionString: database.url, max: 3 });
  redrives = new PgDeadLetterRedrives(new PgSql(pool));
  await pool.query(
    `INSERT INTO dead_letters (topic, partition, "offset", reason) VALUES ('iam.role-changes.v1', 2, 10, 'not-json')`,
  );
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

describe('PgDeadLetterRedrives (real PostgreSQL)', () => {
  it('knows which dead letters were redriven, by origin, and records one whose row is gone', async () => {
    const at = new Date('2026-11-30T12:00:00.000Z');
    expect(await redrives.redrivenAt([origin('10'), origin('11')])).toEqual(new Map());

    await redrives.recordRedrive(origin('10'), { reason: 'not-json', eventId: undefined }, at);
    await redrives.recordRedrive(origin('11'), { reason: 'unknown-type', eventId: 'evt-11' }, at);

    expect(await redrives.redrivenAt([origin('10'), origin('11'), origin('12')])).toEqual(
      new Map([
        [deadLetterOriginKey(origin('10')), at],
        [deadLetterOriginKey(origin('11')), at],
      ]),
    );
  });

  it('lets one redrive of a dead-letter topic run at a time', async () => {
    const inner: Array<number | undefined> = [];
    const outer = await PgDeadLetterRedrives.exclusively(pool, 'iam.role-changes.v1.dlq', async () => {
      inner.push(await PgDeadLetterRedrives.exclusively(pool, 'iam.role-changes.v1.dlq', async () => 1));
      inner.push(await PgDeadLetterRedrives.exclusively(pool, 'iam.business-changes.v1.dlq', async () => 2));
      return 3;
    });
    expect([outer, ...inner]).toEqual([3, undefined, 2]);
    // Released at the end.
    expect(await PgDeadLetterRedrives.exclusively(pool, 'iam.role-changes.v1.dlq', async () => 4)).toBe(4);
  });
});
