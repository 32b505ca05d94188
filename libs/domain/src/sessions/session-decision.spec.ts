import { describe, expect, it } from 'vitest';
import type { Session } from './session';
import { buildRoleSnapshot, type RoleFacts } from '../testing/role-facts';
import { aSession, HOUR } from '../testing/session-fixtures';
import { decideSession } from './session-decision';

const now = new Date('2026-01-01T01:00:00.000Z');

const facts: RoleFacts = {
  users: { u1: { roles: ['USER'] }, locked: { locked: true, roles: ['USER'] } },
  clients: { c1: { roles: ['CLI-1STPARTY'] } },
  businesses: { bA: { roles: ['BIZ-A'] }, bOff: { active: false, roles: ['BIZ-OFF'] } },
  memberships: [
    { businessId: 'bA', userId: 'u1', roles: ['BUSINESSOWNER'] },
    { businessId: 'bOff', userId: 'u1', roles: ['BUSINESSOWNER'] },
  ],
};
const snapshot = buildRoleSnapshot(facts);

const ALONE = ['ROLE_AUTH-BASIC', 'ROLE_CLI-1STPARTY', 'ROLE_USER'];
const FOR_A = [
  'ROLE_AUTH-BASIC',
  'ROLE_BIZ-A',
  'ROLE_BUSINESS',
  'ROLE_BUSINESSOWNER',
  'ROLE_CLI-1STPARTY',
  'ROLE_USER',
];

const session = (overrides: Partial<Session>): Session =>
  aSession({
    userId: 'u1',
    clientId: 'c1',
    scope: ['READ'],
    expiresAt: new Date(now.getTime() + HOUR),
    ...overrides,
  });

describe('decideSession', () => {
  it('leaves a session whose authorities are current unchanged', () => {
    expect(decideSession(session({ authorities: ALONE }), snapshot, now)).toEqual({ kind: 'unchanged' });
  });

  it('compares authorities regardless of order', () => {
    expect(decideSession(session({ authorities: [...ALONE].reverse() }), snapshot, now)).toEqual({
      kind: 'unchanged',
    });
  });

  it('re-issues when the authorities changed, keeping scope and lifetime', () => {
    const stale = session({ authorities: ['ROLE_AUTH-BASIC', 'ROLE_OLD'] });
    expect(decideSession(stale, snapshot, now)).toEqual({
      kind: 'reissue',
      claims: { businessId: null, authorities: ALONE, scope: ['READ'], expiresAt: stale.expiresAt },
    });
  });

  it('re-issues for the same business when its roles changed', () => {
    const stale = session({ businessId: 'bA', authorities: ALONE });
    expect(decideSession(stale, snapshot, now)).toEqual({
      kind: 'reissue',
      claims: { businessId: 'bA', authorities: FOR_A, scope: ['READ'], expiresAt: stale.expiresAt },
    });
  });

  it('leaves a session acting for a business unchanged when nothing changed', () => {
    expect(decideSession(session({ businessId: 'bA', authorities: FOR_A }), snapshot, now)).toEqual({
      kind: 'unchanged',
    });
  });

  it('falls back to the user alone when the user left the business', () => {
    const left = buildRoleSnapshot({ ...facts, memberships: [] });
    expect(decideSession(session({ businessId: 'bA', authorities: FOR_A }), left, now)).toEqual({
      kind: 'reissue',
      claims: {
        businessId: null,
        authorities: ALONE,
        scope: ['READ'],
        expiresAt: new Date(now.getTime() + HOUR),
      },
    });
  });

  it('falls back to the user alone when the business was deactivated', () => {
    const decision = decideSession(session({ businessId: 'bOff', authorities: FOR_A }), snapshot, now);
    expect(decision).toMatchObject({ kind: 'reissue', claims: { businessId: null, authorities: ALONE } });
  });

  it('falls back even if the authorities would be the same (the business changes)', () => {
    // A session whose stored authorities already equal the user's own ones, but still names the business.
    const decision = decideSession(session({ businessId: 'bOff', authorities: ALONE }), snapshot, now);
    expect(decision).toMatchObject({ kind: 'reissue', claims: { businessId: null, authorities: ALONE } });
  });

  it("revokes a locked user's session", () => {
    expect(decideSession(session({ userId: 'locked' }), snapshot, now)).toEqual({
      kind: 'revoke',
      reason: 'user-locked',
    });
  });

  it('leaves a revoked session unchanged, even for a locked user or stale authorities', () => {
    expect(decideSession(session({ status: 'REVOKED', userId: 'locked' }), snapshot, now)).toEqual({
      kind: 'unchanged',
    });
    expect(decideSession(session({ status: 'REVOKED', authorities: [] }), snapshot, now)).toEqual({
      kind: 'unchanged',
    });
  });

  it('leaves an expired session unchanged', () => {
    expect(decideSession(session({ expiresAt: now, authorities: [] }), snapshot, now)).toEqual({
      kind: 'unchanged',
    });
    expect(decideSession(session({ expiresAt: now, userId: 'locked' }), snapshot, now)).toEqual({
      kind: 'unchanged',
    });
  });

  it("resolves with the session's own authentication level", () => {
    const decision = decideSession(session({ authLevel: 'AUTH-MFA', authorities: ALONE }), snapshot, now);
    expect(decision).toMatchObject({
      kind: 'reissue',
      claims: { authorities: ['ROLE_AUTH-MFA', 'ROLE_CLI-1STPARTY', 'ROLE_USER'] },
    });
  });
});
