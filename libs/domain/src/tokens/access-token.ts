/**
 * The claims of the JWTs this service signs, in the order they are written:
 * `jti` first, as in AuthMe's tokens. Times are epoch seconds.
 */
export interface AccessTokenClaims {
  readonly jti: string;
  readonly iss: string;
  readonly sub: string;
  readonly sid?: string;
  readonly client_id: string;
  readonly user_id?: string;
  readonly business_id?: string | null;
  readonly scope: readonly string[];
  readonly authorities: readonly string[];
  readonly claims_version?: number;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
}

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1_000);

export interface UserTokenContent {
  readonly tokenId: string;
  readonly issuer: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly businessId: string | null;
  readonly scope: readonly string[];
  readonly authorities: readonly string[];
  readonly claimsVersion: number;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

export function userTokenClaims(content: UserTokenContent): AccessTokenClaims {
  const iat = epochSeconds(content.issuedAt);
  return {
    jti: content.tokenId,
    iss: content.issuer,
    sub: content.userId,
    sid: content.sessionId,
    client_id: content.clientId,
    user_id: content.userId,
    business_id: content.businessId,
    scope: content.scope,
    authorities: content.authorities,
    claims_version: content.claimsVersion,
    iat,
    nbf: iat,
    exp: epochSeconds(content.expiresAt),
  };
}

export interface ClientTokenContent {
  readonly tokenId: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly scope: readonly string[];
  readonly authorities: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

export function clientTokenClaims(content: ClientTokenContent): AccessTokenClaims {
  const iat = epochSeconds(content.issuedAt);
  return {
    jti: content.tokenId,
    iss: content.issuer,
    sub: content.clientId,
    client_id: content.clientId,
    scope: content.scope,
    authorities: content.authorities,
    iat,
    nbf: iat,
    exp: epochSeconds(content.expiresAt),
  };
}

/** What a verified token of ours tells the renewal rules. */
export interface VerifiedToken {
  readonly tokenId: string;
  readonly clientId: string;
  readonly authorities: readonly string[];
  /** Present on user tokens only. */
  readonly sessionId: string | undefined;
  readonly userId: string | undefined;
  readonly businessId: string | null;
  readonly expiresAt: Date;
}

export interface TokenSigner {
  /** Signs the claims (RS512, with the active key's `kid`) into a compact JWT. */
  sign(claims: AccessTokenClaims): Promise<string>;
}

/** Thrown by a TokenVerifier; the reason is for logs and metrics, never for the caller. */
export class TokenRejectedError extends Error {
  constructor(readonly reason: string) {
    super(`token rejected: ${reason}`);
    this.name = 'TokenRejectedError';
  }
}

export interface TokenVerifier {
  /** Verifies signature (RS512 only, known `kid`), issuer and lifetime; throws TokenRejectedError. */
  verify(token: string): Promise<VerifiedToken>;
}
