import { sameAuthorities } from '../roles/authorities';
import { resolveAuthorities } from '../roles/resolve-authorities';
import type { RoleSnapshot } from '../roles/role-snapshot';
import { isLive, RevocationReason, type Session } from './session';
import type { SessionWrite } from './session-repository';
import type { SessionClaims } from './session-token-issuer';

/** What a session needs after the role facts changed. */
export type SessionDecision =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'revoke'; readonly reason: string }
  | { readonly kind: 'reissue'; readonly claims: SessionClaims };

/**
 * Compares a live session's latest token with what the current role facts
 * grant: a locked user's session ends; a session acting for a business the user
 * no longer belongs to (or that was deactivated) falls back to the user's own
 * roles; otherwise it gets a new token only if its authorities changed.
 */
export function decideSession(session: Session, snapshot: RoleSnapshot, now: Date): SessionDecision {
  if (!isLive(session, now)) return { kind: 'unchanged' };
  if (snapshot.user(session.userId)?.locked) return { kind: 'revoke', reason: RevocationReason.UserLocked };

  const businessId =
    session.businessId !== null && snapshot.canActFor(session.businessId, session.userId)
      ? session.businessId
      : null;
  const authorities = resolveAuthorities(
    { userId: session.userId, clientId: session.clientId, businessId, authLevel: session.authLevel },
    snapshot,
  );
  if (businessId === session.businessId && sameAuthorities(authorities, session.authorities)) {
    return { kind: 'unchanged' };
  }
  return {
    kind: 'reissue',
    claims: { businessId, authorities, scope: session.scope, expiresAt: session.expiresAt },
  };
}

/**
 * The write a fan-out makes for a session it found already right: nothing
 * changes but the revision, and nothing is published. It is what makes a
 * decision of "unchanged" safe without reading the facts twice: a concurrent
 * writer that read the facts before this change committed (and would write
 * what they said then) read an older revision too, so its compare-and-set
 * fails and it decides again on the facts as they are now.
 */
export function confirmation(session: Session): SessionWrite {
  return {
    session: { ...session, revision: session.revision + 1 },
    expectedRevision: session.revision,
    refreshToken: null,
    update: null,
  };
}
