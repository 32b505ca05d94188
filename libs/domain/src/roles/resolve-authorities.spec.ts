import { describe, expect, it } from 'vitest';
import { buildRoleSnapshot, type RoleFacts } from '../testing/role-facts';
import { resolveAuthorities, type Principal } from './resolve-authorities';
import { memberKey, RoleSnapshot } from './role-snapshot';

const alone: Principal = { userId: 'u1', clientId: 'c1', businessId: null, authLevel: 'AUTH-BASIC' };
const actingFor = (businessId: string): Principal => ({ ...alone, businessId });

/** A user in two businesses, a client of service s1, and groups around all of them. */
const world: RoleFacts = {
  users: { u1: { roles: ['USER', 'PERSON'] }, u2: { roles: ['USER'] } },
  clients: {
    c1: { roles: ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'], serviceId: 's1', scopes: ['READ'] },
    c2: { roles: ['CLI-3RDPARTY'] },
  },
  businesses: {
    bA: { roles: ['BIZ-A-ROLE', 'SHARED-BIZ'] },
    bB: { roles: ['BIZ-B-ROLE', 'SHARED-BIZ'] },
  },
  memberships: [
    { businessId: 'bA', userId: 'u1', roles: ['BUSINESSOWNER'] },
    { businessId: 'bB', userId: 'u1', roles: ['BUSINESSUSER'] },
  ],
  groups: {
    gUser: { roles: ['G-USER'], members: [{ type: 'USER', id: 'u1' }] },
    gService: { roles: ['G-SERVICE'], members: [{ type: 'SERVICE', id: 's1' }] },
    gClientIdNotService: { roles: ['G-WRONG-SERVICE'], members: [{ type: 'SERVICE', id: 'c1' }] },
    gBizA: { roles: ['G-BIZ-A'], members: [{ type: 'BUSINESS', id: 'bA' }] },
    gBizB: { roles: ['G-BIZ-B'], members: [{ type: 'BUSINESS', id: 'bB' }] },
    gOther: { roles: ['G-OTHER'], members: [{ type: 'USER', id: 'u2' }] },
  },
};

const snapshot = buildRoleSnapshot(world);

describe('resolveAuthorities: a user acting for themself', () => {
  it('combines client roles, auth level, user roles and the groups of the user and the service', () => {
    expect(resolveAuthorities(alone, snapshot)).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_CLI-1STPARTY',
      'ROLE_CLI-AUTH-IDENTIFIED',
      'ROLE_G-SERVICE',
      'ROLE_G-USER',
      'ROLE_PERSON',
      'ROLE_USER',
    ]);
  });

  it('carries no business role, no membership role and no business group', () => {
    const authorities = resolveAuthorities(alone, snapshot);
    for (const absent of [
      'ROLE_BUSINESS',
      'ROLE_BUSINESSOWNER',
      'ROLE_BUSINESSUSER',
      'ROLE_BIZ-A-ROLE',
      'ROLE_BIZ-B-ROLE',
      'ROLE_SHARED-BIZ',
      'ROLE_G-BIZ-A',
      'ROLE_G-BIZ-B',
    ]) {
      expect(authorities).not.toContain(absent);
    }
  });

  it('looks the service up by serviceId, not by client id', () => {
    expect(resolveAuthorities(alone, snapshot)).not.toContain('ROLE_G-WRONG-SERVICE');
  });

  it('uses the client id as the service of a client without a service of its own', () => {
    const facts = buildRoleSnapshot({
      clients: { c2: { roles: ['CLI-3RDPARTY'] } },
      groups: { g: { roles: ['G-OWN-SERVICE'], members: [{ type: 'SERVICE', id: 'c2' }] } },
    });
    expect(resolveAuthorities({ ...alone, clientId: 'c2' }, facts)).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_CLI-3RDPARTY',
      'ROLE_G-OWN-SERVICE',
    ]);
  });

  it.each(['AUTH-BASIC', 'AUTH-IDENTIFIED', 'AUTH-MFA'] as const)(
    'carries the session level %s only',
    (level) => {
      const authorities = resolveAuthorities({ ...alone, authLevel: level }, snapshot);
      expect(authorities).toContain(`ROLE_${level}`);
      expect(authorities.filter((a) => a.startsWith('ROLE_AUTH-'))).toEqual([`ROLE_${level}`]);
    },
  );

  it('prefixes every role with ROLE_, sorts and deduplicates', () => {
    const facts = buildRoleSnapshot({
      users: { u1: { roles: ['ZED', 'USER', 'AUTH-BASIC', 'USER'] } },
      clients: { c1: { roles: ['USER', 'CLI-X'] } },
      groups: {
        g1: { roles: ['ZED', 'ALPHA'], members: [{ type: 'USER', id: 'u1' }] },
        g2: { roles: ['ALPHA'], members: [{ type: 'USER', id: 'u1' }] },
      },
    });
    expect(resolveAuthorities(alone, facts)).toEqual([
      'ROLE_ALPHA',
      'ROLE_AUTH-BASIC',
      'ROLE_CLI-X',
      'ROLE_USER',
      'ROLE_ZED',
    ]);
  });

  it('gives only the auth level when no fact is known', () => {
    expect(resolveAuthorities(alone, buildRoleSnapshot({}))).toEqual(['ROLE_AUTH-BASIC']);
  });

  it('ignores the service groups when the client is unknown', () => {
    const facts = buildRoleSnapshot({
      users: { u1: { roles: ['USER'] } },
      groups: { g: { roles: ['G-SERVICE'], members: [{ type: 'SERVICE', id: 'c1' }] } },
    });
    expect(resolveAuthorities(alone, facts)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_USER']);
  });

  it("does not mix in another user's roles or groups", () => {
    const authorities = resolveAuthorities(alone, snapshot);
    expect(authorities).not.toContain('ROLE_G-OTHER');
    expect(resolveAuthorities({ ...alone, userId: 'u2' }, snapshot)).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_CLI-1STPARTY',
      'ROLE_CLI-AUTH-IDENTIFIED',
      'ROLE_G-OTHER',
      'ROLE_G-SERVICE',
      'ROLE_USER',
    ]);
  });
});

describe('resolveAuthorities: a user acting for a business', () => {
  it("adds the membership's roles, BUSINESS, the business's roles and the business's groups", () => {
    expect(resolveAuthorities(actingFor('bA'), snapshot)).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_BIZ-A-ROLE',
      'ROLE_BUSINESS',
      'ROLE_BUSINESSOWNER',
      'ROLE_CLI-1STPARTY',
      'ROLE_CLI-AUTH-IDENTIFIED',
      'ROLE_G-BIZ-A',
      'ROLE_G-SERVICE',
      'ROLE_G-USER',
      'ROLE_PERSON',
      'ROLE_SHARED-BIZ',
      'ROLE_USER',
    ]);
  });

  it("switching from business A to B replaces A's roles by B's", () => {
    const forA = resolveAuthorities(actingFor('bA'), snapshot);
    const forB = resolveAuthorities(actingFor('bB'), snapshot);
    expect(forB).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_BIZ-B-ROLE',
      'ROLE_BUSINESS',
      'ROLE_BUSINESSUSER',
      'ROLE_CLI-1STPARTY',
      'ROLE_CLI-AUTH-IDENTIFIED',
      'ROLE_G-BIZ-B',
      'ROLE_G-SERVICE',
      'ROLE_G-USER',
      'ROLE_PERSON',
      'ROLE_SHARED-BIZ',
      'ROLE_USER',
    ]);
    expect(forA.filter((a) => !forB.includes(a))).toEqual([
      'ROLE_BIZ-A-ROLE',
      'ROLE_BUSINESSOWNER',
      'ROLE_G-BIZ-A',
    ]);
    expect(forB.filter((a) => !forA.includes(a))).toEqual([
      'ROLE_BIZ-B-ROLE',
      'ROLE_BUSINESSUSER',
      'ROLE_G-BIZ-B',
    ]);
  });

  it('going back to acting alone drops every business role', () => {
    const forA = resolveAuthorities(actingFor('bA'), snapshot);
    const back = resolveAuthorities(alone, snapshot);
    expect(forA.filter((a) => !back.includes(a))).toEqual([
      'ROLE_BIZ-A-ROLE',
      'ROLE_BUSINESS',
      'ROLE_BUSINESSOWNER',
      'ROLE_G-BIZ-A',
      'ROLE_SHARED-BIZ',
    ]);
    expect(back.filter((a) => !forA.includes(a))).toEqual([]);
  });

  it('adds BUSINESS even when the business and the membership are unknown (the caller checked membership)', () => {
    expect(resolveAuthorities(actingFor('unknown'), buildRoleSnapshot({}))).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_BUSINESS',
    ]);
  });

  it('contributes nothing for a membership without roles', () => {
    const facts = buildRoleSnapshot({
      businesses: { b: { roles: [] } },
      memberships: [{ businessId: 'b', userId: 'u1', roles: [] }],
    });
    expect(resolveAuthorities(actingFor('b'), facts)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_BUSINESS']);
  });

  it("does not take another user's membership roles in the same business", () => {
    const facts = buildRoleSnapshot({
      businesses: { b: {} },
      memberships: [
        { businessId: 'b', userId: 'u1', roles: ['BUSINESSUSER'] },
        { businessId: 'b', userId: 'u2', roles: ['BUSINESSOWNER'] },
      ],
    });
    expect(resolveAuthorities(actingFor('b'), facts)).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_BUSINESS',
      'ROLE_BUSINESSUSER',
    ]);
  });
});

describe('resolveAuthorities: groups and their dependencies', () => {
  it('follows dependencies of the user, the service and the business groups transitively', () => {
    const facts = buildRoleSnapshot({
      clients: { c1: { serviceId: 's1' } },
      businesses: { b: {} },
      memberships: [{ businessId: 'b', userId: 'u1', roles: [] }],
      groups: {
        gu: { roles: ['U0'], dependsOn: ['gu1'], members: [{ type: 'USER', id: 'u1' }] },
        gu1: { roles: ['U1'], dependsOn: ['gu2'] },
        gu2: { roles: ['U2'] },
        gs: { roles: ['S0'], dependsOn: ['gs1'], members: [{ type: 'SERVICE', id: 's1' }] },
        gs1: { roles: ['S1'] },
        gb: { roles: ['B0'], dependsOn: ['gb1'], members: [{ type: 'BUSINESS', id: 'b' }] },
        gb1: { roles: ['B1'], dependsOn: ['gb2'] },
        gb2: { roles: ['B2'] },
      },
    });
    expect(resolveAuthorities(actingFor('b'), facts)).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_B0',
      'ROLE_B1',
      'ROLE_B2',
      'ROLE_BUSINESS',
      'ROLE_S0',
      'ROLE_S1',
      'ROLE_U0',
      'ROLE_U1',
      'ROLE_U2',
    ]);
    // Not acting for the business: its groups and their dependencies are absent.
    expect(resolveAuthorities(alone, facts)).toEqual([
      'ROLE_AUTH-BASIC',
      'ROLE_S0',
      'ROLE_S1',
      'ROLE_U0',
      'ROLE_U1',
      'ROLE_U2',
    ]);
  });

  it('grants all three groups of a cycle g1 → g2 → g3 → g1', () => {
    const facts = buildRoleSnapshot({
      groups: {
        g1: { roles: ['R1'], dependsOn: ['g2'], members: [{ type: 'USER', id: 'u1' }] },
        g2: { roles: ['R2'], dependsOn: ['g3'] },
        g3: { roles: ['R3'], dependsOn: ['g1'] },
      },
    });
    expect(resolveAuthorities(alone, facts)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_R1', 'ROLE_R2', 'ROLE_R3']);
  });

  it('grants a self-dependent group once', () => {
    const facts = buildRoleSnapshot({
      groups: { g1: { roles: ['R1'], dependsOn: ['g1'], members: [{ type: 'USER', id: 'u1' }] } },
    });
    expect(resolveAuthorities(alone, facts)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_R1']);
  });

  it('walks a chain of 10,000 groups', () => {
    const count = 10_000;
    const groups: Record<
      string,
      { roles: string[]; dependsOn: string[]; members?: { type: 'USER'; id: string }[] }
    > = {};
    for (let i = 0; i < count; i += 1) {
      groups[`g${i}`] = { roles: [`R${i}`], dependsOn: i + 1 < count ? [`g${i + 1}`] : [] };
    }
    groups.g0!.members = [{ type: 'USER', id: 'u1' }];
    const authorities = resolveAuthorities(alone, buildRoleSnapshot({ groups }));
    expect(authorities).toHaveLength(count + 1);
    expect(authorities).toContain('ROLE_R0');
    expect(authorities).toContain('ROLE_R9999');
    expect(authorities).toContain('ROLE_AUTH-BASIC');
  });

  it('ignores a dependency on a group that is not in the snapshot (deleted)', () => {
    const facts = buildRoleSnapshot({
      groups: { g1: { roles: ['R1'], dependsOn: ['gone'], members: [{ type: 'USER', id: 'u1' }] } },
    });
    expect(resolveAuthorities(alone, facts)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_R1']);
  });

  it('does not grant groups that nothing of the principal reaches', () => {
    const facts = buildRoleSnapshot({
      groups: {
        g1: { roles: ['R1'], members: [{ type: 'USER', id: 'u1' }] },
        // g2 depends on g1, but g1 does not depend on g2: g2 is not reachable.
        g2: { roles: ['R2'], dependsOn: ['g1'] },
        g3: { roles: ['R3'] },
        g4: { roles: ['R4'], members: [{ type: 'BUSINESS', id: 'b-elsewhere' }] },
      },
    });
    expect(resolveAuthorities(alone, facts)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_R1']);
  });

  it('contributes nothing for a group the user belongs to but that has no facts (deleted)', () => {
    const withDangling = new RoleSnapshot({
      users: new Map([['u1', { locked: false, roles: ['USER'] }]]),
      clients: new Map(),
      businesses: new Map(),
      memberships: new Map(),
      groupsOfMember: new Map([[memberKey('USER', 'u1'), ['deleted-group']]]),
      groups: new Map(),
    });
    expect(resolveAuthorities(alone, withDangling)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_USER']);
  });
});
