import { decodeProtectedHeader, errors, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import {
  TokenRejectedError,
  systemClock,
  type Clock,
  type TokenVerifier,
  type VerifiedToken,
} from '@iam/domain';
import { SIGNING_ALGORITHM } from '../keys/rsa-jwk';

/** What the verifier needs of the key ring. */
export interface VerificationKeySource {
  /** The public key of a kid that is published now, or undefined. */
  verificationKey(kid: string): CryptoKey | undefined;
}

export interface JoseTokenVerifierOptions {
  readonly issuer: string;
  readonly clockToleranceMs: number;
  readonly clock?: Clock;
}

/** The reasons a token is rejected: short and stable, for logs and metrics. */
export const TokenRejection = {
  TooLong: 'too-long',
  Malformed: 'malformed',
  AlgorithmNotAllowed: 'algorithm-not-allowed',
  MissingKid: 'missing-kid',
  UnknownKid: 'unknown-kid',
  BadSignature: 'bad-signature',
  WrongType: 'wrong-type',
  WrongIssuer: 'wrong-issuer',
  Expired: 'expired',
  NotYetValid: 'not-yet-valid',
  InvalidClaims: 'invalid-claims',
} as const;
export type TokenRejectionReason = (typeof TokenRejection)[keyof typeof TokenRejection];

/** Our tokens are about 1 KiB; anything far larger is refused before any decoding or cryptography. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

// Three base64url segments; the signature may be empty so that `alg: none` is named for what it is.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function reject(reason: TokenRejectionReason): never {
  throw new TokenRejectedError(reason);
}

/** Maps jose's errors to our reasons; jose's messages are dropped, they may quote header values. */
function reasonOf(error: unknown): TokenRejectionReason {
  if (error instanceof errors.JWTExpired) return TokenRejection.Expired;
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed') return TokenRejection.NotYetValid;
    if (error.claim === 'iss') return TokenRejection.WrongIssuer;
    if (error.claim === 'typ') return TokenRejection.WrongType;
    return TokenRejection.InvalidClaims;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return TokenRejection.BadSignature;
  if (error instanceof errors.JOSEAlgNotAllowed) return TokenRejection.AlgorithmNotAllowed;
  return TokenRejection.Malformed;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNonEmptyString = (value: unknown): value is string => isString(value) && value.length > 0;
const isOptionalString = (value: unknown): value is string | undefined =>
  value === undefined || isString(value);

/** Checks the claims the renewal rules rely on; a token signed by us always passes. */
function toVerifiedToken(payload: JWTPayload): VerifiedToken {
  const { jti, client_id, authorities, exp, sid, user_id, business_id } = payload;
  if (
    !isNonEmptyString(jti) ||
    !isNonEmptyString(client_id) ||
    !Array.isArray(authorities) ||
    !authorities.every(isString) ||
    typeof exp !== 'number' ||
    !isOptionalString(sid) ||
    !isOptionalString(user_id) ||
    !(business_id === undefined || business_id === null || isString(business_id))
  ) {
    return reject(TokenRejection.InvalidClaims);
  }
  return {
    tokenId: jti,
    clientId: client_id,
    authorities: [...authorities],
    sessionId: sid,
    userId: user_id,
    businessId: business_id ?? null,
    expiresAt: new Date(exp * 1_000),
  };
}

/**
 * Verifies the tokens this service signed: RS512 only, a kid the key ring
 * publishes, our issuer, exp and nbf within the clock tolerance, the claims'
 * types. Every failure is a TokenRejectedError with a short reason; the token
 * itself never appears in an error.
 */
export class JoseTokenVerifier implements TokenVerifier {
  private readonly clock: Clock;
  private readonly clockToleranceSeconds: number;

  constructor(
    private readonly keys: VerificationKeySource,
    private readonly options: JoseTokenVerifierOptions,
  ) {
    if (!(options.clockToleranceMs >= 0)) throw new RangeError('clockToleranceMs must not be negative');
    this.clock = options.clock ?? systemClock;
    this.clockToleranceSeconds = options.clockToleranceMs / 1_000;
  }

  async verify(token: string): Promise<VerifiedToken> {
    if (typeof token !== 'string') return reject(TokenRejection.Malformed);
    if (token.length > MAX_TOKEN_LENGTH) return reject(TokenRejection.TooLong);
    if (!COMPACT_JWS.test(token)) return reject(TokenRejection.Malformed);

    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return reject(TokenRejection.Malformed);
    }
    // Decided from the header before any key is chosen: `none`, HMAC with our public
    // key as the secret, and every other algorithm never reach the cryptography.
    if (header.alg !== SIGNING_ALGORITHM) return reject(TokenRejection.AlgorithmNotAllowed);
    if (!isNonEmptyString(header.kid)) return reject(TokenRejection.MissingKid);
    const key = this.keys.verificationKey(header.kid);
    if (!key) return reject(TokenRejection.UnknownKid);

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [SIGNING_ALGORITHM],
        typ: 'JWT',
        issuer: this.options.issuer,
        requiredClaims: ['jti', 'exp'],
        clockTolerance: this.clockToleranceSeconds,
        currentDate: this.clock.now(),
      }));
    } catch (error) {
      return reject(reasonOf(error));
    }
    return toVerifiedToken(payload);
  }
}
