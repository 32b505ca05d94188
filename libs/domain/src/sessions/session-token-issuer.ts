import { EventType } from '../events/event-types';
import type { IdGenerator } from '../ports/id-generator';
import { diffAuthorities } from '../roles/authorities';
import { userTokenClaims, type TokenSigner } from '../tokens/access-token';
import type { Session } from './session';
import type { SessionWrite } from './session-repository';
import { accessTokenExpiry, type SessionPolicy } from './session-policy';
import type { TokenRenewed, UpdateCause } from './session-update';

export interface SessionClaims {
  readonly businessId: string | null;
  readonly authorities: readonly string[];
  readonly scope: readonly string[];
  /** The session's absolute end after this token. */
  readonly expiresAt: Date;
}

export interface IssuedToken {
  readonly session: Session;
  readonly accessToken: string;
  readonly update: TokenRenewed;
}

/**
 * Gives a session its next token: the one place where a session's claims
 * version grows, its token is signed and the update downstream services
 * receive is described. The HTTP path and the event path both come here.
 */
export class SessionTokenIssuer {
  constructor(
    private readonly signer: TokenSigner,
    private readonly ids: IdGenerator,
    private readonly issuer: string,
    private readonly policy: SessionPolicy,
  ) {}

  async issue(current: Session, next: SessionClaims, now: Date, cause: UpdateCause): Promise<IssuedToken> {
    const claimsVersion = current.claimsVersion + 1;
    const tokenId = this.ids.uuid();
    const tokenExpiresAt = accessTokenExpiry(this.policy, now, next.expiresAt);
    const accessToken = await this.signer.sign(
      userTokenClaims({
        tokenId,
        issuer: this.issuer,
        sessionId: current.id,
        userId: current.userId,
        clientId: current.clientId,
        businessId: next.businessId,
        scope: next.scope,
        authorities: next.authorities,
        claimsVersion,
        issuedAt: now,
        expiresAt: tokenExpiresAt,
      }),
    );
    const session: Session = {
      ...current,
      businessId: next.businessId,
      authorities: next.authorities,
      scope: next.scope,
      expiresAt: next.expiresAt,
      claimsVersion,
      revision: current.revision + 1,
      tokenId,
      tokenExpiresAt,
    };
    const { added, removed } = diffAuthorities(current.authorities, next.authorities);
    return {
      session,
      accessToken,
      update: {
        type: EventType.SessionTokenRenewed,
        sessionId: session.id,
        userId: session.userId,
        clientId: session.clientId,
        businessId: session.businessId,
        accessToken,
        expiresAt: tokenExpiresAt,
        scope: session.scope,
        authorities: session.authorities,
        added,
        removed,
        claimsVersion,
        cause,
      },
    };
  }
}

/**
 * The write that gives a session the token just issued to it, checked against
 * the revision it was issued from; its refresh tokens stay as they are (only a
 * renewal by the user rotates them).
 */
export function reissue(current: Session, issued: IssuedToken): SessionWrite {
  return {
    session: issued.session,
    expectedRevision: current.revision,
    refreshToken: null,
    update: issued.update,
  };
}
