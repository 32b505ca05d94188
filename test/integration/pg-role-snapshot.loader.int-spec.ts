import type { Pool } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  EventType,
  resolveAuthorities,
  type Change,
  type ChangeEvent,
  type RoleSnapshot,
  type RoleSnapshotData,
} from '@iam/domain';
import {
  PgChangeStore,
  PgRoleSnapshotLoader,
  PgSessionWithRolesReader,
  PgSql,
  PLAN_EACH_TIME_FROM,
} from '@iam/persistence';
import { countingSql } from '../support/counting-sql';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';

let database: TestDatabase;
let pool: Pool;
let loader: PgRoleSnapshotLoader;

const CHANGED_AT = '2026-01-01T00:00:00Z';

/** Role facts, seeded with SQL: `{ ROLE: true }` is a present fact, `{ ROLE: false }` a revoked one. */
type Facts = Record<string, boolean>;

async function user(id: string, roles: Facts = {}, locked = false): Promise<void> {
  await pool.query('INSERT INTO users (id, locked) VALUES ($1, $2)', [id, locked]);
  for (const [role, present] of Object.entries(roles)) {
    await pool.query(
      `INSERT INTO user_roles (user_id, role, present, changed_at, event_id) VALUES ($1, $2, $3, $4, 'seed')`,
      [id, role, present, CHANGED_AT],
    );
  }
}

async function client(
  id: string,
  options: { serviceId?: string | null; scopes?: string[] | null; roles?: Facts } = {},
): Promise<void> {
  await pool.query('INSERT INTO clients (id, service_id, scopes) VALUES ($1, $2, $3)', [
    id,
    options.serviceId ?? null,
    options.scopes === undefined ? [] : options.scopes,
  ]);
  for (const [role, present] of Object.entries(options.roles ?? {})) {
    await pool.query(
      `INSERT INTO client_roles (client_id, role, present, changed_at, event_id) VALUES ($1, $2, $3, $4, 'seed')`,
      [id, role, present, CHANGED_AT],
    );
  }
}

async function business(id: string, roles: Facts = {}, active = true): Promise<void> {
  await pool.query('INSERT INTO businesses (id, active) VALUES ($1, $2)', [id, active]);
  for (const [role, present] of Object.entries(roles)) {
    await pool.query(
      `INSERT INTO business_roles (business_id, role, present, changed_at, event_id) VALUES ($1, $2, $3, $4, 'seed')`,
      [id, role, present, CHANGED_AT],
    );
  }
}

async function membership(businessId: string, userId: string, present: boolean, roles: Facts = {}) {
  await pool.query(
    `INSERT INTO business_memberships (business_id, user_id, present, changed_at, event_id)
     VALUES ($1, $2, $3, $4, 'seed')`,
    [businessId, userId, present, CHANGED_AT],
  );
  for (const [role, present] of Object.entries(roles)) {
    await pool.query(
      `INSERT INTO business_member_roles (business_id, user_id, role, present, changed_at, event_id)
       VALUES ($1, $2, $3, $4, $5, 'seed')`,
      [businessId, userId, role, present, CHANGED_AT],
    );
  }
}

interface GroupSeed {
  roles?: Facts;
  dependsOn?: Facts;
  members?: Array<[type: 'USER' | 'BUSINESS' | 'SERVICE', id: string, present: boolean]>;
}

/** Seeds groups (all rows first, so dependencies may point forwards). */
async function groups(seeds: Record<string, GroupSeed>): Promise<void> {
  const ids = Object.keys(seeds);
  await pool.query('INSERT INTO groups (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [ids]);
  const roles: string[][] = [[], [], []];
  const deps: string[][] = [[], [], []];
  const members: string[][] = [[], [], [], []];
  for (const [id, seed] of Object.entries(seeds)) {
    for (const [role, present] of Object.entries(seed.roles ?? {})) {
      roles[0]!.push(id);
      roles[1]!.push(role);
      roles[2]!.push(String(present));
    }
    for (const [other, present] of Object.entries(seed.dependsOn ?? {})) {
      deps[0]!.push(id);
      deps[1]!.push(other);
      deps[2]!.push(String(present));
    }
    for (const [type, memberId, present] of seed.members ?? []) {
      members[0]!.push(id);
      members[1]!.push(type);
      members[2]!.push(memberId);
      members[3]!.push(String(present));
    }
  }
  await pool.query(
    `INSERT INTO group_roles (group_id, role, present, changed_at, event_id)
     SELECT g, r, p::boolean, $4, 'seed' FROM unnest($1::text[], $2::text[], $3::text[]) AS x(g, r, p)`,
    [...roles, CHANGED_AT],
  );
  await pool.query(
    `INSERT INTO group_dependencies (group_id, depends_on_group_id, present, changed_at, event_id)
     SELECT g, d, p::boolean, $4, 'seed' FROM unnest($1::text[], $2::text[], $3::text[]) AS x(g, d, p)`,
    [...deps, CHANGED_AT],
  );
  await pool.query(
    `INSERT INTO group_members (group_id, member_type, member_id, present, changed_at, event_id)
     SELECT g, t::group_member_type, m, p::boolean, $5, 'seed'
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(g, t, m, p)`,
    [...members, CHANGED_AT],
  );
}

const sorted = (values: readonly string[]) => [...values].sort();
const sortedEntries = <T>(map: ReadonlyMap<string, T>, value: (entry: T) => unknown) =>
  Object.fromEntries(
    [...map].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, entry]) => [key, value(entry)]),
  );

/**
 * The whole snapshot as plain sorted data (keys joined with '/'), for exact
 * comparisons: what was loaded and, as important, nothing else.
 */
function contents(snapshot: RoleSnapshot) {
  const data = (snapshot as unknown as { data: RoleSnapshotData }).data;
  const readable = (key: string) => key.replace('\u0000', '/');
  const rekey = <T>(map: ReadonlyMap<string, T>) => new Map([...map].map(([k, v]) => [readable(k), v]));
  return {
    users: sortedEntries(data.users, (u) => ({ locked: u.locked, roles: sorted(u.roles) })),
    clients: sortedEntries(data.clients, (c) => ({
      roles: sorted(c.roles),
      serviceId: c.serviceId,
      scopes: sorted(c.scopes),
    })),
    businesses: sortedEntries(data.businesses, (b) => ({ active: b.active, roles: sorted(b.roles) })),
    memberships: sortedEntries(rekey(data.memberships), (roles) => sorted(roles)),
    groupsOfMember: sortedEntries(rekey(data.groupsOfMember), (ids) => sorted(ids)),
    groups: sortedEntries(data.groups, (g) => ({ roles: sorted(g.roles), dependsOn: sorted(g.dependsOn) })),
  };
}

beforeAll(async () => {
  database = await createTestDatabase('role_snapshot');
  pool = testPool(database.url, 4);
  loader = new PgRoleSnapshotLoader(new PgSql(pool));
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE users, businesses, clients, groups, processed_events CASCADE');
});

describe('PgRoleSnapshotLoader (real PostgreSQL)', () => {
  /** Two principals and facts around them, with revoked and unrelated facts that must stay out. */
  async function seedWorld(): Promise<void> {
    await user('u1', { USER: true, PERSON: true, FORMER: false });
    await user('u2', { ADMIN: true }, true);
    await user('u3', { OUTSIDER: true });
    await client('c1', {
      serviceId: 's1',
      scopes: ['WRITE', 'READ'],
      roles: { 'CLI-1STPARTY': true, 'CLI-OLD': false },
    });
    await client('c2', { scopes: null });
    await client('c3', { serviceId: 's3', roles: { 'CLI-UNUSED': true } });
    await business('b1', { BIZ: true, 'BIZ-OLD': false });
    await business('b2', { 'BIZ-TWO': true }, false);
    await business('b3', { 'BIZ-THREE': true });
    await membership('b1', 'u1', true, { BUSINESSOWNER: true, BUSINESSUSER: false });
    await membership('b2', 'u1', false, { BUSINESSADMIN: true });
    await membership('b3', 'u1', true, { BUSINESSUSER: true });
    await membership('b1', 'u2', true, { BUSINESSUSER: true });
    await groups({
      gU: { roles: { GU: true, 'GU-OLD': false }, dependsOn: { gA: true }, members: [['USER', 'u1', true]] },
      gA: { roles: { GA: true }, dependsOn: { gB: true, gX: false } },
      gB: { roles: { GB: true } },
      gX: { roles: { GX: true } },
      gGone: { roles: { GONE: true }, members: [['USER', 'u1', false]] },
      gU2: { roles: { GU2: true }, members: [['USER', 'u2', true]] },
      gU3: { roles: { GU3: true }, members: [['USER', 'u3', true]] },
      gS: { roles: { GS: true }, members: [['SERVICE', 's1', true]] },
      // c1 belongs to service s1: a SERVICE membership under the client's own id is not its.
      gC1: { roles: { GC1: true }, members: [['SERVICE', 'c1', true]] },
      // c2 has no service: it is its own service.
      gC2: { roles: { GC2: true }, members: [['SERVICE', 'c2', true]] },
      gBiz: { roles: { GBIZ: true }, dependsOn: { cy1: true }, members: [['BUSINESS', 'b1', true]] },
      cy1: { roles: { CY1: true }, dependsOn: { cy2: true } },
      cy2: { roles: { CY2: true }, dependsOn: { cy3: true } },
      cy3: { roles: { CY3: true }, dependsOn: { cy1: true } },
      gB2: { roles: { GB2: true }, members: [['BUSINESS', 'b2', true]] },
      gB3: { roles: { GB3: true }, members: [['BUSINESS', 'b3', true]] },
      gS3: { roles: { GS3: true }, members: [['SERVICE', 's3', true]] },
    });
  }

  it('loads exactly the present facts of the requested principals', async () => {
    await seedWorld();

    const snapshot = await loader.load([
      { userId: 'u1', clientId: 'c1', businessId: 'b1' },
      { userId: 'u2', clientId: 'c2', businessId: null },
      { userId: 'nobody', clientId: 'no-client', businessId: 'no-business' },
    ]);

    expect(contents(snapshot)).toEqual({
      users: {
        u1: { locked: false, roles: ['PERSON', 'USER'] },
        u2: { locked: true, roles: ['ADMIN'] },
      },
      clients: {
        c1: { roles: ['CLI-1STPARTY'], serviceId: 's1', scopes: ['READ', 'WRITE'] },
        c2: { roles: [], serviceId: 'c2', scopes: [] },
      },
      businesses: { b1: { active: true, roles: ['BIZ'] } },
      // Only the requested (business, user) pairs: b1/u2 and b3/u1 exist but nobody acts for them.
      memberships: { 'b1/u1': ['BUSINESSOWNER'] },
      groupsOfMember: {
        'BUSINESS/b1': ['gBiz'],
        'SERVICE/c2': ['gC2'],
        'SERVICE/s1': ['gS'],
        'USER/u1': ['gU'],
        'USER/u2': ['gU2'],
      },
      groups: {
        cy1: { roles: ['CY1'], dependsOn: ['cy2'] },
        cy2: { roles: ['CY2'], dependsOn: ['cy3'] },
        cy3: { roles: ['CY3'], dependsOn: ['cy1'] },
        gA: { roles: ['GA'], dependsOn: ['gB'] },
        gB: { roles: ['GB'], dependsOn: [] },
        gBiz: { roles: ['GBIZ'], dependsOn: ['cy1'] },
        gC2: { roles: ['GC2'], dependsOn: [] },
        gS: { roles: ['GS'], dependsOn: [] },
        gU: { roles: ['GU'], dependsOn: ['gA'] },
        gU2: { roles: ['GU2'], dependsOn: [] },
      },
    });
    expect(snapshot.canActFor('b1', 'u1')).toBe(true);
    expect(snapshot.user('u2')?.locked).toBe(true);
  });

  it('leaves memberships out when no subject acts for a business, and loads a revoked membership as none', async () => {
    await seedWorld();

    const alone = await loader.load([{ userId: 'u1', clientId: 'c1', businessId: null }]);
    expect(contents(alone).memberships).toEqual({});
    expect(contents(alone).businesses).toEqual({});
    expect(alone.groupsOf('BUSINESS', 'b1')).toEqual([]);

    const removed = await loader.load([{ userId: 'u1', clientId: 'c1', businessId: 'b2' }]);
    expect(contents(removed).memberships).toEqual({});
    expect(contents(removed).businesses).toEqual({ b2: { active: false, roles: ['BIZ-TWO'] } });
    expect(contents(removed).groupsOfMember['BUSINESS/b2']).toEqual(['gB2']);
    expect(removed.canActFor('b2', 'u1')).toBe(false);
  });

  it('loads the same facts for one subject (scalar statement) as for it in a batch (array statement)', async () => {
    await seedWorld();
    const subjects = [
      { userId: 'u1', clientId: 'c1', businessId: 'b1' },
      { userId: 'u1', clientId: 'c1', businessId: null },
      { userId: 'u1', clientId: 'c1', businessId: 'b2' },
      { userId: 'u2', clientId: 'c2', businessId: 'b1' },
      { userId: 'nobody', clientId: 'no-client', businessId: 'no-business' },
    ];
    for (const subject of subjects) {
      // A batch of the subject twice takes the array statement and names the same principals.
      expect(contents(await loader.load([subject]))).toEqual(contents(await loader.load([subject, subject])));
    }
  });

  it('plans a large batch for its own size each time (unnamed) and prepares a small one once (named), to the same facts', async () => {
    await seedWorld();
    const counted = countingSql(new PgSql(pool));
    const counting = new PgRoleSnapshotLoader(counted.sql);
    const known = [
      { userId: 'u1', clientId: 'c1', businessId: 'b1' },
      { userId: 'u2', clientId: 'c2', businessId: 'b1' },
    ];
    const padded = (size: number) => [
      ...known,
      ...Array.from({ length: size - known.length }, (_, i) => ({
        userId: `absent${i}`,
        clientId: 'c1',
        businessId: null,
      })),
    ];

    const small = contents(await counting.load(padded(PLAN_EACH_TIME_FROM - 1)));
    const large = contents(await counting.load(padded(PLAN_EACH_TIME_FROM)));
    const page = contents(await counting.load(padded(500)));

    expect(counted.statements).toEqual(['role-snapshot', '(unnamed)', '(unnamed)']);
    expect(large).toEqual(small);
    expect(page).toEqual(small);
    expect(Object.keys(small.users).sort()).toEqual(['u1', 'u2']);
  });

  it('gives resolveAuthorities what it needs for a user acting for a business', async () => {
    await seedWorld();
    const principal = { userId: 'u1', clientId: 'c1', businessId: 'b1', authLevel: 'AUTH-MFA' } as const;

    const snapshot = await loader.load([principal]);

    expect(resolveAuthorities(principal, snapshot)).toEqual([
      'ROLE_AUTH-MFA',
      'ROLE_BIZ',
      'ROLE_BUSINESS',
      'ROLE_BUSINESSOWNER',
      'ROLE_CLI-1STPARTY',
      'ROLE_CY1',
      'ROLE_CY2',
      'ROLE_CY3',
      'ROLE_GA',
      'ROLE_GB',
      'ROLE_GBIZ',
      'ROLE_GS',
      'ROLE_GU',
      'ROLE_PERSON',
      'ROLE_USER',
    ]);
    const alone = { userId: 'u2', clientId: 'c2', businessId: null, authLevel: 'AUTH-BASIC' } as const;
    expect(resolveAuthorities(alone, await loader.load([alone]))).toEqual([
      'ROLE_ADMIN',
      'ROLE_AUTH-BASIC',
      'ROLE_GC2',
      'ROLE_GU2',
    ]);
  });

  it('follows a 300-deep dependency chain to its end', async () => {
    const depth = 300;
    const chain: Record<string, GroupSeed> = {};
    for (let i = 0; i < depth; i += 1) {
      chain[`chain-${i}`] = {
        roles: { [`R${i}`]: true },
        dependsOn: i + 1 < depth ? { [`chain-${i + 1}`]: true } : {},
      };
    }
    chain['chain-0']!.members = [['USER', 'deep', true]];
    // A group past the end, linked by a revoked dependency only.
    chain['chain-299']!.dependsOn = { beyond: false };
    chain.beyond = { roles: { BEYOND: true } };
    await user('deep');
    await client('cd');
    await groups(chain);

    const snapshot = await loader.load([{ userId: 'deep', clientId: 'cd', businessId: null }]);

    const loaded = contents(snapshot).groups;
    expect(Object.keys(loaded)).toHaveLength(depth);
    expect(loaded['chain-0']).toEqual({ roles: ['R0'], dependsOn: ['chain-1'] });
    expect(loaded['chain-150']).toEqual({ roles: ['R150'], dependsOn: ['chain-151'] });
    expect(loaded['chain-299']).toEqual({ roles: ['R299'], dependsOn: [] });
    expect(loaded.beyond).toBeUndefined();
    const authorities = resolveAuthorities(
      { userId: 'deep', clientId: 'cd', businessId: null, authLevel: 'AUTH-BASIC' },
      snapshot,
    );
    expect(authorities).toHaveLength(depth + 1);
    expect(authorities).toEqual(
      ['ROLE_AUTH-BASIC', ...Array.from({ length: depth }, (_, i) => `ROLE_R${i}`)].sort(),
    );
  });

  it('loads a batch of 200 principals in one call, each with its own facts', async () => {
    const count = 200;
    await pool.query(
      `INSERT INTO users (id, locked) SELECT 'bu' || i, i % 7 = 0 FROM generate_series(0, $1 - 1) i`,
      [count],
    );
    await pool.query(
      `INSERT INTO user_roles (user_id, role, present, changed_at, event_id)
       SELECT 'bu' || i, 'UR' || i, i % 5 <> 0, $2, 'seed' FROM generate_series(0, $1 - 1) i`,
      [count, CHANGED_AT],
    );
    await pool.query(
      `INSERT INTO clients (id, service_id, scopes)
       SELECT 'bc' || i, CASE WHEN i % 2 = 0 THEN 'svc' || (i % 4) END, ARRAY['S' || i]
       FROM generate_series(0, $1 - 1) i`,
      [count],
    );
    await pool.query(
      `INSERT INTO client_roles (client_id, role, present, changed_at, event_id)
       SELECT 'bc' || i, 'CR' || i, true, $2, 'seed' FROM generate_series(0, $1 - 1) i`,
      [count, CHANGED_AT],
    );
    await pool.query(`INSERT INTO businesses (id) SELECT 'bb' || i FROM generate_series(0, 9) i`);
    // Every third user acts for business bb(i % 10) and is a member there.
    await pool.query(
      `INSERT INTO business_memberships (business_id, user_id, present, changed_at, event_id)
       SELECT 'bb' || (i % 10), 'bu' || i, true, $2, 'seed' FROM generate_series(0, $1 - 1) i WHERE i % 3 = 0`,
      [count, CHANGED_AT],
    );
    await pool.query(
      `INSERT INTO business_member_roles (business_id, user_id, role, present, changed_at, event_id)
       SELECT 'bb' || (i % 10), 'bu' || i, 'MR' || i, true, $2, 'seed' FROM generate_series(0, $1 - 1) i WHERE i % 3 = 0`,
      [count, CHANGED_AT],
    );
    await groups({
      svcGroup0: { roles: { SVC0: true }, members: [['SERVICE', 'svc0', true]] },
      svcGroup2: { roles: { SVC2: true }, members: [['SERVICE', 'svc2', true]] },
      ownService1: { roles: { OWN1: true }, members: [['SERVICE', 'bc1', true]] },
    });

    const subjects = Array.from({ length: count }, (_, i) => ({
      userId: `bu${i}`,
      clientId: `bc${i}`,
      businessId: i % 3 === 0 ? `bb${i % 10}` : null,
    }));
    const snapshot = await loader.load(subjects);
    const loaded = contents(snapshot);

    expect(Object.keys(loaded.users)).toHaveLength(count);
    expect(Object.keys(loaded.clients)).toHaveLength(count);
    expect(Object.keys(loaded.memberships)).toHaveLength(Math.ceil(count / 3));
    expect(Object.keys(loaded.businesses).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `bb${i}`).sort(),
    );
    expect(loaded.groups).toEqual({
      ownService1: { roles: ['OWN1'], dependsOn: [] },
      svcGroup0: { roles: ['SVC0'], dependsOn: [] },
      svcGroup2: { roles: ['SVC2'], dependsOn: [] },
    });
    for (const [i, subject] of subjects.entries()) {
      expect(snapshot.user(subject.userId)).toEqual({
        locked: i % 7 === 0,
        roles: i % 5 === 0 ? [] : [`UR${i}`],
      });
      expect(snapshot.client(subject.clientId)).toEqual({
        roles: [`CR${i}`],
        serviceId: i % 2 === 0 ? `svc${i % 4}` : `bc${i}`,
        scopes: [`S${i}`],
      });
      if (subject.businessId !== null) {
        expect(snapshot.membershipRoles(subject.businessId, subject.userId)).toEqual([`MR${i}`]);
      }
      const expected = [
        'ROLE_AUTH-BASIC',
        `ROLE_CR${i}`,
        ...(i % 5 === 0 ? [] : [`ROLE_UR${i}`]),
        ...(subject.businessId !== null ? ['ROLE_BUSINESS', `ROLE_MR${i}`] : []),
        ...(i % 4 === 0 ? ['ROLE_SVC0'] : i % 4 === 2 ? ['ROLE_SVC2'] : []),
        ...(i === 1 ? ['ROLE_OWN1'] : []),
      ].sort();
      expect(resolveAuthorities({ ...subject, authLevel: 'AUTH-BASIC' }, snapshot)).toEqual(expected);
    }
  });

  it('loads nothing for no subjects', async () => {
    await seedWorld();
    expect(contents(await loader.load([]))).toEqual({
      users: {},
      clients: {},
      businesses: {},
      memberships: {},
      groupsOfMember: {},
      groups: {},
    });
  });

  it('reads the facts PgChangeStore writes, revocations and group deletions included', async () => {
    const store = new PgChangeStore(new PgSql(pool));
    let second = 0;
    const apply = async (change: Change) => {
      second += 1;
      const timestamp = `2026-02-01T00:00:${String(second).padStart(2, '0')}.000000Z`;
      const data = change.data as Record<string, unknown>;
      const subject = String(data.groupId ?? data.businessId ?? data.userId ?? data.clientId);
      const event: ChangeEvent = {
        id: `evt-${second}`,
        source: '/test',
        subject,
        time: new Date(timestamp),
        timestamp,
        change,
        origin: { topic: 'iam.role-changes.v1', partition: 0, offset: String(second) },
      };
      const applied = await store.apply(event);
      if (applied.kind === 'fan-out') await store.complete(event.id);
    };
    await apply({ type: EventType.UserRoleGranted, data: { userId: 'ev-user', role: 'KEPT' } });
    await apply({ type: EventType.UserRoleGranted, data: { userId: 'ev-user', role: 'DROPPED' } });
    await apply({ type: EventType.UserRoleRevoked, data: { userId: 'ev-user', role: 'DROPPED' } });
    await apply({ type: EventType.ClientRoleGranted, data: { clientId: 'ev-client', role: 'CLI' } });
    await apply({ type: EventType.BusinessRoleGranted, data: { businessId: 'ev-biz', role: 'BROLE' } });
    await apply({
      type: EventType.BusinessMemberAdded,
      data: { businessId: 'ev-biz', userId: 'ev-user', roles: ['BUSINESSADMIN', 'BUSINESSUSER'] },
    });
    await apply({
      type: EventType.BusinessMemberRoleRevoked,
      data: { businessId: 'ev-biz', userId: 'ev-user', role: 'BUSINESSUSER' },
    });
    await apply({ type: EventType.GroupRoleGranted, data: { groupId: 'ev-g1', role: 'G1' } });
    await apply({ type: EventType.GroupRoleGranted, data: { groupId: 'ev-g2', role: 'G2' } });
    await apply({ type: EventType.GroupRoleGranted, data: { groupId: 'ev-g3', role: 'G3' } });
    await apply({
      type: EventType.GroupMemberAdded,
      data: { groupId: 'ev-g1', memberType: 'USER', memberId: 'ev-user' },
    });
    await apply({
      type: EventType.GroupMemberAdded,
      data: { groupId: 'ev-g3', memberType: 'BUSINESS', memberId: 'ev-biz' },
    });
    await apply({
      type: EventType.GroupDependencyAdded,
      data: { groupId: 'ev-g1', dependsOnGroupId: 'ev-g2' },
    });
    await apply({
      type: EventType.GroupDependencyAdded,
      data: { groupId: 'ev-g3', dependsOnGroupId: 'ev-g2' },
    });
    await apply({ type: EventType.UserLocked, data: { userId: 'ev-user' } });
    await apply({ type: EventType.GroupDeleted, data: { groupId: 'ev-g2' } });

    const principal = {
      userId: 'ev-user',
      clientId: 'ev-client',
      businessId: 'ev-biz',
      authLevel: 'AUTH-BASIC',
    } as const;
    const snapshot = await loader.load([principal]);

    expect(contents(snapshot)).toEqual({
      users: { 'ev-user': { locked: true, roles: ['KEPT'] } },
      clients: { 'ev-client': { roles: ['CLI'], serviceId: 'ev-client', scopes: [] } },
      businesses: { 'ev-biz': { active: true, roles: ['BROLE'] } },
      memberships: { 'ev-biz/ev-user': ['BUSINESSADMIN'] },
      groupsOfMember: { 'BUSINESS/ev-biz': ['ev-g3'], 'USER/ev-user': ['ev-g1'] },
      // ev-g2 is deleted: the dependencies on it are gone, so it is not reached.
      groups: {
        'ev-g1': { roles: ['G1'], dependsOn: [] },
        'ev-g3': { roles: ['G3'], dependsOn: [] },
      },
    });
    expect(resolveAuthorities(principal, snapshot)).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_BROLE',
      'ROLE_BUSINESS',
      'ROLE_BUSINESSADMIN',
      'ROLE_CLI',
      'ROLE_G1',
      'ROLE_G3',
      'ROLE_KEPT',
    ]);
  });

  it("reads sessions with their subjects' facts alone and batched (PgSessionWithRolesReader), to the same authorities", async () => {
    await seedWorld();
    const subjects = [
      { userId: 'u1', clientId: 'c1', businessId: 'b1', authLevel: 'AUTH-MFA' },
      { userId: 'u2', clientId: 'c2', businessId: null, authLevel: 'AUTH-BASIC' },
      { userId: 'u1', clientId: 'c1', businessId: null, authLevel: 'AUTH-BASIC' },
      { userId: 'u1', clientId: 'c1', businessId: 'b2', authLevel: 'AUTH-BASIC' },
    ] as const;
    const sessionIds: string[] = [];
    for (const subject of subjects) {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO sessions (id, user_id, client_id, business_id, auth_level, remember_me, expires_at,
                               claims_version, authorities, scope, token_id, token_expires_at)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, false, now() + interval '1 hour', 3, '{ROLE_X}', '{openid}',
                 'jti', now()) RETURNING id::text`,
        [subject.userId, subject.clientId, subject.businessId, subject.authLevel],
      );
      sessionIds.push(rows[0]!.id);
    }
    const { sql: counting, statements } = countingSql(new PgSql(pool));
    const alone = new PgSessionWithRolesReader(counting, { concurrency: 64, maxBatch: 1 });
    const batched = new PgSessionWithRolesReader(counting, { concurrency: 1, maxBatch: 64 });
    // Read by the right session, plus an unknown and a malformed session id.
    const reads = [
      ...subjects.map((subject, index) => ({ sessionId: sessionIds[index]!, subject })),
      { sessionId: '00000000-0000-4000-8000-000000000000', subject: subjects[0] },
      { sessionId: 'not-a-session', subject: subjects[1] },
    ];
    const outcome = async (reader: PgSessionWithRolesReader) =>
      (await Promise.all(reads.map((read) => reader.read(read.sessionId, read.subject)))).map(
        ({ session, snapshot }, index) => ({
          session: session && { id: session.id, userId: session.userId, businessId: session.businessId },
          authorities: resolveAuthorities(reads[index]!.subject, snapshot),
          locked: snapshot.user(reads[index]!.subject.userId)?.locked,
        }),
      );

    const one = await outcome(alone);
    expect(statements).toEqual(reads.map(() => 'session-with-role-snapshot'));
    statements.length = 0;
    const many = await outcome(batched);
    // The first read goes out alone; the others wait for it and go out together.
    expect(statements).toEqual(['session-with-role-snapshot', 'sessions-with-role-snapshot']);

    expect(many).toEqual(one);
    expect(one.map((read) => read.session?.id ?? null)).toEqual([...sessionIds, null, null]);
    expect(one[0]!.authorities).toEqual(resolveAuthorities(subjects[0], await loader.load([subjects[0]])));
    expect(one[0]!.authorities).toContain('ROLE_BUSINESSOWNER');
    expect(one[1]!.locked).toBe(true);

    // A full batch follows the rule for large batches: planned for its size each time.
    statements.length = 0;
    const full = Array.from({ length: PLAN_EACH_TIME_FROM + 1 }, (_, index) => reads[index % reads.length]!);
    const fullOutcome = await Promise.all(full.map((read) => batched.read(read.sessionId, read.subject)));
    expect(statements).toEqual(['session-with-role-snapshot', '(unnamed)']);
    expect(fullOutcome.map(({ session }) => session?.id ?? null)).toEqual(
      full.map((read) => (sessionIds.includes(read.sessionId) ? read.sessionId : null)),
    );
  });
});
