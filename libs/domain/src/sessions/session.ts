import type { AuthLevel } from '../roles/authorities';

export type SessionStatus = 'ACTIVE' | 'REVOKED';

/** A user's server-side session with one client; every token it receives carries its id (`sid`). */
export interface Session {
  readonly id: string;
  readonly userId: string;
  readonly clientId: string;
  readonly businessId: string | null;
  readonly authLevel: AuthLevel;
  readonly rememberMe: boolean;
  readonly status: SessionStatus;
  readonly revokedReason: string | null;
  readonly revokedAt: Date | null;
  readonly createdAt: Date;
  /** Absolute end: renewals may shorten it, never extend it. */
  readonly expiresAt: Date;
  /** Grows by one with every token the session receives. */
  readonly claimsVersion: number;
  /**
   * Grows by one with every write to the session: a token, a revocation, or a
   * fan-out's check that found it already right. Writes compare-and-set on it.
   */
  readonly revision: number;
  /** The authorities and scope of the session's latest token. */
  readonly authorities: readonly string[];
  readonly scope: readonly string[];
  readonly tokenId: string;
  readonly tokenExpiresAt: Date;
}

export function isLive(session: Session, now: Date): boolean {
  return session.status === 'ACTIVE' && session.expiresAt.getTime() > now.getTime();
}

/** Why a session ended; carried by `iam.session.revoked`. */
export const RevocationReason = {
  UserLocked: 'user-locked',
  RefreshTokenReused: 'refresh-token-reused',
  OperatorRequest: 'operator-request',
} as const;
