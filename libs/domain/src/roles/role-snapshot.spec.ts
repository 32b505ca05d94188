import { describe, expect, it } from 'vitest';
import { buildRoleSnapshot } from '../testing/role-facts';
import { memberKey, membershipKey } from './role-snapshot';

describe('RoleSnapshot', () => {
  const snapshot = buildRoleSnapshot({
    users: { u1: { roles: ['USER'] }, locked: { locked: true } },
    businesses: { active: { roles: ['B'] }, inactive: { active: false } },
    memberships: [
      { businessId: 'active', userId: 'u1', roles: ['BUSINESSOWNER'] },
      { businessId: 'inactive', userId: 'u1', roles: ['BUSINESSOWNER'] },
      { businessId: 'unknown-business', userId: 'u1', roles: [] },
    ],
    groups: { g: { roles: ['G'], members: [{ type: 'USER', id: 'u1' }] } },
  });

  it('reads missing facts as none', () => {
    expect(snapshot.user('nobody')).toBeUndefined();
    expect(snapshot.client('nobody')).toBeUndefined();
    expect(snapshot.business('nobody')).toBeUndefined();
    expect(snapshot.group('nobody')).toBeUndefined();
    expect(snapshot.membershipRoles('active', 'nobody')).toBeUndefined();
    expect(snapshot.groupsOf('USER', 'nobody')).toEqual([]);
  });

  it('reads the facts it holds', () => {
    expect(snapshot.user('locked')?.locked).toBe(true);
    expect(snapshot.membershipRoles('active', 'u1')).toEqual(['BUSINESSOWNER']);
    expect(snapshot.groupsOf('USER', 'u1')).toEqual(['g']);
    expect(snapshot.groupsOf('BUSINESS', 'u1')).toEqual([]);
  });

  it('lets a user act for an active business they belong to', () => {
    expect(snapshot.canActFor('active', 'u1')).toBe(true);
  });

  it('refuses a business the user does not belong to', () => {
    expect(snapshot.canActFor('active', 'locked')).toBe(false);
  });

  it('refuses an inactive business', () => {
    expect(snapshot.canActFor('inactive', 'u1')).toBe(false);
  });

  it('refuses an unknown business even with a membership', () => {
    expect(snapshot.canActFor('unknown-business', 'u1')).toBe(false);
  });

  it('keys memberships and group members without collisions between parts', () => {
    expect(membershipKey('a', 'b')).not.toBe(membershipKey('a\u0000b', ''));
    expect(membershipKey('ab', 'c')).not.toBe(membershipKey('a', 'bc'));
    expect(memberKey('USER', 'x')).not.toBe(memberKey('SERVICE', 'x'));
  });
});
