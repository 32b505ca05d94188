import { verify, type KeyObject } from 'node:crypto';
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
  verificationKey(kid: string): KeyObject | undefined;
}

/** A verified token and the kid of the key that verified it. */
export interface KeyedVerification {
  readonly verified: VerifiedToken;
  readonly kid: string;
}

/** A TokenVerifier that also says which key verified a token (for a cache that must forget withdrawn keys). */
export interface KeyedTokenVerifier extends TokenVerifier {
  verifyKeyed(token: string): Promise<KeyedVerification>;
}

export interface Rs512TokenVerifierOptions {
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

const isString = (value: unknown): value is string => typeof value === 'string';
const isNonEmptyString = (value: unknown): value is string => isString(value) && value.length > 0;
const isOptionalString = (value: unknown): value is string | undefined =>
  value === undefined || isString(value);

/** Checks the claims the renewal rules rely on; a token signed by us always passes. */
function toVerifiedToken(payload: JsonObject): VerifiedToken {
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

type JsonObject = { readonly [claim: string]: unknown };

const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A base64url segment holding a JSON object, or undefined. */
function decodeJsonObject(segment: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The most seconds a JavaScript Date can hold: `1e400` parses as Infinity, which would never expire. */
const MAX_TIME_SECONDS = 8.64e12;

/** A NumericDate (RFC 7519 §2) a Date can represent. */
const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= MAX_TIME_SECONDS;

/** `typ` compared as RFC 7515 §4.1.9 suggests: case-insensitive, `application/` omitted. */
const normalizedType = (typ: unknown): unknown =>
  typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : typ;

/** RS512: RSASSA-PKCS1-v1_5 over SHA-512 (RFC 7518 §3.3), node:crypto's default padding for RSA keys. */
function signatureMatches(signingInput: string, signature: string, key: KeyObject): boolean {
  const bytes = Buffer.from(signature, 'base64url');
  // One encoding per signature: a token cannot be varied in its unused trailing bits.
  if (bytes.toString('base64url') !== signature) return false;
  return verify('sha512', Buffer.from(signingInput), key, bytes);
}

/**
 * Verifies the tokens this service signed: RS512 only, a kid the key ring
 * publishes, our issuer, exp and nbf within the clock tolerance, the claims'
 * types. Every failure is a TokenRejectedError with a short reason; the token
 * itself never appears in an error.
 *
 * Written on node:crypto rather than jose's jwtVerify, with the same checks
 * (the security corpus in rs512-token.spec.ts runs jose-made tokens through
 * them), done in place (~50 µs of CPU) instead of a WebCrypto job per token;
 * under load that saved little of the main thread (docs/benchmarks-history.md,
 * fourth session). Checked in this order: shape, header, algorithm, kid, `crit`,
 * signature, then the claims, so nothing unsigned is interpreted beyond what
 * choosing the key needs.
 */
export class Rs512TokenVerifier implements KeyedTokenVerifier {
  private readonly clock: Clock;
  private readonly clockToleranceSeconds: number;

  constructor(
    private readonly keys: VerificationKeySource,
    private readonly options: Rs512TokenVerifierOptions,
  ) {
    if (!(options.clockToleranceMs >= 0)) throw new RangeError('clockToleranceMs must not be negative');
    this.clock = options.clock ?? systemClock;
    this.clockToleranceSeconds = options.clockToleranceMs / 1_000;
  }

  async verify(token: string): Promise<VerifiedToken> {
    return (await this.verifyKeyed(token)).verified;
  }

  // Synchronous work behind the port's promise: a rejection arrives as a rejected promise.
  async verifyKeyed(token: string): Promise<KeyedVerification> {
    if (typeof token !== 'string') return reject(TokenRejection.Malformed);
    if (token.length > MAX_TOKEN_LENGTH) return reject(TokenRejection.TooLong);
    if (!COMPACT_JWS.test(token)) return reject(TokenRejection.Malformed);
    const [encodedHeader, encodedPayload, signature] = token.split('.') as [string, string, string];

    const header = decodeJsonObject(encodedHeader);
    if (!header) return reject(TokenRejection.Malformed);
    // Decided from the header before any key is chosen: `none`, HMAC with our public
    // key as the secret, and every other algorithm never reach the cryptography.
    if (header.alg !== SIGNING_ALGORITHM) return reject(TokenRejection.AlgorithmNotAllowed);
    if (!isNonEmptyString(header.kid)) return reject(TokenRejection.MissingKid);
    const key = this.keys.verificationKey(header.kid);
    if (!key) return reject(TokenRejection.UnknownKid);
    // We understand no extension (RFC 7515 §4.1.11): a token that requires one is not ours.
    if (header.crit !== undefined) return reject(TokenRejection.Malformed);
    if (!signatureMatches(`${encodedHeader}.${encodedPayload}`, signature, key)) {
      return reject(TokenRejection.BadSignature);
    }

    const payload = decodeJsonObject(encodedPayload);
    if (!payload) return reject(TokenRejection.Malformed);
    if (normalizedType(header.typ) !== 'jwt') return reject(TokenRejection.WrongType);
    this.checkTimes(payload);
    if (payload.iss !== this.options.issuer) return reject(TokenRejection.WrongIssuer);
    return { verified: toVerifiedToken(payload), kid: header.kid };
  }

  /** exp is required; exp, nbf and iat must be times; exp and nbf hold within the tolerance. */
  private checkTimes({ exp, nbf, iat }: JsonObject): void {
    if (!isTime(exp)) return reject(TokenRejection.InvalidClaims);
    if (nbf !== undefined && !isTime(nbf)) return reject(TokenRejection.InvalidClaims);
    if (iat !== undefined && !isTime(iat)) return reject(TokenRejection.InvalidClaims);
    const now = Math.floor(this.clock.now().getTime() / 1_000);
    if (exp <= now - this.clockToleranceSeconds) return reject(TokenRejection.Expired);
    if (nbf !== undefined && nbf > now + this.clockToleranceSeconds)
      return reject(TokenRejection.NotYetValid);
  }
}
