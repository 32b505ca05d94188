import { createHmac, createPrivateKey, createPublicKey, sign, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign, base64url, importJWK, jwtVerify, type JWK } from 'jose';
import { clientTokenClaims, TokenRejectedError, userTokenClaims, type AccessTokenClaims } from '@iam/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemorySigningKeyRegistry } from '../testing/in-memory-signing-key.registry';
import { ManualClock } from '../testing/manual-clock';
import { TemporaryDirectories } from '../testing/temporary-directory';
import { generateSigningKeyFile, signingKeyFileName } from '../keys/key-files';
import { SigningKeyRing } from '../keys/signing-key-ring';
import { Rs512TokenSigner } from './rs512-token.signer';
import { Rs512TokenVerifier, MAX_TOKEN_LENGTH } from './rs512-token.verifier';

const ISSUER = 'https://iam.test';
const TOLERANCE_MS = 5_000;
const LIFETIME_MS = 15 * 60_000;

const dirs = new TemporaryDirectories();
const clock = new ManualClock('2026-03-01T12:00:00.000Z');
let ring: SigningKeyRing;
let signer: Rs512TokenSigner;
let verifier: Rs512TokenVerifier;
let privateJwk: JWK;

beforeAll(async () => {
  const dir = dirs.create();
  ring = new SigningKeyRing({
    registry: new InMemorySigningKeyRegistry(clock),
    dir,
    generateIfMissing: true,
    maxTokenLifetimeMs: LIFETIME_MS + TOLERANCE_MS,
    clock,
  });
  await ring.init();
  // The test forges tokens with the very same key, so it reads the private JWK from the file.
  privateJwk = JSON.parse(readFileSync(join(dir, signingKeyFileName(ring.signingKey().kid)), 'utf8')) as JWK;
  signer = new Rs512TokenSigner(ring);
  verifier = new Rs512TokenVerifier(ring, { issuer: ISSUER, clockToleranceMs: TOLERANCE_MS, clock });
});
afterAll(() => dirs.cleanup());

function userClaims(overrides: Partial<Record<keyof AccessTokenClaims, unknown>> = {}): AccessTokenClaims {
  const claims = userTokenClaims({
    tokenId: 'b7b9c1e4-0d3c-4a2e-9f55-2d0f3c1b7a10',
    issuer: ISSUER,
    sessionId: 'session-1',
    userId: '5f1a2b3c4d5e6f7a8b9c0d1e',
    clientId: 'first-party-app',
    businessId: 'b-42',
    scope: ['READ', 'WRITE'],
    authorities: ['ROLE_AUTH-BASIC', 'ROLE_CLI-1STPARTY', 'ROLE_USER'],
    claimsVersion: 3,
    issuedAt: clock.now(),
    expiresAt: new Date(clock.now().getTime() + LIFETIME_MS),
  });
  return { ...claims, ...overrides } as AccessTokenClaims;
}

const encode = (value: unknown): string => base64url.encode(JSON.stringify(value));

/** A token signed with our key but under a header of the test's choosing. */
async function signWithHeader(
  header: Record<string, unknown>,
  claims: unknown,
  alg = 'RS512',
): Promise<string> {
  const { alg: _alg, ...jwk } = privateJwk;
  const key = await importJWK(jwk, alg);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg, ...header })
    .sign(key);
}

/** A token signed with our key over exactly this header and payload text: what jose refuses to make. */
function signRaw(header: Record<string, unknown>, payloadText: string): string {
  const signingInput = `${encode(header)}.${Buffer.from(payloadText).toString('base64url')}`;
  const key = createPrivateKey({ key: { ...privateJwk } as JsonWebKey, format: 'jwk' });
  return `${signingInput}.${sign('sha512', Buffer.from(signingInput), key).toString('base64url')}`;
}

async function rejectionOf(token: string): Promise<TokenRejectedError> {
  const error: unknown = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenRejectedError);
  return error as TokenRejectedError;
}

describe('Rs512TokenSigner and Rs512TokenVerifier', () => {
  it('round-trips a user token', async () => {
    const claims = userClaims();
    const token = await signer.sign(claims);
    await expect(verifier.verify(token)).resolves.toEqual({
      tokenId: claims.jti,
      clientId: 'first-party-app',
      authorities: ['ROLE_AUTH-BASIC', 'ROLE_CLI-1STPARTY', 'ROLE_USER'],
      sessionId: 'session-1',
      userId: '5f1a2b3c4d5e6f7a8b9c0d1e',
      businessId: 'b-42',
      expiresAt: new Date(claims.exp * 1_000),
    });
    // The kid that verified it: what the caller-token cache keeps, to forget tokens of withdrawn keys.
    await expect(verifier.verifyKeyed(token)).resolves.toMatchObject({ kid: ring.signingKey().kid });
  });

  it('round-trips a client token (no session, user or business)', async () => {
    const claims = clientTokenClaims({
      tokenId: 'c-1',
      issuer: ISSUER,
      clientId: 'app',
      scope: [],
      authorities: ['ROLE_CLI-1STPARTY'],
      issuedAt: clock.now(),
      expiresAt: new Date(clock.now().getTime() + LIFETIME_MS),
    });
    await expect(verifier.verify(await signer.sign(claims))).resolves.toMatchObject({
      clientId: 'app',
      sessionId: undefined,
      userId: undefined,
      businessId: null,
    });
  });

  it('writes the header exactly and the claims in the order given, jti first', async () => {
    const claims = userClaims();
    const [header, payload] = (await signer.sign(claims)).split('.') as [string, string, string];
    expect(Buffer.from(header, 'base64url').toString()).toBe(
      JSON.stringify({ alg: 'RS512', typ: 'JWT', kid: ring.signingKey().kid }),
    );
    const decoded = Buffer.from(payload, 'base64url').toString();
    expect(decoded).toBe(JSON.stringify(claims));
    expect(Object.keys(JSON.parse(decoded) as object)).toEqual(Object.keys(claims));
    expect(Object.keys(JSON.parse(decoded) as object)[0]).toBe('jti');
  });

  it('signs tokens an independent verifier (jose) accepts, and accepts the tokens jose signs', async () => {
    const claims = userClaims();
    const { payload, protectedHeader } = await jwtVerify(
      await signer.sign(claims),
      await importJWK(ring.jwks().keys[0]! as unknown as JWK, 'RS512'),
      { algorithms: ['RS512'], issuer: ISSUER, currentDate: clock.now() },
    );
    expect(protectedHeader).toEqual({ alg: 'RS512', typ: 'JWT', kid: ring.signingKey().kid });
    expect(payload).toEqual(claims);
    const joseSigned = await signWithHeader({ typ: 'application/jwt', kid: ring.signingKey().kid }, claims);
    await expect(verifier.verify(joseSigned)).resolves.toMatchObject({ tokenId: claims.jti });
  });

  it('accepts exp and nbf within the clock tolerance', async () => {
    const now = Math.floor(clock.now().getTime() / 1_000);
    await expect(verifier.verify(await signer.sign(userClaims({ exp: now - 4 })))).resolves.toBeDefined();
    await expect(verifier.verify(await signer.sign(userClaims({ nbf: now + 4 })))).resolves.toBeDefined();
  });
});

describe('Rs512TokenVerifier security corpus', () => {
  const now = (): number => Math.floor(clock.now().getTime() / 1_000);

  it('rejects alg none', async () => {
    const unsigned = `${encode({ alg: 'none', typ: 'JWT', kid: ring.signingKey().kid })}.${encode(userClaims())}.`;
    expect((await rejectionOf(unsigned)).reason).toBe('algorithm-not-allowed');
    expect((await rejectionOf(`${unsigned}c2ln`)).reason).toBe('algorithm-not-allowed');
    const noneUpper = `${encode({ alg: 'NONE', kid: ring.signingKey().kid })}.${encode(userClaims())}.`;
    expect((await rejectionOf(noneUpper)).reason).toBe('algorithm-not-allowed');
  });

  it('rejects HS512 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
    const publicPem = createPublicKey({ key: { ...privateJwk }, format: 'jwk' }).export({
      format: 'pem',
      type: 'spki',
    });
    const signingInput = `${encode({ alg: 'HS512', typ: 'JWT', kid: ring.signingKey().kid })}.${encode(userClaims())}`;
    const signature = createHmac('sha512', publicPem).update(signingInput).digest('base64url');
    expect((await rejectionOf(`${signingInput}.${signature}`)).reason).toBe('algorithm-not-allowed');
  });

  it('rejects RS256 even with our own key', async () => {
    const token = await signWithHeader({ typ: 'JWT', kid: ring.signingKey().kid }, userClaims(), 'RS256');
    expect((await rejectionOf(token)).reason).toBe('algorithm-not-allowed');
  });

  it('rejects an unknown kid and a missing kid', async () => {
    expect(
      (await rejectionOf(await signWithHeader({ typ: 'JWT', kid: 'not-ours' }, userClaims()))).reason,
    ).toBe('unknown-kid');
    expect(
      (await rejectionOf(await signWithHeader({ typ: 'JWT', kid: '__proto__' }, userClaims()))).reason,
    ).toBe('unknown-kid');
    expect((await rejectionOf(await signWithHeader({ typ: 'JWT' }, userClaims()))).reason).toBe(
      'missing-kid',
    );
    expect((await rejectionOf(await signWithHeader({ typ: 'JWT', kid: 42 }, userClaims()))).reason).toBe(
      'missing-kid',
    );
  });

  it('rejects a token signed by another key under our kid', async () => {
    const other = await generateSigningKeyFile(dirs.create());
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(userClaims())))
      .setProtectedHeader({ alg: 'RS512', typ: 'JWT', kid: ring.signingKey().kid })
      .sign(other.privateKey);
    expect((await rejectionOf(token)).reason).toBe('bad-signature');
  });

  it('rejects an expired token and one not valid yet, beyond the tolerance', async () => {
    expect((await rejectionOf(await signer.sign(userClaims({ exp: now() - 6 })))).reason).toBe('expired');
    expect((await rejectionOf(await signer.sign(userClaims({ nbf: now() + 6 })))).reason).toBe(
      'not-yet-valid',
    );
  });

  it('rejects another issuer', async () => {
    expect((await rejectionOf(await signer.sign(userClaims({ iss: 'https://evil.test' })))).reason).toBe(
      'wrong-issuer',
    );
    const { iss: _iss, ...withoutIssuer } = userClaims();
    expect((await rejectionOf(await signer.sign(withoutIssuer as AccessTokenClaims))).reason).toBe(
      'wrong-issuer',
    );
  });

  it('rejects a tampered payload under the original signature', async () => {
    const [header, , signature] = (await signer.sign(userClaims())).split('.') as [string, string, string];
    const escalated = encode(userClaims({ authorities: ['ROLE_ADMIN'] }));
    expect((await rejectionOf(`${header}.${escalated}.${signature}`)).reason).toBe('bad-signature');
  });

  it('rejects a token longer than 8 KiB before parsing it', async () => {
    expect((await rejectionOf('a'.repeat(MAX_TOKEN_LENGTH + 1))).reason).toBe('too-long');
    const bloated = await signer.sign(
      userClaims({ authorities: Array.from({ length: 600 }, (_, i) => `ROLE_R${i}`) }),
    );
    expect(bloated.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    expect((await rejectionOf(bloated)).reason).toBe('too-long');
  });

  it('rejects another typ', async () => {
    const token = await signWithHeader({ typ: 'at+jwt', kid: ring.signingKey().kid }, userClaims());
    expect((await rejectionOf(token)).reason).toBe('wrong-type');
  });

  it('rejects claims of the wrong type', async () => {
    const cases: Array<Partial<Record<keyof AccessTokenClaims, unknown>>> = [
      { authorities: 'ROLE_ADMIN' },
      { authorities: [1] },
      { jti: 7 },
      { client_id: undefined },
      { sid: 5 },
      { user_id: null },
      { business_id: 12 },
      { exp: '9999999999' },
      { exp: 8.64e12 + 1 },
      { nbf: -8.64e12 - 1 },
      { iat: 'now' },
      { nbf: 'soon' },
    ];
    for (const overrides of cases) {
      const token = await signWithHeader({ typ: 'JWT', kid: ring.signingKey().kid }, userClaims(overrides));
      expect((await rejectionOf(token)).reason, JSON.stringify(overrides)).toBe('invalid-claims');
    }
    // JSON.parse reads an out-of-range number as Infinity: a token that would never expire.
    const payload = JSON.stringify(userClaims()).replace(/"exp":\d+/, '"exp":1e400');
    expect(payload).toContain('"exp":1e400');
    const neverExpiring = signRaw({ alg: 'RS512', typ: 'JWT', kid: ring.signingKey().kid }, payload);
    expect((await rejectionOf(neverExpiring)).reason).toBe('invalid-claims');
    const { exp: _exp, ...withoutExpiry } = userClaims();
    const token = await signWithHeader({ typ: 'JWT', kid: ring.signingKey().kid }, withoutExpiry);
    expect((await rejectionOf(token)).reason).toBe('invalid-claims');
  });

  it('rejects garbage as malformed', async () => {
    const valid = await signer.sign(userClaims());
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const signedArray = await signWithHeader({ typ: 'JWT', kid: ring.signingKey().kid }, [1, 2]);
    const garbage: Array<[string, string]> = [
      ['', 'malformed'],
      ['garbage', 'malformed'],
      ['a.b', 'malformed'],
      ['a.b.c', 'malformed'],
      ['..', 'malformed'],
      [`${header}.${payload}`, 'malformed'],
      [`${header}.${payload}.${signature}.extra`, 'malformed'],
      [`${header}.${payload}.${signature}=`, 'malformed'],
      [`${header} .${payload}.${signature}`, 'malformed'],
      [`${encode('a string')}.${payload}.${signature}`, 'malformed'],
      [`${base64url.encode('{not json')}.${payload}.${signature}`, 'malformed'],
      ['eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.a.b.c.d', 'malformed'],
      [signedArray, 'malformed'],
      // The signature is checked before the payload is read.
      [`${header}.${base64url.encode('not json')}.${signature}`, 'bad-signature'],
      [`${header}.${payload}.${signature.slice(0, -4)}`, 'bad-signature'],
    ];
    for (const [token, reason] of garbage) {
      expect((await rejectionOf(token)).reason, token).toBe(reason);
    }
  });

  it('rejects a token that requires an extension (crit), even under our valid signature', async () => {
    const header = { alg: 'RS512', typ: 'JWT', kid: ring.signingKey().kid, crit: ['x-ours'] };
    expect((await rejectionOf(signRaw(header, JSON.stringify(userClaims())))).reason).toBe('malformed');
  });

  it('accepts one encoding of a signature only', async () => {
    const token = await signer.sign(userClaims());
    const last = token.at(-1)!;
    // 256 bytes end in 4 unused bits of the last character: a different character, the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBytes = alphabet[alphabet.indexOf(last) ^ 1]!;
    const variant = `${token.slice(0, -1)}${sameBytes}`;
    expect(Buffer.from(variant.split('.')[2]!, 'base64url')).toEqual(
      Buffer.from(token.split('.')[2]!, 'base64url'),
    );
    expect((await rejectionOf(variant)).reason).toBe('bad-signature');
  });

  it('never puts the token into the error', async () => {
    const token = await signer.sign(userClaims({ exp: now() - 60 }));
    const error = await rejectionOf(token);
    expect(error.message).toBe('token rejected: expired');
    expect(JSON.stringify(error)).not.toContain(token.split('.')[1]);
    expect(error.cause).toBeUndefined();
  });
});
