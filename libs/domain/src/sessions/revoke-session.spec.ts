import { describe, expect, it } from 'vitest';
import { EventType } from '../events/event-types';
import { aSession } from '../testing/session-fixtures';
import { revocation } from './revoke-session';
import { isLive, RevocationReason } from './session';

const now = new Date('2026-01-01T01:00:00.000Z');

describe('revocation', () => {
  const session = aSession({ id: 's1', userId: 'u1', clientId: 'c1', claimsVersion: 7, revision: 11 });
  const write = revocation(session, RevocationReason.UserLocked, now, {
    kind: 'event',
    eventId: 'e1',
    eventType: EventType.UserLocked,
    occurredAt: new Date('2026-01-01T00:00:00Z'),
  });

  it('ends the session with its reason and instant, one claims version and one revision later', () => {
    expect(write.session).toEqual({
      ...session,
      status: 'REVOKED',
      revokedReason: 'user-locked',
      revokedAt: now,
      claimsVersion: 8,
      revision: 12,
    });
    expect(isLive(write.session, now)).toBe(false);
  });

  it('guards against a concurrent writer with the revision it read', () => {
    expect(write.expectedRevision).toBe(11);
  });

  it('leaves the refresh tokens alone', () => {
    expect(write.refreshToken).toBeNull();
  });

  it('describes the revocation for downstream services', () => {
    expect(write.update).toEqual({
      type: EventType.SessionRevoked,
      sessionId: 's1',
      userId: 'u1',
      clientId: 'c1',
      reason: 'user-locked',
      claimsVersion: 8,
      cause: {
        kind: 'event',
        eventId: 'e1',
        eventType: 'iam.user.locked',
        occurredAt: new Date('2026-01-01T00:00:00Z'),
      },
    });
  });

  it('does not modify the session it is given', () => {
    expect(session.status).toBe('ACTIVE');
    expect(session.claimsVersion).toBe(7);
  });
});

describe('isLive', () => {
  const expiresAt = new Date('2026-01-01T08:00:00.000Z');

  it('is true for an active session before its end', () => {
    expect(isLive(aSession({ expiresAt }), new Date(expiresAt.getTime() - 1))).toBe(true);
  });

  it('is false at and after its end', () => {
    expect(isLive(aSession({ expiresAt }), expiresAt)).toBe(false);
    expect(isLive(aSession({ expiresAt }), new Date(expiresAt.getTime() + 1))).toBe(false);
  });

  it('is false for a revoked session', () => {
    expect(isLive(aSession({ expiresAt, status: 'REVOKED' }), now)).toBe(false);
  });

  it('names the revocation reasons of the contract', () => {
    expect(RevocationReason).toEqual({
      UserLocked: 'user-locked',
      RefreshTokenReused: 'refresh-token-reused',
      OperatorRequest: 'operator-request',
    });
  });
});
