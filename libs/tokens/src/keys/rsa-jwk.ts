import { createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';

/** The one signature algorithm of our tokens (http-api.md §2). */
export const SIGNING_ALGORITHM = 'RS512';

/** Keys shorter than this are refused everywhere: 2048 bits is the floor of NIST SP 800-131A and of RFC 7518. */
export const MIN_RSA_MODULUS_BITS = 2048;

/** The public members of an RSA key, and nothing else. */
export interface RsaPublicJwk {
  readonly kty: 'RSA';
  readonly n: string;
  readonly e: string;
}

/** A signing key as the JWKS publishes it: every member a verifier needs, no private member. */
export interface PublicSigningJwk extends RsaPublicJwk {
  readonly kid: string;
  readonly alg: typeof SIGNING_ALGORITHM;
  readonly use: 'sig';
}

export type JsonObject = { readonly [member: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks an untrusted JWK (a file, a database row, a setting) and keeps only its
 * public members, so a private member can never travel further by accident.
 * Errors name `what`, never the key's content.
 */
export function toRsaPublicJwk(value: unknown, what: string): RsaPublicJwk {
  if (!isJsonObject(value)) throw new Error(`${what}: not a JWK object`);
  const { kty, n, e } = value;
  if (kty !== 'RSA') throw new Error(`${what}: not an RSA key (kty must be "RSA")`);
  if (typeof n !== 'string' || typeof e !== 'string')
    throw new Error(`${what}: the RSA members n and e are missing`);
  const jwk: RsaPublicJwk = { kty, n, e };
  let bits: number | undefined;
  try {
    bits = createPublicKey({ key: { ...jwk }, format: 'jwk' }).asymmetricKeyDetails?.modulusLength;
  } catch (cause) {
    throw new Error(`${what}: not a valid RSA public key`, { cause });
  }
  if (bits === undefined || bits < MIN_RSA_MODULUS_BITS) {
    throw new Error(
      `${what}: the RSA key has ${bits ?? 'unknown'} bits, at least ${MIN_RSA_MODULUS_BITS} are required`,
    );
  }
  return jwk;
}

/** RFC 7638 thumbprint (SHA-256), computed over the required public members only. */
export function rsaThumbprint(jwk: RsaPublicJwk): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, n: jwk.n, e: jwk.e }, 'sha256');
}

export function publicSigningJwk(jwk: RsaPublicJwk, kid: string): PublicSigningJwk {
  // Member order is fixed so that the JWKS reads the same on every instance.
  return { kid, kty: jwk.kty, alg: SIGNING_ALGORITHM, use: 'sig', n: jwk.n, e: jwk.e };
}
