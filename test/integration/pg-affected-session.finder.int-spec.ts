import type { Pool } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMPTY_SCOPE, type ChangeScope, type Session } from '@iam/domain';
import { PgAffectedSessionFinder, PgSql } from '@iam/persistence';
import { uuidNumber } from '../../libs/domain/src/testing';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';
import { explain, indexesRead, scansOf } from '../support/query-plans';

let database: TestDatabase;
let pool: Pool;
let finder: PgAffectedSessionFinder;

const NOW = new Date('2026-04-01T12:00:00.000Z');
const LATER = new Date('2026-04-01T20:00:00.000Z');
const EARLIER = new Date('2026-04-01T06:00:00.000Z');

interface SeedSession {
  n: number;
  userId: string;
  clientId: string;
  businessId?: string | null;
  status?: 'ACTIVE' | 'REVOKED';
  expiresAt?: Date;
}

async function seedClients(clients: Record<string, string | null>): Promise<void> {
  for (const [id, serviceId] of Object.entries(clients)) {
    await pool.query('INSERT INTO clients (id, service_id) VALUES ($1, $2)', [id, serviceId]);
  }
}

async function seedSessions(sessions: readonly SeedSession[]): Promise<void> {
  await pool.query('INSERT INTO users (id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING', [
    sessions.map((s) => s.userId),
  ]);
  await pool.query('INSERT INTO clients (id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING', [
    sessions.map((s) => s.clientId),
  ]);
  await pool.query(
    `INSERT INTO sessions (id, user_id, client_id, business_id, auth_level, remember_me, status, revoked_reason,
                           revoked_at, created_at, expires_at, claims_version, authorities, scope, token_id,
                           token_expires_at)
     SELECT x.id::uuid, x.user_id, x.client_id, x.business_id, 'AUTH-BASIC', false, x.status::session_status,
            CASE WHEN x.status = 'REVOKED' THEN 'operator-request' END,
            CASE WHEN x.status = 'REVOKED' THEN $7::timestamptz END,
            $7, x.expires_at, 1, '{ROLE_USER}', '{READ}', 'tok-' || x.id, $7
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
       AS x(id, user_id, client_id, business_id, status, expires_at)`,
    [
      sessions.map((s) => uuidNumber(s.n)),
      sessions.map((s) => s.userId),
      sessions.map((s) => s.clientId),
      sessions.map((s) => s.businessId ?? null),
      sessions.map((s) => s.status ?? 'ACTIVE'),
      sessions.map((s) => s.expiresAt ?? LATER),
      NOW,
    ],
  );
}

const scope = (partial: Partial<ChangeScope>): ChangeScope => ({ ...EMPTY_SCOPE, ...partial });

/** The numbers of the sessions found (ids are uuidNumber(n)). */
async function found(partial: Partial<ChangeScope>, after: string | null = null, limit = 1_000) {
  const sessions = await finder.findAffected(scope(partial), after, limit, NOW);
  return sessions.map((session) => Number.parseInt(session.id.slice(-12), 16));
}

beforeAll(async () => {
  database = await createTestDatabase('affected_sessions');
  pool = testPool(database.url, 4);
  finder = new PgAffectedSessionFinder(new PgSql(pool));
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE users, clients, sessions, businesses, groups CASCADE');
});

describe('PgAffectedSessionFinder: scope kinds', () => {
  beforeEach(async () => {
    await seedClients({
      'app-a': 'svc-1',
      'app-b': 'svc-1',
      'app-c': 'svc-2',
      // No service: the client is its own service.
      'app-solo': null,
      // A client whose id equals another client's service... and has its own service.
      'svc-2': 'svc-9',
    });
    await seedSessions([
      { n: 1, userId: 'u1', clientId: 'app-a' },
      { n: 2, userId: 'u1', clientId: 'app-b', businessId: 'b1' },
      { n: 3, userId: 'u2', clientId: 'app-a', businessId: 'b1' },
      { n: 4, userId: 'u2', clientId: 'app-c', businessId: 'b2' },
      { n: 5, userId: 'u3', clientId: 'app-solo' },
      { n: 6, userId: 'u3', clientId: 'svc-2', businessId: 'b2' },
      { n: 7, userId: 'u1', clientId: 'app-c', businessId: 'b2' },
      { n: 8, userId: 'u4', clientId: 'app-solo', businessId: 'b1' },
      // Not live: never affected.
      { n: 9, userId: 'u1', clientId: 'app-a', businessId: 'b1', status: 'REVOKED' },
      { n: 10, userId: 'u1', clientId: 'app-a', businessId: 'b1', expiresAt: EARLIER },
      { n: 11, userId: 'u1', clientId: 'app-solo', businessId: 'b1', expiresAt: NOW },
    ]);
  });

  it('finds nothing for an empty scope', async () => {
    expect(await found({})).toEqual([]);
  });

  it('finds the live sessions of users', async () => {
    expect(await found({ userIds: ['u1'] })).toEqual([1, 2, 7]);
    expect(await found({ userIds: ['u2', 'u4', 'nobody'] })).toEqual([3, 4, 8]);
  });

  it('finds the live sessions acting for businesses', async () => {
    expect(await found({ businessIds: ['b1'] })).toEqual([2, 3, 8]);
    expect(await found({ businessIds: ['b2'] })).toEqual([4, 6, 7]);
  });

  it('finds the live sessions of clients', async () => {
    expect(await found({ clientIds: ['app-a'] })).toEqual([1, 3]);
    expect(await found({ clientIds: ['app-solo', 'svc-2'] })).toEqual([5, 6, 8]);
  });

  it("finds the live sessions of a service's clients, through clients.service_id", async () => {
    expect(await found({ serviceIds: ['svc-1'] })).toEqual([1, 2, 3]);
    // svc-2's member app-c, not the client named svc-2 (which belongs to svc-9).
    expect(await found({ serviceIds: ['svc-2'] })).toEqual([4, 7]);
    expect(await found({ serviceIds: ['svc-9'] })).toEqual([6]);
  });

  it('finds the sessions of a client without a service by its own id as service id', async () => {
    expect(await found({ serviceIds: ['app-solo'] })).toEqual([5, 8]);
    // A client that has a service is not its own service.
    expect(await found({ serviceIds: ['app-a'] })).toEqual([]);
  });

  it('finds the sessions of exact (business, user) membership pairs', async () => {
    expect(await found({ memberships: [{ businessId: 'b1', userId: 'u1' }] })).toEqual([2]);
    expect(
      await found({
        memberships: [
          { businessId: 'b2', userId: 'u1' },
          { businessId: 'b1', userId: 'u2' },
          { businessId: 'b2', userId: 'u4' },
        ],
      }),
    ).toEqual([3, 7]);
  });

  it('finds the sessions of the present members of groups and of the groups depending on them', async () => {
    await pool.query(`INSERT INTO groups (id) VALUES ('g1'), ('g2'), ('g3'), ('cycle'), ('unrelated')`);
    const member = (group: string, type: string, id: string, present = true) =>
      pool.query(
        `INSERT INTO group_members (group_id, member_type, member_id, present, changed_at, event_id)
         VALUES ($1, $2::group_member_type, $3, $4, $5, 'seed')`,
        [group, type, id, present, NOW],
      );
    const dependency = (group: string, dependsOn: string, present = true) =>
      pool.query(
        `INSERT INTO group_dependencies (group_id, depends_on_group_id, present, changed_at, event_id)
         VALUES ($1, $2, $3, $4, 'seed')`,
        [group, dependsOn, present, NOW],
      );
    await member('g1', 'USER', 'u3');
    await member('g2', 'BUSINESS', 'b1');
    await member('g3', 'SERVICE', 'svc-2');
    await member('g1', 'USER', 'u4', false);
    await member('unrelated', 'USER', 'u1');
    await dependency('g2', 'g1');
    await dependency('g3', 'g2');
    // A cycle through g1 ends; a removed link leads nowhere.
    await dependency('cycle', 'g3');
    await dependency('g1', 'cycle');
    await dependency('unrelated', 'g1', false);

    // g1: u3's sessions, b1's (through g2) and svc-2's clients' (through g3); not u4 (left), not u1.
    expect(await found({ groupIds: ['g1'] })).toEqual([2, 3, 4, 5, 6, 7, 8]);
    // g3 reaches g1 and g2 only through the cycle, so the same sessions.
    expect(await found({ groupIds: ['g3'] })).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(await found({ groupIds: ['unrelated'] })).toEqual([1, 2, 7]);
    expect(await found({ groupIds: ['nobody-belongs'] })).toEqual([]);
    // Together with other parts of the scope, and paged.
    expect(await found({ groupIds: ['unrelated'], clientIds: ['app-solo'] })).toEqual([1, 2, 5, 7, 8]);
    expect(await found({ groupIds: ['g1'] }, uuidNumber(4), 2)).toEqual([5, 6]);
  });

  it('returns each session once when several parts of the scope match it', async () => {
    expect(
      await found({
        userIds: ['u1'],
        businessIds: ['b1'],
        clientIds: ['app-a'],
        serviceIds: ['svc-1'],
        memberships: [{ businessId: 'b1', userId: 'u1' }],
      }),
    ).toEqual([1, 2, 3, 7, 8]);
  });

  it('returns complete sessions', async () => {
    const [session] = await finder.findAffected(scope({ userIds: ['u2'] }), null, 1, NOW);
    expect(session).toEqual<Session>({
      id: uuidNumber(3),
      userId: 'u2',
      clientId: 'app-a',
      businessId: 'b1',
      authLevel: 'AUTH-BASIC',
      rememberMe: false,
      status: 'ACTIVE',
      revokedReason: null,
      revokedAt: null,
      createdAt: NOW,
      expiresAt: LATER,
      claimsVersion: 1,
      revision: 0,
      authorities: ['ROLE_USER'],
      scope: ['READ'],
      tokenId: `tok-${uuidNumber(3)}`,
      tokenExpiresAt: NOW,
    });
  });

  it('excludes revoked and expired sessions whichever part of the scope names them', async () => {
    const everything = {
      userIds: ['u1'],
      businessIds: ['b1'],
      clientIds: ['app-a', 'app-solo'],
      serviceIds: ['svc-1', 'app-solo'],
      memberships: [{ businessId: 'b1', userId: 'u1' }],
    };
    const all = await found(everything);
    expect(all).toEqual([1, 2, 3, 5, 7, 8]);
    // At an earlier instant the expired ones are still live (the revoked one never is).
    const earlier = await finder.findAffected(scope(everything), null, 100, new Date(EARLIER.getTime() - 1));
    expect(earlier.map((s) => Number.parseInt(s.id.slice(-12), 16))).toEqual([1, 2, 3, 5, 7, 8, 10, 11]);
  });
});

describe('PgAffectedSessionFinder: paging', () => {
  it('pages through 1,200 sessions in id order with afterSessionId and limit', async () => {
    const total = 1_200;
    // Numbers scattered so that insertion order, user order and id order differ.
    const numbers = Array.from({ length: total + 60 }, (_, i) => ((i * 7_919) % 5_003) + 1);
    const sessions: SeedSession[] = numbers.map((n, i) => ({
      n,
      userId: `pu${i % 3}`,
      clientId: `pc${i % 5}`,
      businessId: i % 2 === 0 ? 'pb' : null,
      // 30 revoked and 30 expired among them.
      ...(i >= total && i < total + 30 ? { status: 'REVOKED' as const } : {}),
      ...(i >= total + 30 ? { expiresAt: EARLIER } : {}),
    }));
    await seedSessions(sessions);
    const live = sessions
      .slice(0, total)
      .map((s) => uuidNumber(s.n))
      .sort();
    expect(new Set(live).size).toBe(total);

    const everyone = { userIds: ['pu0', 'pu1', 'pu2'] };
    const pages: string[][] = [];
    let after: string | null = null;
    for (;;) {
      const page: Session[] = await finder.findAffected(scope(everyone), after, 500, NOW);
      if (page.length === 0) break;
      pages.push(page.map((s) => s.id));
      after = page[page.length - 1]!.id;
    }

    expect(pages.map((page) => page.length)).toEqual([500, 500, 200]);
    expect(pages.flat()).toEqual(live);

    // A page starts strictly after the given id, whether or not that id is in scope.
    const fromMiddle = await finder.findAffected(scope(everyone), live[699]!, 3, NOW);
    expect(fromMiddle.map((s) => s.id)).toEqual(live.slice(700, 703));
    const revokedId = uuidNumber(sessions[total]!.n);
    const afterRevoked = await finder.findAffected(scope(everyone), revokedId, 2, NOW);
    expect(afterRevoked.map((s) => s.id)).toEqual(live.filter((id) => id > revokedId).slice(0, 2));
    // Past the last one: nothing.
    expect(await finder.findAffected(scope(everyone), live[total - 1]!, 10, NOW)).toEqual([]);

    // The same paging through a business scope (every other session).
    const business = sessions
      .slice(0, total)
      .filter((s) => s.businessId === 'pb')
      .map((s) => uuidNumber(s.n))
      .sort();
    const collected: string[] = [];
    after = null;
    for (;;) {
      const page: Session[] = await finder.findAffected(scope({ businessIds: ['pb'] }), after, 250, NOW);
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(250);
      collected.push(...page.map((s) => s.id));
      after = page[page.length - 1]!.id;
    }
    expect(collected).toEqual(business);
    expect(collected).toHaveLength(600);
  });
});

describe('PgAffectedSessionFinder: the plan on a table without statistics', () => {
  /** The statement and values the finder sends for a scope, captured instead of run. */
  async function statementFor(
    scopeOf: ChangeScope,
    after: string | null,
  ): Promise<{ text: string; values: readonly unknown[] }> {
    const sent: Array<{ text: string; values: readonly unknown[] }> = [];
    const capturing = new PgAffectedSessionFinder({
      query: async (_name, text, values = []) => {
        sent.push({ text, values });
        return [];
      },
      transaction: () => Promise.reject(new Error('the finder reads outside transactions')),
    });
    await capturing.findAffected(scopeOf, after, 500, NOW);
    return sent[0]!;
  }

  // On these machines autovacuum is off and nothing analyzes the table. Written as
  // `s.id IN (lookups)`, the planner started from every live session (the expires_at index) and
  // tested each against the lookups.
  it('collects the ids in scope first and reads their sessions by key', async () => {
    await seedSessions(
      Array.from({ length: 2_000 }, (_, i) => ({
        n: i + 1,
        userId: `nu${i}`,
        clientId: 'nc',
        businessId: `nb${i % 20}`,
      })),
    );
    const users = await statementFor(scope({ userIds: ['nu7', 'nu99', 'nu500'] }), uuidNumber(50));
    const memberships = await statementFor(
      scope({ memberships: [{ businessId: 'nb7', userId: 'nu7' }] }),
      null,
    );

    const usersPlan = await explain(pool, users.text, users.values);
    expect(indexesRead(usersPlan).sort()).toEqual(['sessions_pkey', 'sessions_user_id_client_id_idx']);
    // A scope that can hold most sessions keeps the semi-join: an array of its ids would be searched
    // id by id (and linearly wherever the bitmap over it goes lossy).
    const business = await statementFor(scope({ businessIds: ['nb7'] }), null);
    expect(business.text).not.toContain('ARRAY(');
    expect(users.text).toContain('ARRAY(');
    const membershipsPlan = await explain(pool, memberships.text, memberships.values);
    expect(indexesRead(membershipsPlan)).not.toContain('sessions_expires_at_idx');
    expect(scansOf(membershipsPlan, 'sessions')).not.toContain('Seq Scan');
  });
});
