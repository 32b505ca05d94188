import { createPublicKey, randomUUID } from 'node:crypto';
import {
  b64url,
  forgeJwt,
  freshRsaKey,
  hmacSigner,
  nowSeconds,
  publicKeyPem,
  rsaSigner,
  type DecodedJwt,
  type SigningKeyOnDisk,
} from './jwt';

/** What a forger starts from: a real user token of ours, the published JWK, and (disk access) the signing key. */
export interface ForgeryMaterial {
  readonly user: DecodedJwt;
  readonly jwk: Record<string, unknown>;
  readonly signingKey: SigningKeyOnDisk;
}

export interface Forgery {
  readonly name: string;
  readonly forge: (material: ForgeryMaterial) => string;
}

const segments = (user: DecodedJwt) => user.signingInput.split('.') as [string, string];

/**
 * Tokens that are not exactly one of ours: every one must be refused as the
 * caller (401 INVALID_CALLER_TOKEN) and as `token` (401 INVALID_TOKEN). Built
 * with test/support/jwt.ts (node:crypto only), never with the service's JOSE code.
 */
export const FORGERIES: readonly Forgery[] = [
  {
    name: 'alg none, no signature',
    forge: ({ user }) => forgeJwt({ ...user.header, alg: 'none' }, user.payload, null),
  },
  {
    name: 'alg "None" keeping the original signature',
    forge: ({ user }) =>
      `${forgeJwt({ ...user.header, alg: 'None' }, user.payload, null)}${user.signature.toString('base64url')}`,
  },
  {
    name: 'alg "nOnE", empty signature',
    forge: ({ user }) => forgeJwt({ ...user.header, alg: 'nOnE' }, user.payload, null),
  },
  {
    name: 'HS512 keyed with the public key PEM',
    forge: ({ user, jwk }) =>
      forgeJwt({ ...user.header, alg: 'HS512' }, user.payload, hmacSigner('sha512', publicKeyPem(jwk))),
  },
  {
    name: 'HS256 keyed with the public key PEM',
    forge: ({ user, jwk }) =>
      forgeJwt({ ...user.header, alg: 'HS256' }, user.payload, hmacSigner('sha256', publicKeyPem(jwk))),
  },
  {
    name: 'HS512 keyed with the modulus bytes',
    forge: ({ user, jwk }) =>
      forgeJwt(
        { ...user.header, alg: 'HS512' },
        user.payload,
        hmacSigner('sha512', Buffer.from(jwk.n as string, 'base64url')),
      ),
  },
  {
    name: 'HS512 keyed with the JWK JSON',
    forge: ({ user, jwk }) =>
      forgeJwt({ ...user.header, alg: 'HS512' }, user.payload, hmacSigner('sha512', JSON.stringify(jwk))),
  },
  {
    name: 'RS256 with the real private key',
    forge: ({ user, signingKey }) =>
      forgeJwt({ ...user.header, alg: 'RS256' }, user.payload, rsaSigner('sha256', signingKey.privateKey)),
  },
  {
    name: 'RS384 with the real private key',
    forge: ({ user, signingKey }) =>
      forgeJwt({ ...user.header, alg: 'RS384' }, user.payload, rsaSigner('sha384', signingKey.privateKey)),
  },
  {
    name: 'unknown kid (a fresh key)',
    forge: ({ user }) => {
      const fresh = freshKey();
      return forgeJwt(
        { ...user.header, kid: fresh.kid },
        user.payload,
        rsaSigner('sha512', fresh.privateKey),
      );
    },
  },
  {
    name: 'the real kid over a fresh key',
    forge: ({ user }) => forgeJwt(user.header, user.payload, rsaSigner('sha512', freshKey().privateKey)),
  },
  {
    name: 'an embedded jwk header of the attacker key',
    forge: ({ user }) => {
      const fresh = freshKey();
      const { kid: _kid, ...header } = user.header;
      return forgeJwt(
        { ...header, jwk: fresh.publicJwk },
        user.payload,
        rsaSigner('sha512', fresh.privateKey),
      );
    },
  },
  {
    name: 'a jku header pointing elsewhere',
    forge: ({ user }) => {
      const fresh = freshKey();
      return forgeJwt(
        { ...user.header, kid: fresh.kid, jku: 'http://127.0.0.1:1/keys' },
        user.payload,
        rsaSigner('sha512', fresh.privateKey),
      );
    },
  },
  {
    name: 'a path-traversal kid with HS512 over an empty key',
    forge: ({ user }) =>
      forgeJwt(
        { ...user.header, alg: 'HS512', kid: '../../../../../../dev/null' },
        user.payload,
        hmacSigner('sha512', ''),
      ),
  },
  {
    name: 'an SQL-injection kid',
    forge: ({ user }) => {
      const fresh = freshKey();
      return forgeJwt(
        { ...user.header, kid: "x' OR '1'='1' --" },
        user.payload,
        rsaSigner('sha512', fresh.privateKey),
      );
    },
  },
  {
    name: 'no kid',
    forge: ({ user, signingKey }) => {
      const { kid: _kid, ...header } = user.header;
      return forgeJwt(header, user.payload, rsaSigner('sha512', signingKey.privateKey));
    },
  },
  {
    name: 'an unknown critical header',
    forge: ({ user, signingKey }) =>
      forgeJwt(
        { ...user.header, crit: ['x-unknown'], 'x-unknown': true },
        user.payload,
        rsaSigner('sha512', signingKey.privateKey),
      ),
  },
  {
    name: 'expired an hour ago',
    forge: ({ user, signingKey }) => {
      const now = nowSeconds();
      return forgeJwt(
        user.header,
        { ...user.payload, iat: now - 7_200, nbf: now - 7_200, exp: now - 3_600 },
        rsaSigner('sha512', signingKey.privateKey),
      );
    },
  },
  {
    name: 'not valid before an hour from now',
    forge: ({ user, signingKey }) => {
      const now = nowSeconds();
      return forgeJwt(
        user.header,
        { ...user.payload, iat: now, nbf: now + 3_600, exp: now + 7_200 },
        rsaSigner('sha512', signingKey.privateKey),
      );
    },
  },
  {
    name: 'another issuer',
    forge: ({ user, signingKey }) =>
      forgeJwt(
        user.header,
        { ...user.payload, iss: 'https://attacker.example/iam' },
        rsaSigner('sha512', signingKey.privateKey),
      ),
  },
  {
    name: 'a tampered payload under the original signature',
    forge: ({ user }) => {
      const [header] = segments(user);
      const payload = b64url(
        JSON.stringify({
          ...user.payload,
          authorities: [...(user.payload.authorities as string[]), 'ROLE_ADMIN'],
        }),
      );
      return `${header}.${payload}.${user.signature.toString('base64url')}`;
    },
  },
  {
    name: 'one flipped bit in the signature',
    forge: ({ user }) => {
      const signature = Buffer.from(user.signature);
      signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 0x01;
      return `${user.signingInput}.${signature.toString('base64url')}`;
    },
  },
  {
    name: 'a truncated signature',
    forge: ({ user }) => `${user.signingInput}.${user.signature.subarray(0, 128).toString('base64url')}`,
  },
  {
    name: 'the signature of another token',
    forge: ({ user, signingKey }) => {
      const other = forgeJwt(
        user.header,
        { ...user.payload, jti: randomUUID() },
        rsaSigner('sha512', signingKey.privateKey),
      );
      return `${user.signingInput}.${other.split('.')[2]}`;
    },
  },
  {
    name: 'a payload that is not JSON',
    forge: ({ user, signingKey }) => {
      const [header] = segments(user);
      const input = `${header}.${b64url('not json at all')}`;
      return `${input}.${b64url(rsaSigner('sha512', signingKey.privateKey)(input))}`;
    },
  },
  {
    name: 'a header that is not JSON',
    forge: ({ user, signingKey }) => {
      const [, payload] = segments(user);
      const input = `${b64url('{"alg":"RS512",')}.${payload}`;
      return `${input}.${b64url(rsaSigner('sha512', signingKey.privateKey)(input))}`;
    },
  },
  {
    name: 'claims as a JSON array',
    forge: ({ user, signingKey }) => {
      const [header] = segments(user);
      const input = `${header}.${b64url('[1,2,3]')}`;
      return `${input}.${b64url(rsaSigner('sha512', signingKey.privateKey)(input))}`;
    },
  },
  {
    name: 'four segments',
    forge: ({ user }) => `${user.signingInput}.${user.signature.toString('base64url')}.AAAA`,
  },
  { name: 'two segments', forge: ({ user }) => user.signingInput },
  {
    name: 'standard base64 (with padding) instead of base64url',
    forge: ({ user }) =>
      [
        Buffer.from(user.rawHeader).toString('base64'),
        Buffer.from(user.rawPayload).toString('base64'),
        user.signature.toString('base64'),
      ].join('.'),
  },
];

let cachedKey: (ReturnType<typeof freshRsaKey> & { publicJwk: Record<string, unknown> }) | undefined;

/** One attacker key per run (RSA key generation is slow on this machine). */
function freshKey() {
  if (!cachedKey) {
    const key = freshRsaKey();
    cachedKey = {
      ...key,
      publicJwk: createPublicKey(key.privateKey).export({ format: 'jwk' }) as Record<string, unknown>,
    };
  }
  return cachedKey;
}
