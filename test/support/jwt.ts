import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * An independent look at JWTs: decoding, RS512 verification and forging with
 * node:crypto only, so that the tests never trust the service's own JOSE code.
 */

export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>;
}

export interface DecodedJwt {
  /** The header and payload exactly as they were serialised (member order included). */
  readonly rawHeader: string;
  readonly rawPayload: string;
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly signingInput: string;
  readonly signature: Buffer;
}

export function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

export function decodeJwt(jwt: string): DecodedJwt {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new Error(`not a compact JWS: ${parts.length} segments`);
  const [header, payload, signature] = parts as [string, string, string];
  const rawHeader = Buffer.from(header, 'base64url').toString('utf8');
  const rawPayload = Buffer.from(payload, 'base64url').toString('utf8');
  return {
    rawHeader,
    rawPayload,
    header: JSON.parse(rawHeader) as Record<string, unknown>,
    payload: JSON.parse(rawPayload) as Record<string, unknown>,
    signingInput: `${header}.${payload}`,
    signature: Buffer.from(signature, 'base64url'),
  };
}

/** Members of a JWK that hold private key material (RFC 7518 §6.3.2, §6.4). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/**
 * Verifies an RS512 JWT against a JWK Set the way an outside verifier would:
 * the header's kid picks the key, node:crypto checks the signature.
 */
export function verifyRs512(jwt: string, jwks: JsonWebKeySet): { valid: boolean; reason?: string } {
  const decoded = decodeJwt(jwt);
  if (decoded.header.alg !== 'RS512') return { valid: false, reason: 'alg' };
  const jwk = jwks.keys.find((key) => key.kid === decoded.header.kid);
  if (!jwk) return { valid: false, reason: 'kid' };
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const valid = verify('sha512', Buffer.from(decoded.signingInput), key, decoded.signature);
  return valid ? { valid } : { valid, reason: 'signature' };
}

export type Signer = (signingInput: string) => Buffer;

/** Builds a compact JWS from a header and claims (serialised in the given order) and a signer. */
export function forgeJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signer: Signer | null,
): string {
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${signer ? b64url(signer(signingInput)) : ''}`;
}

export const rsaSigner =
  (hash: 'sha256' | 'sha384' | 'sha512', key: KeyObject): Signer =>
  (input) =>
    sign(hash, Buffer.from(input), key);

export const hmacSigner =
  (hash: 'sha256' | 'sha512', secret: string | Buffer): Signer =>
  (input) =>
    createHmac(hash, secret).update(input).digest();

export interface SigningKeyOnDisk {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JsonWebKey;
}

/** The service's private signing keys, read from `<kid>.jwk.json` files as an attacker with disk access would. */
export function readSigningKeys(dir: string): SigningKeyOnDisk[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jwk.json'))
    .map((name) => {
      const jwk = JSON.parse(readFileSync(join(dir, name), 'utf8')) as JsonWebKey & { kid: string };
      const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
      return {
        kid: jwk.kid,
        privateKey,
        publicJwk: createPublicKey(privateKey).export({ format: 'jwk' }),
      };
    });
}

/** A fresh RSA key the service has never seen. */
export function freshRsaKey(): { kid: string; privateKey: KeyObject } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomUUID(), privateKey };
}

/** The public key of a JWK as PEM text (SPKI), the secret of the classic RS/HS confusion attack. */
export function publicKeyPem(jwk: Record<string, unknown>): string {
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1_000);
