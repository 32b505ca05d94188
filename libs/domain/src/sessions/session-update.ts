import { type EventType } from '../events/event-types';

/** What caused a token or a revocation: an HTTP call, an inbound event, or an operator. */
export type UpdateCause =
  | { readonly kind: 'http' }
  | {
      readonly kind: 'event';
      readonly eventId: string;
      readonly eventType: string;
      /** The change's `time` at its source: how stale the published token is, measured from here. */
      readonly occurredAt: Date;
    }
  | { readonly kind: 'operator' };

export const HTTP_CAUSE: UpdateCause = { kind: 'http' };

export interface TokenRenewed {
  readonly type: typeof EventType.SessionTokenRenewed;
  readonly sessionId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly businessId: string | null;
  /** The signed JWT; sealed (JWE) or not when the update is published. */
  readonly accessToken: string;
  readonly expiresAt: Date;
  readonly scope: readonly string[];
  readonly authorities: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly claimsVersion: number;
  readonly cause: UpdateCause;
}

export interface SessionRevoked {
  readonly type: typeof EventType.SessionRevoked;
  readonly sessionId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly reason: string;
  readonly claimsVersion: number;
  readonly cause: UpdateCause;
}

/** A message for downstream services on the session-update topic (key: userId). */
export type SessionUpdate = TokenRenewed | SessionRevoked;
