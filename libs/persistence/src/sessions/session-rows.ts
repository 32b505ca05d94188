import type { AuthLevel, Session, SessionStatus } from '@iam/domain';

/** The columns every session query selects, in the shape `toSession` reads. */
export const SESSION_COLUMNS = `s.id::text AS id, s.user_id, s.client_id, s.business_id, s.auth_level, s.remember_me,
  s.status, s.revoked_reason, s.revoked_at, s.created_at, s.expires_at, s.claims_version, s.revision, s.authorities,
  s.scope, s.token_id, s.token_expires_at`;

export interface SessionRow {
  id: string;
  user_id: string;
  client_id: string;
  business_id: string | null;
  auth_level: string;
  remember_me: boolean;
  status: string;
  revoked_reason: string | null;
  revoked_at: Date | null;
  created_at: Date;
  expires_at: Date;
  claims_version: number;
  revision: number;
  authorities: string[] | null;
  scope: string[] | null;
  token_id: string;
  token_expires_at: Date;
}

export function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    clientId: row.client_id,
    businessId: row.business_id,
    authLevel: row.auth_level as AuthLevel,
    rememberMe: row.remember_me,
    status: row.status as SessionStatus,
    revokedReason: row.revoked_reason,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    claimsVersion: row.claims_version,
    revision: row.revision,
    authorities: row.authorities ?? [],
    scope: row.scope ?? [],
    tokenId: row.token_id,
    tokenExpiresAt: row.token_expires_at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Session ids are UUIDs; anything else cannot name a session (and must not reach a uuid cast). */
export const isSessionId = (value: string): boolean => UUID.test(value);
