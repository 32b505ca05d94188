import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactDecrypt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { TemporaryDirectories } from '../testing/temporary-directory';
import { JweTokenSealer } from './jwe-token.sealer';
import { PlaintextTokenSealer } from './plaintext-token.sealer';
import { generateRecipientKeyPair } from './recipient-key-pair';

const JWT = 'eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCIsImtpZCI6ImsifQ.eyJqdGkiOiIxIn0.c2lnbmF0dXJl';

const dirs = new TemporaryDirectories();
afterEach(() => dirs.cleanup());

const readJwk = (path: string): JWK => JSON.parse(readFileSync(path, 'utf8')) as JWK;

async function open(jwe: string, privateJwk: JWK): Promise<string> {
  const { plaintext } = await compactDecrypt(jwe, await importJWK(privateJwk, 'RSA-OAEP-256'), {
    keyManagementAlgorithms: ['RSA-OAEP-256'],
    contentEncryptionAlgorithms: ['A256GCM'],
  });
  return new TextDecoder().decode(plaintext);
}

describe('JweTokenSealer', () => {
  it('seals a JWT that the recipient decrypts back; the header names alg, enc, cty and kid', async () => {
    const { privateJwkPath, publicJwkPath } = await generateRecipientKeyPair(dirs.create());
    const sealer = await JweTokenSealer.fromConfiguration(publicJwkPath);
    expect(sealer.encryption).toBe('jwe');
    const jwe = await sealer.seal(JWT);
    expect(jwe.split('.')).toHaveLength(5);
    expect(jwe).not.toContain(JWT.split('.')[1]);
    const kid = readJwk(publicJwkPath).kid;
    expect(decodeProtectedHeader(jwe)).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', kid });
    await expect(open(jwe, readJwk(privateJwkPath))).resolves.toBe(JWT);
  });

  it('takes inline JWK JSON; without a kid of its own the thumbprint names the key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sealer = await JweTokenSealer.fromConfiguration(
      JSON.stringify(publicKey.export({ format: 'jwk' })),
    );
    expect(sealer.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const jwe = await sealer.seal(JWT);
    expect(decodeProtectedHeader(jwe).kid).toBe(sealer.kid);
    await expect(open(jwe, privateKey.export({ format: 'jwk' }) as JWK)).resolves.toBe(JWT);
  });

  it('accepts a private JWK but uses its public part only', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'consumer-2026' };
    const sealer = await JweTokenSealer.fromJwk(privateJwk);
    expect(sealer.kid).toBe('consumer-2026');
    await expect(open(await sealer.seal(JWT), privateJwk as JWK)).resolves.toBe(JWT);
  });

  it('refuses keys that cannot serve, without quoting the setting', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const strong = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const cases: Array<[unknown, RegExp]> = [
      [weak, /1024 bits/],
      [ec, /not an RSA key/],
      [{ ...strong, use: 'sig' }, /not marked for encryption/],
      [{ ...strong, alg: 'RS512' }, /RS512/],
      ['a string', /not a JWK object/],
    ];
    for (const [jwk, message] of cases) await expect(JweTokenSealer.fromJwk(jwk)).rejects.toThrow(message);

    const secretLooking = '{"kty":"RSA","d":"TOP-SECRET-MATERIAL"';
    const error = (await JweTokenSealer.fromConfiguration(secretLooking).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('SESSION_UPDATE_RECIPIENT_JWK: not valid JSON');
    expect(JSON.stringify(error)).not.toContain('TOP-SECRET');
    await expect(JweTokenSealer.fromConfiguration(join(dirs.create(), 'missing.json'))).rejects.toThrow(
      /cannot read the key file/,
    );
  });

  it('reads a key file holding inline JSON too', async () => {
    const path = join(dirs.create(), 'recipient.json');
    writeFileSync(
      path,
      JSON.stringify(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' })),
    );
    await expect(JweTokenSealer.fromConfiguration(path)).resolves.toBeInstanceOf(JweTokenSealer);
  });
});

describe('PlaintextTokenSealer', () => {
  it('passes the JWT through and says so', async () => {
    const sealer = new PlaintextTokenSealer();
    expect(sealer.encryption).toBe('none');
    await expect(sealer.seal(JWT)).resolves.toBe(JWT);
  });
});

describe('generateRecipientKeyPair', () => {
  it('writes the private key 0600 and its public half once, then keeps them', async () => {
    const dir = join(dirs.create(), 'recipient');
    const first = await generateRecipientKeyPair(dir);
    expect(first).toEqual({
      privateJwkPath: join(dir, 'session-update-recipient.private.jwk.json'),
      publicJwkPath: join(dir, 'session-update-recipient.public.jwk.json'),
    });
    expect(statSync(first.privateJwkPath).mode & 0o777).toBe(0o600);
    const privateJwk = readJwk(first.privateJwkPath);
    const publicJwk = readJwk(first.publicJwkPath);
    expect(privateJwk).toMatchObject({ kty: 'RSA', alg: 'RSA-OAEP-256', use: 'enc', d: expect.any(String) });
    expect(publicJwk).toEqual({
      kid: privateJwk.kid,
      kty: 'RSA',
      n: privateJwk.n,
      e: privateJwk.e,
      alg: 'RSA-OAEP-256',
      use: 'enc',
    });

    const before = readFileSync(first.privateJwkPath, 'utf8');
    await expect(generateRecipientKeyPair(dir)).resolves.toEqual(first);
    expect(readFileSync(first.privateJwkPath, 'utf8')).toBe(before);
  });
});
