import type { Session } from '../sessions/session';
import type { SessionPolicy } from '../sessions/session-policy';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Lifetimes used throughout the tests: 15 min tokens, 8 h sessions, 30 d remembered sessions, 30 s grace. */
export const TEST_POLICY: SessionPolicy = {
  accessTokenTtlMs: 15 * MINUTE,
  sessionTtlMs: 8 * HOUR,
  rememberMeSessionTtlMs: 30 * DAY,
  refreshReuseGraceMs: 30_000,
};

/**
 * A live session with sensible defaults; override what the test is about. Its
 * revision is its claims version unless given: a session whose every write
 * gave it a token.
 */
export function aSession(overrides: Partial<Session> = {}): Session {
  const createdAt = overrides.createdAt ?? new Date('2026-01-01T00:00:00.000Z');
  return {
    id: 'session-1',
    userId: 'user-1',
    clientId: 'client-1',
    businessId: null,
    authLevel: 'AUTH-BASIC',
    rememberMe: false,
    status: 'ACTIVE',
    revokedReason: null,
    revokedAt: null,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + TEST_POLICY.sessionTtlMs),
    claimsVersion: 1,
    revision: overrides.claimsVersion ?? 1,
    authorities: [],
    scope: ['READ'],
    tokenId: 'token-0',
    tokenExpiresAt: new Date(createdAt.getTime() + TEST_POLICY.accessTokenTtlMs),
    ...overrides,
  };
}
