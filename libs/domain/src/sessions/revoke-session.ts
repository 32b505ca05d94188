import { EventType } from '../events/event-types';
import type { Session } from './session';
import type { SessionRevoked, UpdateCause } from './session-update';
import type { SessionWrite } from './session-repository';

/** The write that ends a session: its version grows, its refresh tokens stop working. */
export function revocation(session: Session, reason: string, now: Date, cause: UpdateCause): SessionWrite {
  const claimsVersion = session.claimsVersion + 1;
  const revoked: Session = {
    ...session,
    status: 'REVOKED',
    revokedReason: reason,
    revokedAt: now,
    claimsVersion,
    revision: session.revision + 1,
  };
  const update: SessionRevoked = {
    type: EventType.SessionRevoked,
    sessionId: session.id,
    userId: session.userId,
    clientId: session.clientId,
    reason,
    claimsVersion,
    cause,
  };
  return {
    session: revoked,
    expectedRevision: session.revision,
    // A revoked session refuses its refresh tokens by its status; they need no change.
    refreshToken: null,
    update,
  };
}
