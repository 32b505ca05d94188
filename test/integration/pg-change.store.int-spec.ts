import type { Pool } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  EMPTY_SCOPE,
  EventType,
  independentRuns,
  type Change,
  type ChangeEvent,
  type ChangeScope,
} from '@iam/domain';
import { PgSql } from '@iam/persistence';
import { normalizeScope } from '../../libs/persistence/src/changes/change-scope.sql';
import { PgChangeStore } from '../../libs/persistence/src/changes/pg-change.store';
import { countingSql } from '../support/counting-sql';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';
import { seededRandom } from '../support/seeded-random';

let database: TestDatabase;
let pool: Pool;
let store: PgChangeStore;
let nextOffset = 0;

/** An instant on a fixed day, to the microsecond: `at(5, 1)` is 00:00:05.000001Z. */
function at(seconds: number, micros = 0): string {
  const s = String(seconds).padStart(2, '0');
  return `2025-03-01T00:00:${s}.${String(micros).padStart(6, '0')}Z`;
}

function event(id: string, timestamp: string, change: Change): ChangeEvent {
  const data = change.data as Record<string, unknown>;
  const subject = String(data.groupId ?? data.businessId ?? data.userId ?? data.clientId);
  return {
    id,
    source: '/test/iam',
    subject,
    time: new Date(timestamp),
    timestamp,
    change,
    origin: { topic: 'iam.role-changes.v1', partition: 3, offset: String(nextOffset++) },
  };
}

const change = {
  userRole: (granted: boolean, userId: string, role: string): Change => ({
    type: granted ? EventType.UserRoleGranted : EventType.UserRoleRevoked,
    data: { userId, role },
  }),
  userLock: (locked: boolean, userId: string): Change => ({
    type: locked ? EventType.UserLocked : EventType.UserUnlocked,
    data: { userId },
  }),
  clientRole: (granted: boolean, clientId: string, role: string): Change => ({
    type: granted ? EventType.ClientRoleGranted : EventType.ClientRoleRevoked,
    data: { clientId, role },
  }),
  groupRole: (granted: boolean, groupId: string, role: string): Change => ({
    type: granted ? EventType.GroupRoleGranted : EventType.GroupRoleRevoked,
    data: { groupId, role },
  }),
  groupMember: (
    added: boolean,
    groupId: string,
    memberType: 'USER' | 'BUSINESS' | 'SERVICE',
    memberId: string,
  ): Change => ({
    type: added ? EventType.GroupMemberAdded : EventType.GroupMemberRemoved,
    data: { groupId, memberType, memberId },
  }),
  groupDependency: (added: boolean, groupId: string, dependsOnGroupId: string): Change => ({
    type: added ? EventType.GroupDependencyAdded : EventType.GroupDependencyRemoved,
    data: { groupId, dependsOnGroupId },
  }),
  groupDeleted: (groupId: string): Change => ({ type: EventType.GroupDeleted, data: { groupId } }),
  businessRole: (granted: boolean, businessId: string, role: string): Change => ({
    type: granted ? EventType.BusinessRoleGranted : EventType.BusinessRoleRevoked,
    data: { businessId, role },
  }),
  memberAdded: (businessId: string, userId: string, roles: string[]): Change => ({
    type: EventType.BusinessMemberAdded,
    data: { businessId, userId, roles },
  }),
  memberRemoved: (businessId: string, userId: string): Change => ({
    type: EventType.BusinessMemberRemoved,
    data: { businessId, userId },
  }),
  memberRole: (granted: boolean, businessId: string, userId: string, role: string): Change => ({
    type: granted ? EventType.BusinessMemberRoleGranted : EventType.BusinessMemberRoleRevoked,
    data: { businessId, userId, role },
  }),
  deactivated: (businessId: string): Change => ({
    type: EventType.BusinessDeactivated,
    data: { businessId },
  }),
};

const fanOut = (scope: Partial<ChangeScope>) => ({ kind: 'fan-out', scope: normalizeScope(scope) });
const NO_EFFECT = { kind: 'no-effect' };
const DUPLICATE = { kind: 'duplicate' };

async function rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query(text, values)).rows as T[];
}

const REGISTER = `present, to_char(changed_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS changed_at, event_id`;

/** Every row of the role tables and the processed events, in key order, for before/after comparisons. */
async function snapshot(): Promise<Record<string, unknown[]>> {
  const query = (text: string) => rows<unknown>(text);
  return {
    users: await query('SELECT id, locked, lock_changed_at, lock_event_id FROM users ORDER BY id'),
    businesses: await query(
      'SELECT id, active, status_changed_at, status_event_id FROM businesses ORDER BY id',
    ),
    clients: await query('SELECT id FROM clients ORDER BY id'),
    groups: await query('SELECT id, deleted_at, deleted_event_id FROM groups ORDER BY id'),
    userRoles: await query('SELECT * FROM user_roles ORDER BY 1, 2'),
    clientRoles: await query('SELECT * FROM client_roles ORDER BY 1, 2'),
    businessRoles: await query('SELECT * FROM business_roles ORDER BY 1, 2'),
    memberships: await query('SELECT * FROM business_memberships ORDER BY 1, 2'),
    memberRoles: await query('SELECT * FROM business_member_roles ORDER BY 1, 2, 3'),
    groupRoles: await query('SELECT * FROM group_roles ORDER BY 1, 2'),
    groupMembers: await query('SELECT * FROM group_members ORDER BY 1, 2, 3'),
    groupDependencies: await query('SELECT * FROM group_dependencies ORDER BY 1, 2'),
    processed: await query(
      'SELECT event_id, status, scope, completed_at FROM processed_events ORDER BY event_id',
    ),
  };
}

/** What a reader of the role tables sees: present facts and entity flags only, not the registers. */
async function visibleState(): Promise<Record<string, unknown[]>> {
  const query = (text: string) => rows<unknown>(text);
  return {
    locked: await query('SELECT id FROM users WHERE locked ORDER BY id'),
    inactive: await query('SELECT id FROM businesses WHERE NOT active ORDER BY id'),
    userRoles: await query('SELECT user_id, role FROM user_roles WHERE present ORDER BY 1, 2'),
    clientRoles: await query('SELECT client_id, role FROM client_roles WHERE present ORDER BY 1, 2'),
    businessRoles: await query('SELECT business_id, role FROM business_roles WHERE present ORDER BY 1, 2'),
    memberships: await query(
      'SELECT business_id, user_id FROM business_memberships WHERE present ORDER BY 1, 2',
    ),
    memberRoles: await query(
      `SELECT r.business_id, r.user_id, r.role FROM business_member_roles r
       JOIN business_memberships m USING (business_id, user_id)
       WHERE r.present AND m.present ORDER BY 1, 2, 3`,
    ),
    groupRoles: await query('SELECT group_id, role FROM group_roles WHERE present ORDER BY 1, 2'),
    groupMembers: await query(
      'SELECT group_id, member_type, member_id FROM group_members WHERE present ORDER BY 1, 2, 3',
    ),
    groupDependencies: await query(
      'SELECT group_id, depends_on_group_id FROM group_dependencies WHERE present ORDER BY 1, 2',
    ),
  };
}

async function applyAll(events: readonly ChangeEvent[]): Promise<string[]> {
  const kinds: string[] = [];
  for (const e of events) {
    const applied = await store.apply(e);
    if (applied.kind === 'fan-out') await store.complete(e.id);
    kinds.push(applied.kind);
  }
  return kinds;
}

beforeAll(async () => {
  database = await createTestDatabase('change_store');
  pool = testPool(database.url, 8);
  store = new PgChangeStore(new PgSql(pool));
});

afterAll(async () => {
  await pool.end();
  await database.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE users, businesses, clients, groups, processed_events CASCADE');
});

describe('PgChangeStore: user events', () => {
  it('grants and revokes a user role, scoped to the user, and records the event', async () => {
    const granted = event('e1', at(1, 123456), change.userRole(true, 'u1', 'ADMIN'));
    expect(await store.apply(granted)).toEqual(fanOut({ userIds: ['u1'] }));

    expect(await rows(`SELECT ${REGISTER} FROM user_roles WHERE user_id = 'u1'`)).toEqual([
      { present: true, changed_at: '00:00:01.123456', event_id: 'e1' },
    ]);
    expect(await rows('SELECT id FROM users')).toEqual([{ id: 'u1' }]);
    expect(
      await rows(
        `SELECT type, subject, to_char(event_time AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS event_time,
                topic, partition, "offset"::text AS "offset", status, scope, completed_at
         FROM processed_events`,
      ),
    ).toEqual([
      {
        type: 'iam.user.role.granted',
        subject: 'u1',
        event_time: '00:00:01.123456',
        topic: 'iam.role-changes.v1',
        partition: 3,
        offset: granted.origin.offset,
        status: 'APPLIED',
        scope: {
          userIds: ['u1'],
          businessIds: [],
          clientIds: [],
          serviceIds: [],
          memberships: [],
          groupIds: [],
        },
        completed_at: null,
      },
    ]);

    await store.complete('e1');
    const [completed] = await rows<{ status: string; scope: unknown; done: boolean }>(
      `SELECT status, scope, completed_at IS NOT NULL AS done FROM processed_events WHERE event_id = 'e1'`,
    );
    expect(completed).toEqual({ status: 'COMPLETED', scope: null, done: true });

    // Granting what is held changes nothing visible; the register still moves on.
    expect(await store.apply(event('e2', at(2), change.userRole(true, 'u1', 'ADMIN')))).toEqual(NO_EFFECT);
    expect(
      await rows(
        `SELECT status, scope, completed_at IS NOT NULL AS done FROM processed_events WHERE event_id = 'e2'`,
      ),
    ).toEqual([{ status: 'COMPLETED', scope: null, done: true }]);

    expect(await store.apply(event('e3', at(3), change.userRole(false, 'u1', 'ADMIN')))).toEqual(
      fanOut({ userIds: ['u1'] }),
    );
    expect(await rows(`SELECT ${REGISTER} FROM user_roles`)).toEqual([
      { present: false, changed_at: '00:00:03.000000', event_id: 'e3' },
    ]);
    expect(await store.apply(event('e4', at(4), change.userRole(false, 'u1', 'ADMIN')))).toEqual(NO_EFFECT);
  });

  it('records a revocation of a role never held, so an older grant replayed later stays out', async () => {
    expect(await store.apply(event('r', at(5), change.userRole(false, 'u1', 'AUDITOR')))).toEqual(NO_EFFECT);
    expect(await rows(`SELECT ${REGISTER} FROM user_roles`)).toEqual([
      { present: false, changed_at: '00:00:05.000000', event_id: 'r' },
    ]);
    expect(await store.apply(event('g', at(4), change.userRole(true, 'u1', 'AUDITOR')))).toEqual(NO_EFFECT);
    expect(await rows('SELECT present FROM user_roles')).toEqual([{ present: false }]);
  });

  it('locks and unlocks a user last-writer-wins; an unlock has nothing to re-issue', async () => {
    expect(await store.apply(event('l1', at(1), change.userLock(true, 'u1')))).toEqual(
      fanOut({ userIds: ['u1'] }),
    );
    expect(
      await rows(
        `SELECT locked, to_char(lock_changed_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS at, lock_event_id FROM users`,
      ),
    ).toEqual([{ locked: true, at: '00:00:01.000000', lock_event_id: 'l1' }]);
    expect(await store.apply(event('l2', at(2), change.userLock(true, 'u1')))).toEqual(NO_EFFECT);

    expect(await store.apply(event('u3', at(3), change.userLock(false, 'u1')))).toEqual({
      kind: 'fan-out',
      scope: EMPTY_SCOPE,
    });
    expect(await rows('SELECT locked, lock_event_id FROM users')).toEqual([
      { locked: false, lock_event_id: 'u3' },
    ]);
    // An older lock delivered late does not lock the user again.
    expect(await store.apply(event('l0', at(2, 500), change.userLock(true, 'u1')))).toEqual(NO_EFFECT);
    expect(await rows('SELECT locked FROM users')).toEqual([{ locked: false }]);
  });

  it('an unlock of a user never locked changes nothing', async () => {
    expect(await store.apply(event('u', at(1), change.userLock(false, 'u9')))).toEqual(NO_EFFECT);
    expect(await rows('SELECT id, locked, lock_event_id FROM users')).toEqual([
      { id: 'u9', locked: false, lock_event_id: 'u' },
    ]);
  });
});

describe('PgChangeStore: client and business events', () => {
  it('grants and revokes a client role, scoped to the client', async () => {
    expect(await store.apply(event('c1', at(1), change.clientRole(true, 'app', 'CLI-READ')))).toEqual(
      fanOut({ clientIds: ['app'] }),
    );
    expect(await rows('SELECT id, secret_hash FROM clients')).toEqual([{ id: 'app', secret_hash: null }]);
    expect(await rows(`SELECT client_id, role, ${REGISTER} FROM client_roles`)).toEqual([
      { client_id: 'app', role: 'CLI-READ', present: true, changed_at: '00:00:01.000000', event_id: 'c1' },
    ]);
    expect(await store.apply(event('c2', at(2), change.clientRole(true, 'app', 'CLI-READ')))).toEqual(
      NO_EFFECT,
    );
    expect(await store.apply(event('c3', at(3), change.clientRole(false, 'app', 'CLI-READ')))).toEqual(
      fanOut({ clientIds: ['app'] }),
    );
    expect(await rows('SELECT present, event_id FROM client_roles')).toEqual([
      { present: false, event_id: 'c3' },
    ]);
  });

  it('grants and revokes a business role, scoped to the business', async () => {
    expect(await store.apply(event('b1', at(1), change.businessRole(true, 'acme', 'VIP')))).toEqual(
      fanOut({ businessIds: ['acme'] }),
    );
    expect(await rows('SELECT id, active FROM businesses')).toEqual([{ id: 'acme', active: true }]);
    expect(await rows(`SELECT business_id, role, present FROM business_roles`)).toEqual([
      { business_id: 'acme', role: 'VIP', present: true },
    ]);
    expect(await store.apply(event('b2', at(2), change.businessRole(false, 'acme', 'VIP')))).toEqual(
      fanOut({ businessIds: ['acme'] }),
    );
    expect(await store.apply(event('b3', at(3), change.businessRole(false, 'acme', 'VIP')))).toEqual(
      NO_EFFECT,
    );
  });

  it('adds a member with roles, scoped to the membership', async () => {
    const added = change.memberAdded('acme', 'u1', ['BUSINESSUSER', 'BUSINESSADMIN', 'BUSINESSUSER']);
    expect(await store.apply(event('m1', at(1), added))).toEqual(
      fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }),
    );
    expect(await rows('SELECT id FROM users')).toEqual([{ id: 'u1' }]);
    expect(await rows(`SELECT business_id, user_id, ${REGISTER} FROM business_memberships`)).toEqual([
      { business_id: 'acme', user_id: 'u1', present: true, changed_at: '00:00:01.000000', event_id: 'm1' },
    ]);
    expect(await rows('SELECT role, present, event_id FROM business_member_roles ORDER BY role')).toEqual([
      { role: 'BUSINESSADMIN', present: true, event_id: 'm1' },
      { role: 'BUSINESSUSER', present: true, event_id: 'm1' },
    ]);

    // Re-adding with the roles held changes nothing; an extra role does.
    expect(await store.apply(event('m2', at(2), change.memberAdded('acme', 'u1', ['BUSINESSUSER'])))).toEqual(
      NO_EFFECT,
    );
    expect(
      await store.apply(
        event('m3', at(3), change.memberAdded('acme', 'u1', ['BUSINESSOWNER', 'BUSINESSUSER'])),
      ),
    ).toEqual(fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }));
    expect(await rows('SELECT role FROM business_member_roles WHERE present ORDER BY role')).toEqual([
      { role: 'BUSINESSADMIN' },
      { role: 'BUSINESSOWNER' },
      { role: 'BUSINESSUSER' },
    ]);
  });

  it('removes a member together with the roles granted before the removal', async () => {
    await applyAll([
      event('m1', at(1), change.memberAdded('acme', 'u1', ['BUSINESSADMIN'])),
      event('r2', at(2), change.memberRole(true, 'acme', 'u1', 'BUSINESSOWNER')),
    ]);
    expect(await store.apply(event('x3', at(3), change.memberRemoved('acme', 'u1')))).toEqual(
      fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }),
    );
    expect(await rows('SELECT present, event_id FROM business_memberships')).toEqual([
      { present: false, event_id: 'x3' },
    ]);
    expect(await rows(`SELECT role, ${REGISTER} FROM business_member_roles ORDER BY role`)).toEqual([
      { role: 'BUSINESSADMIN', present: false, changed_at: '00:00:03.000000', event_id: 'x3' },
      { role: 'BUSINESSOWNER', present: false, changed_at: '00:00:03.000000', event_id: 'x3' },
    ]);
    expect(await store.apply(event('x4', at(4), change.memberRemoved('acme', 'u1')))).toEqual(NO_EFFECT);

    // Re-added later: only the roles the addition lists come back.
    expect(await store.apply(event('m5', at(5), change.memberAdded('acme', 'u1', ['BUSINESSUSER'])))).toEqual(
      fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }),
    );
    expect(await rows('SELECT role FROM business_member_roles WHERE present')).toEqual([
      { role: 'BUSINESSUSER' },
    ]);
  });

  it('grants and revokes a member role, scoped to the membership', async () => {
    await applyAll([event('m1', at(1), change.memberAdded('acme', 'u1', []))]);
    expect(
      await store.apply(event('g2', at(2), change.memberRole(true, 'acme', 'u1', 'BUSINESSADMIN'))),
    ).toEqual(fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }));
    expect(
      await store.apply(event('g3', at(3), change.memberRole(true, 'acme', 'u1', 'BUSINESSADMIN'))),
    ).toEqual(NO_EFFECT);
    expect(
      await store.apply(event('v4', at(4), change.memberRole(false, 'acme', 'u1', 'BUSINESSADMIN'))),
    ).toEqual(fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }));
    expect(await rows('SELECT role, present, event_id FROM business_member_roles')).toEqual([
      { role: 'BUSINESSADMIN', present: false, event_id: 'v4' },
    ]);
  });

  it('keeps a role granted to a non-member invisible until the member is added', async () => {
    expect(
      await store.apply(event('g1', at(1), change.memberRole(true, 'acme', 'u1', 'BUSINESSADMIN'))),
    ).toEqual(NO_EFFECT);
    expect(await rows('SELECT present FROM business_memberships')).toEqual([{ present: false }]);
    expect(await rows('SELECT role, present FROM business_member_roles')).toEqual([
      { role: 'BUSINESSADMIN', present: true },
    ]);

    expect(await store.apply(event('m2', at(2), change.memberAdded('acme', 'u1', [])))).toEqual(
      fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }),
    );
    expect((await visibleState()).memberRoles).toEqual([
      { business_id: 'acme', user_id: 'u1', role: 'BUSINESSADMIN' },
    ]);
  });

  it('treats member-role events older than a later removal as stale', async () => {
    await applyAll([
      event('m1', at(1), change.memberAdded('acme', 'u1', [])),
      event('x5', at(5), change.memberRemoved('acme', 'u1')),
    ]);
    // Delivered late: in order, the removal at :05 would have revoked them.
    expect(
      await store.apply(event('g3', at(3), change.memberRole(true, 'acme', 'u1', 'BUSINESSOWNER'))),
    ).toEqual(NO_EFFECT);
    expect(await store.apply(event('m4', at(4), change.memberAdded('acme', 'u1', ['BUSINESSUSER'])))).toEqual(
      NO_EFFECT,
    );
    expect(await rows('SELECT role FROM business_member_roles WHERE present')).toEqual([]);
    expect(await rows('SELECT present, event_id FROM business_memberships')).toEqual([
      { present: false, event_id: 'x5' },
    ]);
  });

  it('treats member-role events older than a removal as stale even after a later addition', async () => {
    await applyAll([
      event('m1', at(1), change.memberAdded('acme', 'u1', [])),
      event('x3', at(3), change.memberRemoved('acme', 'u1')),
      event('m5', at(5), change.memberAdded('acme', 'u1', ['BUSINESSUSER'])),
    ]);
    // Delivered late: in order, the removal at :03 would have ended it, and the addition at :05
    // does not bring it back.
    expect(
      await store.apply(event('g2', at(2), change.memberRole(true, 'acme', 'u1', 'BUSINESSOWNER'))),
    ).toEqual(NO_EFFECT);
    expect(await rows('SELECT role FROM business_member_roles WHERE present')).toEqual([
      { role: 'BUSINESSUSER' },
    ]);
    // So a replay of the removal, once its processed-event record is gone, finds nothing to end.
    await pool.query("DELETE FROM processed_events WHERE event_id = 'x3'");
    expect(await store.apply(event('x3', at(3), change.memberRemoved('acme', 'u1')))).toEqual(NO_EFFECT);
    expect(await rows('SELECT role FROM business_member_roles WHERE present')).toEqual([
      { role: 'BUSINESSUSER' },
    ]);
    // A removal older than the one remembered does not replace it.
    await applyAll([event('x2', at(2, 1), change.memberRemoved('acme', 'u1'))]);
    expect(await rows('SELECT removed_event_id FROM business_memberships')).toEqual([
      { removed_event_id: 'x3' },
    ]);
  });

  it('a removal delivered after a newer addition still revokes the roles granted before it', async () => {
    await applyAll([
      event('g1', at(1), change.memberRole(true, 'acme', 'u1', 'BUSINESSOWNER')),
      event('m7', at(7), change.memberAdded('acme', 'u1', ['BUSINESSUSER'])),
    ]);
    expect(await store.apply(event('x5', at(5), change.memberRemoved('acme', 'u1')))).toEqual(
      fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }),
    );
    expect(await rows('SELECT present, event_id FROM business_memberships')).toEqual([
      { present: true, event_id: 'm7' },
    ]);
    expect(await rows('SELECT role, present FROM business_member_roles ORDER BY role')).toEqual([
      { role: 'BUSINESSOWNER', present: false },
      { role: 'BUSINESSUSER', present: true },
    ]);
  });

  it('deactivates a business last-writer-wins, scoped to the business', async () => {
    expect(await store.apply(event('d1', at(1), change.deactivated('acme')))).toEqual(
      fanOut({ businessIds: ['acme'] }),
    );
    expect(
      await rows(
        `SELECT active, to_char(status_changed_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS at, status_event_id
         FROM businesses`,
      ),
    ).toEqual([{ active: false, at: '00:00:01.000000', status_event_id: 'd1' }]);
    expect(await store.apply(event('d2', at(2), change.deactivated('acme')))).toEqual(NO_EFFECT);
    expect(await rows('SELECT status_event_id FROM businesses')).toEqual([{ status_event_id: 'd2' }]);
    expect(await store.apply(event('d0', at(0), change.deactivated('acme')))).toEqual(NO_EFFECT);
    expect(await rows('SELECT status_event_id FROM businesses')).toEqual([{ status_event_id: 'd2' }]);
  });
});

describe('PgChangeStore: group events', () => {
  it('adds and removes group members of every kind, each scoped to the member alone', async () => {
    expect(await store.apply(event('a1', at(1), change.groupMember(true, 'g1', 'USER', 'u1')))).toEqual(
      fanOut({ userIds: ['u1'] }),
    );
    expect(await store.apply(event('a2', at(2), change.groupMember(true, 'g1', 'BUSINESS', 'acme')))).toEqual(
      fanOut({ businessIds: ['acme'] }),
    );
    expect(
      await store.apply(event('a3', at(3), change.groupMember(true, 'g1', 'SERVICE', 'billing'))),
    ).toEqual(fanOut({ serviceIds: ['billing'] }));
    expect(await rows('SELECT id FROM groups')).toEqual([{ id: 'g1' }]);
    expect(await rows('SELECT id FROM users')).toEqual([{ id: 'u1' }]);
    expect(await rows('SELECT id FROM businesses')).toEqual([{ id: 'acme' }]);
    expect(
      await rows('SELECT member_type::text, member_id, present, event_id FROM group_members ORDER BY 1, 2'),
    ).toEqual([
      { member_type: 'BUSINESS', member_id: 'acme', present: true, event_id: 'a2' },
      { member_type: 'SERVICE', member_id: 'billing', present: true, event_id: 'a3' },
      { member_type: 'USER', member_id: 'u1', present: true, event_id: 'a1' },
    ]);

    expect(await store.apply(event('a4', at(4), change.groupMember(true, 'g1', 'USER', 'u1')))).toEqual(
      NO_EFFECT,
    );
    expect(
      await store.apply(event('r5', at(5), change.groupMember(false, 'g1', 'SERVICE', 'billing'))),
    ).toEqual(fanOut({ serviceIds: ['billing'] }));
    expect(
      await store.apply(event('r6', at(6), change.groupMember(false, 'g1', 'SERVICE', 'billing'))),
    ).toEqual(NO_EFFECT);
    // The same id in another kind is another member.
    expect(await store.apply(event('a7', at(7), change.groupMember(true, 'g1', 'SERVICE', 'u1')))).toEqual(
      fanOut({ serviceIds: ['u1'] }),
    );
  });

  it('scopes a group role to the members of the group and of every group depending on it', async () => {
    await applyAll([
      event('s1', at(1), change.groupMember(true, 'g1', 'USER', 'u1')),
      event('s2', at(1), change.groupMember(true, 'g1', 'BUSINESS', 'acme')),
      event('s3', at(1), change.groupMember(true, 'g1', 'SERVICE', 'billing')),
      event('s4', at(1), change.groupMember(true, 'g2', 'USER', 'u2')),
      event('s5', at(1), change.groupMember(true, 'g3', 'USER', 'u3')),
      event('s6', at(1), change.groupMember(true, 'g3', 'USER', 'u1')),
      event('s7', at(1), change.groupMember(true, 'g4', 'USER', 'u4')),
      event('s8', at(1), change.groupMember(true, 'g5', 'USER', 'u5')),
      event('s9', at(1), change.groupMember(true, 'g1', 'USER', 'u6')),
      event('s10', at(2), change.groupMember(false, 'g1', 'USER', 'u6')),
      event('d1', at(1), change.groupDependency(true, 'g2', 'g1')),
      event('d2', at(1), change.groupDependency(true, 'g3', 'g2')),
      event('d3', at(1), change.groupDependency(true, 'g5', 'g1')),
      event('d4', at(2), change.groupDependency(false, 'g5', 'g1')),
      // g1 depends on g4: g4's members do not gain g1's roles.
      event('d5', at(1), change.groupDependency(true, 'g1', 'g4')),
    ]);
    // The members this transaction sees, and the groups whose members the fan-out looks up again.
    const scope = {
      userIds: ['u1', 'u2', 'u3'],
      businessIds: ['acme'],
      serviceIds: ['billing'],
      groupIds: ['g1', 'g2', 'g3'],
    };
    expect(await store.apply(event('r1', at(3), change.groupRole(true, 'g1', 'READER')))).toEqual(
      fanOut(scope),
    );
    expect(await rows('SELECT group_id, role, present, event_id FROM group_roles')).toEqual([
      { group_id: 'g1', role: 'READER', present: true, event_id: 'r1' },
    ]);
    expect(await store.apply(event('r2', at(4), change.groupRole(true, 'g1', 'READER')))).toEqual(NO_EFFECT);
    expect(await store.apply(event('r3', at(5), change.groupRole(false, 'g1', 'READER')))).toEqual(
      fanOut(scope),
    );
    // A group nobody belongs to: effective, with nobody to re-issue.
    expect(await store.apply(event('r4', at(5), change.groupRole(true, 'lonely', 'READER')))).toEqual(
      fanOut({ groupIds: ['lonely'] }),
    );
  });

  it('adds and removes a dependency, scoped to the dependent group and its dependents', async () => {
    await applyAll([
      event('s1', at(1), change.groupMember(true, 'g1', 'USER', 'u1')),
      event('s2', at(1), change.groupMember(true, 'g2', 'USER', 'u2')),
      event('s3', at(1), change.groupMember(true, 'g3', 'BUSINESS', 'acme')),
      event('d0', at(1), change.groupDependency(true, 'g3', 'g2')),
    ]);
    expect(await store.apply(event('d1', at(2), change.groupDependency(true, 'g2', 'g1')))).toEqual(
      fanOut({ userIds: ['u2'], businessIds: ['acme'], groupIds: ['g2', 'g3'] }),
    );
    expect(
      await rows(
        'SELECT group_id, depends_on_group_id, present, event_id FROM group_dependencies ORDER BY 1',
      ),
    ).toEqual([
      { group_id: 'g2', depends_on_group_id: 'g1', present: true, event_id: 'd1' },
      { group_id: 'g3', depends_on_group_id: 'g2', present: true, event_id: 'd0' },
    ]);
    expect(await store.apply(event('d2', at(3), change.groupDependency(true, 'g2', 'g1')))).toEqual(
      NO_EFFECT,
    );
    expect(await store.apply(event('d3', at(4), change.groupDependency(false, 'g2', 'g1')))).toEqual(
      fanOut({ userIds: ['u2'], businessIds: ['acme'], groupIds: ['g2', 'g3'] }),
    );
    // Both ends exist from the first event naming them.
    expect(await store.apply(event('d4', at(4), change.groupDependency(true, 'new-a', 'new-b')))).toEqual(
      fanOut({ groupIds: ['new-a'] }),
    );
    expect(await rows(`SELECT id FROM groups WHERE id LIKE 'new-%' ORDER BY id`)).toEqual([
      { id: 'new-a' },
      { id: 'new-b' },
    ]);
  });

  it('deletes a group: watermark, tombstones of every older fact, scope taken before', async () => {
    await applyAll([
      event('s1', at(1), change.groupMember(true, 'g', 'USER', 'u1')),
      event('s2', at(1), change.groupMember(true, 'g', 'SERVICE', 'billing')),
      event('s3', at(1), change.groupRole(true, 'g', 'READER')),
      event('s4', at(1), change.groupDependency(true, 'g', 'h')),
      event('s5', at(1), change.groupDependency(true, 'x', 'g')),
      event('s6', at(1), change.groupMember(true, 'x', 'BUSINESS', 'acme')),
      event('s7', at(1), change.groupMember(true, 'h', 'USER', 'u-h')),
      event('s8', at(1), change.groupRole(true, 'h', 'H-ROLE')),
      // Newer than the deletion, delivered before it: survives.
      event('s9', at(9), change.groupRole(true, 'g', 'LATER')),
    ]);
    expect(await store.apply(event('del', at(5, 5), change.groupDeleted('g')))).toEqual(
      // x depended on g: the fan-out looks up x's members again, as the link to g is gone by then.
      fanOut({ userIds: ['u1'], serviceIds: ['billing'], businessIds: ['acme'], groupIds: ['g', 'x'] }),
    );
    expect(
      await rows(
        `SELECT to_char(deleted_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS at, deleted_event_id
         FROM groups WHERE id = 'g'`,
      ),
    ).toEqual([{ at: '00:00:05.000005', deleted_event_id: 'del' }]);
    expect(
      await rows(`SELECT role, ${REGISTER} FROM group_roles WHERE group_id = 'g' ORDER BY role`),
    ).toEqual([
      { role: 'LATER', present: true, changed_at: '00:00:09.000000', event_id: 's9' },
      { role: 'READER', present: false, changed_at: '00:00:05.000005', event_id: 'del' },
    ]);
    expect(
      await rows(`SELECT member_id, present, event_id FROM group_members WHERE group_id = 'g' ORDER BY 1`),
    ).toEqual([
      { member_id: 'billing', present: false, event_id: 'del' },
      { member_id: 'u1', present: false, event_id: 'del' },
    ]);
    expect(
      await rows(
        'SELECT group_id, depends_on_group_id, present, event_id FROM group_dependencies ORDER BY 1',
      ),
    ).toEqual([
      { group_id: 'g', depends_on_group_id: 'h', present: false, event_id: 'del' },
      { group_id: 'x', depends_on_group_id: 'g', present: false, event_id: 'del' },
    ]);
    // Other groups' facts are untouched.
    expect(
      await rows(`SELECT group_id, present FROM group_members WHERE group_id <> 'g' ORDER BY 1`),
    ).toEqual([
      { group_id: 'h', present: true },
      { group_id: 'x', present: true },
    ]);
    expect(await rows(`SELECT present FROM group_roles WHERE group_id = 'h'`)).toEqual([{ present: true }]);

    // The same deletion again, or an older one: nothing more to do.
    expect(await store.apply(event('del-old', at(4), change.groupDeleted('g')))).toEqual(NO_EFFECT);
    expect(await rows(`SELECT deleted_event_id FROM groups WHERE id = 'g'`)).toEqual([
      { deleted_event_id: 'del' },
    ]);
  });

  it('treats facts older than a group deletion as stale, so nothing is resurrected', async () => {
    await applyAll([
      event('a1', at(1), change.groupMember(true, 'g', 'USER', 'u1')),
      event('del', at(5), change.groupDeleted('g')),
    ]);
    const before = await snapshot();
    // Replayed or late: a member never seen, one tombstoned, a role, dependencies in both directions.
    for (const late of [
      event('late1', at(3), change.groupMember(true, 'g', 'USER', 'u2')),
      event('late2', at(1), change.groupMember(true, 'g', 'USER', 'u1')),
      event('late3', at(4), change.groupRole(true, 'g', 'READER')),
      event('late4', at(4), change.groupDependency(true, 'g', 'other')),
      event('late5', at(4), change.groupDependency(true, 'other', 'g')),
    ]) {
      expect(await store.apply(late)).toEqual(NO_EFFECT);
    }
    const after = await snapshot();
    expect(after.groupMembers).toEqual(before.groupMembers);
    expect(after.groupRoles).toEqual([]);
    expect(after.groupDependencies).toEqual([]);
    expect((await visibleState()).groupMembers).toEqual([]);
  });

  it('lets a newer event after a deletion re-create the fact', async () => {
    await applyAll([
      event('a1', at(1), change.groupMember(true, 'g', 'USER', 'u1')),
      event('del', at(5), change.groupDeleted('g')),
    ]);
    expect(await store.apply(event('a6', at(6), change.groupMember(true, 'g', 'USER', 'u1')))).toEqual(
      fanOut({ userIds: ['u1'] }),
    );
    expect(await store.apply(event('r6', at(6), change.groupRole(true, 'g', 'READER')))).toEqual(
      fanOut({ userIds: ['u1'], groupIds: ['g'] }),
    );
    expect(await rows(`SELECT member_id, present, event_id FROM group_members`)).toEqual([
      { member_id: 'u1', present: true, event_id: 'a6' },
    ]);
  });

  it('a deletion of a group with no present facts records the watermark and affects nobody', async () => {
    expect(await store.apply(event('del', at(5), change.groupDeleted('ghost')))).toEqual(NO_EFFECT);
    expect(await rows('SELECT id, deleted_event_id FROM groups')).toEqual([
      { id: 'ghost', deleted_event_id: 'del' },
    ]);
    expect(await store.apply(event('a1', at(1), change.groupMember(true, 'ghost', 'USER', 'u1')))).toEqual(
      NO_EFFECT,
    );
    expect(await rows('SELECT * FROM group_members')).toEqual([]);
  });

  it('terminates on a dependency cycle and includes every member around it', async () => {
    await applyAll([
      event('m1', at(1), change.groupMember(true, 'g1', 'USER', 'u1')),
      event('m2', at(1), change.groupMember(true, 'g2', 'USER', 'u2')),
      event('m3', at(1), change.groupMember(true, 'g3', 'BUSINESS', 'b3')),
      event('m4', at(1), change.groupMember(true, 'outside', 'USER', 'u4')),
      event('d1', at(1), change.groupDependency(true, 'g1', 'g2')),
      event('d2', at(1), change.groupDependency(true, 'g2', 'g3')),
      event('d3', at(1), change.groupDependency(true, 'outside', 'g1')),
    ]);
    const everyone = {
      userIds: ['u1', 'u2', 'u4'],
      businessIds: ['b3'],
      groupIds: ['g1', 'g2', 'g3', 'outside'],
    };
    // Closing the cycle: g3 now reaches g1, so everyone depending on g3 (all of them) is affected.
    expect(await store.apply(event('d4', at(2), change.groupDependency(true, 'g3', 'g1')))).toEqual(
      fanOut(everyone),
    );
    for (const group of ['g1', 'g2', 'g3']) {
      expect(await store.apply(event(`r-${group}`, at(3), change.groupRole(true, group, 'R')))).toEqual(
        fanOut(everyone),
      );
    }
    expect(await store.apply(event('del', at(4), change.groupDeleted('g2')))).toEqual(fanOut(everyone));
  });

  it('follows a chain of 200 dependent groups', async () => {
    const depth = 200;
    const setup: ChangeEvent[] = [];
    for (let i = 0; i < depth; i += 1) {
      setup.push(event(`m${i}`, at(1), change.groupMember(true, `g${i}`, 'USER', `u${i}`)));
      if (i > 0) setup.push(event(`d${i}`, at(1), change.groupDependency(true, `g${i}`, `g${i - 1}`)));
    }
    await applyAll(setup);
    const userIds = Array.from({ length: depth }, (_, i) => `u${i}`);
    const groupIds = Array.from({ length: depth }, (_, i) => `g${i}`);
    expect(await store.apply(event('root', at(2), change.groupRole(true, 'g0', 'R')))).toEqual(
      fanOut({ userIds, groupIds }),
    );
    expect(await store.apply(event('mid', at(2), change.groupRole(true, 'g150', 'R')))).toEqual(
      fanOut({ userIds: userIds.slice(150), groupIds: groupIds.slice(150) }),
    );
  });
});

describe('PgChangeStore: ordering and re-delivery', () => {
  it('does not resurrect a revoked fact when a stale grant is replayed', async () => {
    await applyAll([
      event('g1', at(1), change.userRole(true, 'u1', 'ADMIN')),
      event('r2', at(2), change.userRole(false, 'u1', 'ADMIN')),
      event('a1', at(1), change.groupMember(true, 'g', 'USER', 'u1')),
      event('x2', at(2), change.groupMember(false, 'g', 'USER', 'u1')),
    ]);
    await pool.query('DELETE FROM processed_events');
    expect(await store.apply(event('g1', at(1), change.userRole(true, 'u1', 'ADMIN')))).toEqual(NO_EFFECT);
    expect(await store.apply(event('a1', at(1), change.groupMember(true, 'g', 'USER', 'u1')))).toEqual(
      NO_EFFECT,
    );
    // A different id, still older than the revocation.
    expect(await store.apply(event('g1b', at(1, 999999), change.userRole(true, 'u1', 'ADMIN')))).toEqual(
      NO_EFFECT,
    );
    expect(await rows('SELECT present, event_id FROM user_roles')).toEqual([
      { present: false, event_id: 'r2' },
    ]);
    expect(await rows('SELECT present, event_id FROM group_members')).toEqual([
      { present: false, event_id: 'x2' },
    ]);
  });

  it('breaks equal times by event id, byte-wise', async () => {
    const t = at(7, 42);
    expect(await store.apply(event('evt-b', t, change.userRole(true, 'u1', 'A')))).toEqual(
      fanOut({ userIds: ['u1'] }),
    );
    // Same instant, smaller id: loses.
    expect(await store.apply(event('evt-a', t, change.userRole(false, 'u1', 'A')))).toEqual(NO_EFFECT);
    expect(await rows('SELECT present, event_id FROM user_roles')).toEqual([
      { present: true, event_id: 'evt-b' },
    ]);
    // Same instant, greater id: wins.
    expect(await store.apply(event('evt-c', t, change.userRole(false, 'u1', 'A')))).toEqual(
      fanOut({ userIds: ['u1'] }),
    );
    // Byte order, not a linguistic collation: 'Z' (0x5A) sorts before 'a' (0x61).
    await store.apply(event('a', t, change.userRole(true, 'u1', 'B')));
    expect(await store.apply(event('Z', t, change.userRole(false, 'u1', 'B')))).toEqual(NO_EFFECT);
    expect(await rows(`SELECT present FROM user_roles WHERE role = 'B'`)).toEqual([{ present: true }]);
  });

  it('orders events by the microseconds a JavaScript Date cannot hold', async () => {
    // Both instants fall in the same millisecond.
    await store.apply(event('late', at(3, 2), change.userRole(false, 'u1', 'A')));
    expect(await store.apply(event('early', at(3, 1), change.userRole(true, 'u1', 'A')))).toEqual(NO_EFFECT);
    expect(await rows(`SELECT ${REGISTER} FROM user_roles`)).toEqual([
      { present: false, changed_at: '00:00:03.000002', event_id: 'late' },
    ]);
    // Other offsets and nanoseconds are parsed from the string as sent.
    expect(
      await store.apply(event('tz', '2025-03-01T01:00:03.000001400+01:00', change.userRole(true, 'u1', 'A'))),
    ).toEqual(NO_EFFECT);
  });

  it('reports a duplicate delivery and changes nothing', async () => {
    const events = [
      event('e1', at(1), change.memberAdded('acme', 'u1', ['BUSINESSUSER'])),
      event('e2', at(2), change.groupMember(true, 'g', 'USER', 'u1')),
      event('e3', at(3), change.userRole(false, 'u1', 'NEVER')),
    ];
    await applyAll(events);
    const before = await snapshot();
    for (const e of events) expect(await store.apply(e)).toEqual(DUPLICATE);
    // A duplicate carrying a later offset (re-published by the producer) is the same event.
    expect(await store.apply({ ...events[1]!, origin: { ...events[1]!.origin, offset: '999' } })).toEqual(
      DUPLICATE,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('returns the stored scope when an interrupted event is delivered again', async () => {
    await applyAll([
      event('s1', at(1), change.groupMember(true, 'g', 'USER', 'u1')),
      event('s2', at(1), change.groupMember(true, 'g', 'USER', 'u2')),
    ]);
    const interrupted = event('r1', at(2), change.groupRole(true, 'g', 'READER'));
    const first = await store.apply(interrupted);
    expect(first).toEqual(fanOut({ userIds: ['u1', 'u2'], groupIds: ['g'] }));
    // The membership changes before the re-delivery: the stored scope is what counts.
    await applyAll([event('s3', at(3), change.groupMember(true, 'g', 'USER', 'u3'))]);
    const before = await snapshot();

    expect(await store.apply(interrupted)).toEqual(first);
    expect(await snapshot()).toEqual(before);
    expect(await rows(`SELECT status FROM processed_events WHERE event_id = 'r1'`)).toEqual([
      { status: 'APPLIED' },
    ]);

    await store.complete('r1');
    expect(await store.apply(interrupted)).toEqual(DUPLICATE);
  });

  it('reads a redelivery whose record housekeeping deleted between claim and read as a duplicate', async () => {
    const single = event('h1', at(1), change.groupMember(true, 'g', 'USER', 'u1'));
    const inRun = event('h2', at(1), change.userRole(true, 'u2', 'ADMIN'));
    const other = event('h3', at(1), change.userRole(true, 'u3', 'ADMIN'));
    await applyAll([single, inRun, other]);
    // Housekeeping's delete lands after the claim found the completed record and before the
    // record is read: on its own connection, committed, as it would from another instance.
    const deleteRecords = async (name: string | null) => {
      if (name === 'change-earlier-run') await pool.query('DELETE FROM processed_events');
    };
    const counted = countingSql(new PgSql(pool), deleteRecords);
    const racing = new PgChangeStore(counted.sql);
    const before = await visibleState();
    const recordsLeft = async () => (await rows('SELECT event_id FROM processed_events')).length;
    const reads = () => counted.statements.filter((name) => name === 'change-earlier-run').length;

    expect(await racing.apply(single)).toEqual(DUPLICATE);
    // The race happened: the record was read after housekeeping's delete.
    expect(reads()).toBe(1);
    expect(await recordsLeft()).toBe(0);
    await applyAll([single, inRun, other]);
    // A run of user-role events reads each unclaimed event's record the same way.
    expect(await racing.applyAll([inRun, other])).toEqual([DUPLICATE, DUPLICATE]);
    expect(reads()).toBe(3);
    expect(await recordsLeft()).toBe(0);
    expect(await visibleState()).toEqual(before);
  });

  it('reads a scope stored by the previous version, which had no groups, as one without groups', async () => {
    const interrupted = event('r1', at(2), change.groupRole(true, 'g', 'READER'));
    await store.apply(interrupted);
    await pool.query(
      `UPDATE processed_events
       SET scope = '{"userIds":["u1"],"businessIds":[],"clientIds":[],"serviceIds":[],"memberships":[]}'
       WHERE event_id = 'r1'`,
    );
    expect(await store.apply(interrupted)).toEqual(fanOut({ userIds: ['u1'] }));
  });

  it('creates every entity an event names, even when the event changes nothing', async () => {
    const entities = async () => ({
      users: await rows<{ id: string }>('SELECT id FROM users ORDER BY id'),
      businesses: await rows<{ id: string }>('SELECT id FROM businesses ORDER BY id'),
      clients: await rows<{ id: string }>('SELECT id FROM clients ORDER BY id'),
      groups: await rows<{ id: string }>('SELECT id FROM groups ORDER BY id'),
    });
    const ids = (...values: string[]) => values.map((id) => ({ id }));
    await applyAll([
      event('x01', at(1), change.userRole(false, 'u-role', 'R')),
      event('x02', at(1), change.userLock(false, 'u-lock')),
      event('x03', at(1), change.clientRole(false, 'c-role', 'R')),
      event('x04', at(1), change.groupRole(false, 'g-role', 'R')),
      event('x05', at(1), change.groupMember(false, 'g-mu', 'USER', 'u-member')),
      event('x06', at(1), change.groupMember(false, 'g-mb', 'BUSINESS', 'b-member')),
      event('x07', at(1), change.groupMember(false, 'g-ms', 'SERVICE', 'svc')),
      event('x08', at(1), change.groupDependency(false, 'g-dep', 'g-dep-on')),
      event('x09', at(1), change.groupDeleted('g-deleted')),
      event('x10', at(1), change.businessRole(false, 'b-role', 'R')),
      event('x11', at(1), change.memberRemoved('b-mr', 'u-mr')),
      event('x12', at(1), change.memberRole(false, 'b-mrole', 'u-mrole', 'R')),
      event('x13', at(1), change.deactivated('b-off')),
    ]);
    expect(await entities()).toEqual({
      users: ids('u-lock', 'u-member', 'u-mr', 'u-mrole', 'u-role'),
      businesses: ids('b-member', 'b-mr', 'b-mrole', 'b-off', 'b-role'),
      clients: ids('c-role'),
      groups: ids('g-deleted', 'g-dep', 'g-dep-on', 'g-mb', 'g-ms', 'g-mu', 'g-role'),
    });
  });

  it('applies a role change in two statements: the claim (with its scope and entities), the fact', async () => {
    await applyAll([event('c0', at(0), change.userRole(false, 'u1', 'ADMIN'))]);
    const counted = countingSql(new PgSql(pool));
    const counting = new PgChangeStore(counted.sql);
    expect(await counting.apply(event('c1', at(1), change.userRole(true, 'u1', 'ADMIN')))).toEqual(
      fanOut({ userIds: ['u1'] }),
    );
    expect(counted.statements).toEqual(['change-claim-event', 'change-fact-write:user_roles']);
  });

  it('keeps the scope an event names with its claim, and drops it when the event has no effect', async () => {
    const granted = event('n1', at(1), change.userRole(true, 'u1', 'ADMIN'));
    expect(await store.apply(granted)).toEqual(fanOut({ userIds: ['u1'] }));
    expect(await store.apply(granted)).toEqual(fanOut({ userIds: ['u1'] }));
    const member = event('n2', at(1), change.memberAdded('acme', 'u1', ['X']));
    expect(await store.apply(member)).toEqual(
      fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }),
    );
    expect(await store.apply(member)).toEqual(
      fanOut({ memberships: [{ businessId: 'acme', userId: 'u1' }] }),
    );

    const stale = event('n0', at(0), change.userRole(false, 'u1', 'ADMIN'));
    expect(await store.apply(stale)).toEqual(NO_EFFECT);
    expect(await rows(`SELECT status, scope FROM processed_events WHERE event_id = 'n0'`)).toEqual([
      { status: 'COMPLETED', scope: null },
    ]);
  });

  it('replaying a whole sequence leaves the same final state', async () => {
    const sequence = [
      event('q01', at(1), change.userRole(true, 'u1', 'ADMIN')),
      event('q02', at(1), change.userLock(true, 'u2')),
      event('q03', at(2), change.userLock(false, 'u2')),
      event('q04', at(2), change.clientRole(true, 'app', 'CLI-READ')),
      event('q05', at(3), change.businessRole(true, 'acme', 'VIP')),
      event('q06', at(3), change.memberAdded('acme', 'u1', ['BUSINESSADMIN', 'BUSINESSUSER'])),
      event('q07', at(4), change.memberRole(false, 'acme', 'u1', 'BUSINESSADMIN')),
      event('q08', at(4), change.memberRole(true, 'acme', 'u3', 'BUSINESSOWNER')),
      event('q09', at(5), change.memberRemoved('acme', 'u1')),
      event('q10', at(5), change.groupMember(true, 'g1', 'USER', 'u1')),
      event('q11', at(5), change.groupMember(true, 'g2', 'BUSINESS', 'acme')),
      event('q12', at(6), change.groupDependency(true, 'g2', 'g1')),
      event('q13', at(6), change.groupRole(true, 'g1', 'READER')),
      event('q14', at(7), change.groupDeleted('g1')),
      event('q15', at(8), change.groupMember(true, 'g1', 'SERVICE', 'billing')),
      event('q16', at(8), change.userRole(false, 'u1', 'ADMIN')),
      event('q17', at(9), change.deactivated('acme')),
      event('q18', at(9), change.clientRole(false, 'app', 'CLI-READ')),
    ];
    await applyAll(sequence);
    const first = await snapshot();
    const visible = await visibleState();

    // Whole sequence again, ids remembered: every event is a duplicate.
    expect(await applyAll(sequence)).toEqual(sequence.map(() => 'duplicate'));
    expect(await snapshot()).toEqual(first);

    // Again after the processed-event records are gone: every event is stale or already true.
    await pool.query('DELETE FROM processed_events');
    expect(await applyAll(sequence)).toEqual(sequence.map(() => 'no-effect'));
    const { processed: _replayed, ...replayed } = await snapshot();
    const { processed: _original, ...original } = first;
    expect(replayed).toEqual(original);

    // From scratch, in reverse order: the last writer still wins everywhere.
    await pool.query('TRUNCATE users, businesses, clients, groups, processed_events CASCADE');
    await applyAll([...sequence].reverse());
    expect(await visibleState()).toEqual(visible);
  });
});

describe('PgChangeStore: concurrency', () => {
  // Several stores race as several instances would.
  const instances = (count: number) =>
    Array.from({ length: count }, () => new PgChangeStore(new PgSql(pool)));

  it('serializes concurrent events on the same fact: the newer one wins', async () => {
    const racing = instances(2);
    for (let round = 0; round < 20; round += 1) {
      const role = `ROLE-${round}`;
      // Half the rounds race on a fact that exists (row locks), half on one that does not (the insert).
      if (round % 4 < 2) await applyAll([event(`base-${round}`, at(0), change.userRole(false, 'u1', role))]);
      const finalState = round % 2 === 0;
      const older = event(`old-${round}`, at(1), change.userRole(!finalState, 'u1', role));
      const newer = event(`new-${round}`, at(2), change.userRole(finalState, 'u1', role));
      const pair = round % 3 === 0 ? [older, newer] : [newer, older];
      await Promise.all(pair.map((e, index) => racing[index]!.apply(e)));
      expect(await rows('SELECT present, event_id FROM user_roles WHERE role = $1', [role])).toEqual([
        { present: finalState, event_id: `new-${round}` },
      ]);
    }
  });

  it('serializes concurrent membership writes and deletions without deadlocks', async () => {
    const racing = instances(5);
    for (let round = 0; round < 10; round += 1) {
      const [a, b] = [`ga-${round}`, `gb-${round}`];
      await applyAll([
        event(`ab-${round}`, at(1), change.groupDependency(true, a, b)),
        event(`ba-${round}`, at(1), change.groupDependency(true, b, a)),
        event(`ma-${round}`, at(1), change.groupMember(true, a, 'USER', 'u1')),
      ]);
      const results = await Promise.all(
        [
          event(`del-a-${round}`, at(5), change.groupDeleted(a)),
          event(`del-b-${round}`, at(5), change.groupDeleted(b)),
          event(`late-${round}`, at(3), change.groupMember(true, a, 'USER', 'u2')),
          event(`r1-${round}`, at(2), change.memberAdded('acme', `u${round}`, ['X', 'Y', 'Z'])),
          event(`r2-${round}`, at(2), change.memberAdded('acme', `u${round}`, ['Z', 'Y', 'X'])),
        ].map((e, index) => racing[index]!.apply(e)),
      );
      expect(results.every((result) => result.kind !== 'duplicate')).toBe(true);
      expect(
        await rows('SELECT count(*)::int AS n FROM group_members WHERE group_id = $1 AND present', [a]),
      ).toEqual([{ n: 0 }]);
      expect(
        await rows(
          'SELECT count(*)::int AS n FROM group_dependencies WHERE group_id IN ($1, $2) AND present',
          [a, b],
        ),
      ).toEqual([{ n: 0 }]);
      expect(
        await rows('SELECT count(*)::int AS n FROM business_member_roles WHERE user_id = $1 AND present', [
          `u${round}`,
        ]),
      ).toEqual([{ n: 3 }]);
    }
  });

  it('fails only the bad one of concurrent events', async () => {
    const good = (index: number) => event(`g${index}`, at(1), change.userRole(true, `ok-u${index}`, 'R'));
    // A NUL in the role fails the fact write, after the claim created the event's row and its
    // user: both must roll back with it (the decoder would never let such a role through).
    const bad = event('bad', at(1), change.userRole(true, 'bad-u', 'R\u0000'));
    const results = await Promise.allSettled(
      [good(0), good(1), bad, good(2), good(3)].map((e) => store.apply(e)),
    );
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(await rows('SELECT count(*)::int AS n FROM user_roles WHERE present')).toEqual([{ n: 4 }]);
    expect(await rows(`SELECT count(*)::int AS n FROM processed_events WHERE event_id = 'bad'`)).toEqual([
      { n: 0 },
    ]);
    expect(await rows(`SELECT count(*)::int AS n FROM users WHERE id = 'bad-u'`)).toEqual([{ n: 0 }]);
  });

  it('lets only one of two concurrent deliveries of the same event apply it', async () => {
    await applyAll([event('m', at(1), change.groupMember(true, 'g', 'USER', 'u1'))]);
    const same = event('once', at(2), change.groupRole(true, 'g', 'READER'));
    const [first, second] = instances(2);
    const results = await Promise.all([first!.apply(same), second!.apply(same)]);
    // The second waited for the first to commit and found it applied, fan-out pending.
    const scope = { userIds: ['u1'], groupIds: ['g'] };
    expect(results).toEqual([fanOut(scope), fanOut(scope)]);
    expect(await rows(`SELECT count(*)::int AS n FROM processed_events WHERE event_id = 'once'`)).toEqual([
      { n: 1 },
    ]);
  });
});

describe('PgChangeStore: a run of user-role events in one statement', () => {
  /** Role tables and processed events, without the completion times (now() differs between runs). */
  async function comparable() {
    const { processed, ...tables } = await snapshot();
    return {
      ...tables,
      processed: (processed as { completed_at?: unknown }[]).map(({ completed_at: _at, ...row }) => row),
    };
  }

  it('claims and writes a run of different users in one statement', async () => {
    await applyAll([event('r0', at(0), change.userRole(true, 'u2', 'ADMIN'))]);
    const counted = countingSql(new PgSql(pool));
    const counting = new PgChangeStore(counted.sql);
    const run = [
      event('r1', at(1), change.userRole(true, 'u1', 'ADMIN')),
      event('r2', at(1), change.userRole(true, 'u2', 'ADMIN')),
      event('r3', at(1), change.userRole(false, 'u3', 'ADMIN')),
    ];
    expect(await counting.applyAll(run)).toEqual([fanOut({ userIds: ['u1'] }), NO_EFFECT, NO_EFFECT]);
    expect(counted.statements).toEqual(['change-claim-and-write-user-roles', 'change-complete-events']);
    expect(await rows(`SELECT event_id, status, scope FROM processed_events ORDER BY event_id`)).toEqual([
      { event_id: 'r0', status: 'COMPLETED', scope: null },
      { event_id: 'r1', status: 'APPLIED', scope: normalizeScope({ userIds: ['u1'] }) },
      { event_id: 'r2', status: 'COMPLETED', scope: null },
      { event_id: 'r3', status: 'COMPLETED', scope: null },
    ]);
    // The revocation of a role never held is recorded: an older grant replayed later stays out.
    expect(
      await store.applyAll([
        event('r4', at(0), change.userRole(true, 'u3', 'ADMIN')),
        event('r5', at(2), change.userRole(true, 'u4', 'X')),
      ]),
    ).toEqual([NO_EFFECT, fanOut({ userIds: ['u4'] })]);
  });

  it('ends in the same role tables, processed events and outcomes as the same events one at a time', async () => {
    const next = seededRandom(20_261_129);
    const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
    const sequence: ChangeEvent[] = [];
    for (let i = 0; i < 240; i += 1) {
      // Now and then an event delivered again, or one older than what its fact holds.
      if (i > 10 && next() < 0.1) {
        sequence.push(sequence[Math.floor(next() * sequence.length)]!);
        continue;
      }
      const user = users[Math.floor(next() * users.length)]!;
      const role = `R${Math.floor(next() * 3)}`;
      const time = at(Math.floor(next() * 10), Math.floor(next() * 3));
      sequence.push(event(`s${String(i).padStart(3, '0')}`, time, change.userRole(next() < 0.6, user, role)));
    }

    const oneAtATime = await applyAll(sequence);
    const expected = await comparable();

    await pool.query('TRUNCATE users, businesses, clients, groups, processed_events CASCADE');
    const runs = independentRuns(sequence, 64);
    expect(runs.some((run) => run.length > 3)).toBe(true);
    const together: string[] = [];
    for (const run of runs) {
      const applied = await store.applyAll(run);
      const fannedOut = run.filter((_, index) => applied[index]!.kind === 'fan-out').map((e) => e.id);
      await store.completeAll(fannedOut);
      together.push(...applied.map((outcome) => outcome.kind));
    }
    expect(together).toEqual(oneAtATime);
    expect(await comparable()).toEqual(expected);
  });

  it('writes a fact again on its own when a concurrent transaction inserted it under the statement', async () => {
    const blocker = await pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`INSERT INTO users (id) VALUES ('u1')`);
      await blocker.query(
        `INSERT INTO user_roles (user_id, role, present, changed_at, event_id)
         VALUES ('u1', 'ADMIN', true, $1::timestamptz, 'other')`,
        [at(1)],
      );
      const run = store.applyAll([
        event('c1', at(2), change.userRole(false, 'u1', 'ADMIN')),
        event('c2', at(2), change.userRole(true, 'u2', 'ADMIN')),
      ]);
      // The run waits on the uncommitted row; the grant it then finds is what its revocation flips.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await blocker.query('COMMIT');
      expect(await run).toEqual([fanOut({ userIds: ['u1'] }), fanOut({ userIds: ['u2'] })]);
    } finally {
      blocker.release();
    }
    expect(await rows(`SELECT user_id, present, event_id FROM user_roles ORDER BY 1`)).toEqual([
      { user_id: 'u1', present: false, event_id: 'c1' },
      { user_id: 'u2', present: true, event_id: 'c2' },
    ]);
  });

  it('falls back to one event at a time for a run that is not only user roles of different users', async () => {
    const counted = countingSql(new PgSql(pool));
    const counting = new PgChangeStore(counted.sql);
    expect(
      await counting.applyAll([
        event('m1', at(1), change.userRole(true, 'u1', 'ADMIN')),
        event('m2', at(1), change.userLock(true, 'u2')),
      ]),
    ).toEqual([fanOut({ userIds: ['u1'] }), fanOut({ userIds: ['u2'] })]);
    expect(counted.statements).not.toContain('change-claim-and-write-user-roles');
  });
});
