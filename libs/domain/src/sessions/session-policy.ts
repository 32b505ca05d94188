import type { Session } from './session';

/** Lifetimes of sessions and tokens (configuration). */
export interface SessionPolicy {
  readonly accessTokenTtlMs: number;
  readonly sessionTtlMs: number;
  readonly rememberMeSessionTtlMs: number;
  readonly refreshReuseGraceMs: number;
}

export function sessionLifetimeMs(policy: SessionPolicy, rememberMe: boolean): number {
  return rememberMe ? policy.rememberMeSessionTtlMs : policy.sessionTtlMs;
}

/** The absolute end of a session that starts now. */
export function initialExpiry(policy: SessionPolicy, rememberMe: boolean, now: Date): Date {
  return new Date(now.getTime() + sessionLifetimeMs(policy, rememberMe));
}

/**
 * The absolute end after a renewal: remember-me may shorten a session (a user
 * who is no longer remembered), never lengthen it past what it started with.
 */
export function renewedExpiry(session: Session, policy: SessionPolicy, rememberMe: boolean): Date {
  const limit = session.createdAt.getTime() + sessionLifetimeMs(policy, rememberMe);
  return new Date(Math.min(session.expiresAt.getTime(), limit));
}

/** An access token never outlives its session. */
export function accessTokenExpiry(policy: SessionPolicy, now: Date, sessionExpiresAt: Date): Date {
  return new Date(Math.min(now.getTime() + policy.accessTokenTtlMs, sessionExpiresAt.getTime()));
}
