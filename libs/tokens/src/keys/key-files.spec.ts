import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  mkdirSync,
  readdirSync,
} from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { TemporaryDirectories } from '../testing/temporary-directory';
import {
  KeyFileError,
  generateSigningKeyFile,
  importSigningKeyFile,
  readSigningKeyDirectory,
  readSigningKeyFile,
} from './key-files';

const dirs = new TemporaryDirectories();
afterEach(() => dirs.cleanup());

function rsaKey(modulusLength = 2048): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength }).privateKey;
}

async function thumbprintOf(key: KeyObject): Promise<string> {
  const { n, e } = key.export({ format: 'jwk' });
  return calculateJwkThumbprint({ kty: 'RSA', n: n!, e: e! }, 'sha256');
}

function write(dir: string, name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

describe('signing key files', () => {
  it('reads a PKCS#8 PEM key; the kid is the RFC 7638 thumbprint', async () => {
    const key = rsaKey();
    const path = write(dirs.create(), 'key.pem', key.export({ format: 'pem', type: 'pkcs8' }) as string);
    const file = await readSigningKeyFile(path);
    expect(file.kid).toBe(await thumbprintOf(key));
    expect(file.publicJwk).toEqual({
      kid: file.kid,
      kty: 'RSA',
      alg: 'RS512',
      use: 'sig',
      n: expect.any(String),
      e: 'AQAB',
    });
    expect(file.privateKey.extractable).toBe(false);
    expect(file.privateKey.type).toBe('private');
  });

  it('reads a PKCS#1 PEM key', async () => {
    const key = rsaKey();
    const pem = key.export({ format: 'pem', type: 'pkcs1' }) as string;
    expect(pem).toContain('BEGIN RSA PRIVATE KEY');
    const file = await readSigningKeyFile(write(dirs.create(), 'key.pem', pem));
    expect(file.kid).toBe(await thumbprintOf(key));
  });

  it('reads a JWK file (*.jwk and *.json), ignoring a kid of its own', async () => {
    const key = rsaKey();
    const jwk = JSON.stringify({ ...key.export({ format: 'jwk' }), kid: 'chosen-by-someone' });
    const dir = dirs.create();
    for (const name of ['key.jwk', 'key.json']) {
      expect((await readSigningKeyFile(write(dir, name, jwk))).kid).toBe(await thumbprintOf(key));
    }
  });

  it('refuses a 1024-bit key', async () => {
    const path = write(
      dirs.create(),
      'weak.pem',
      rsaKey(1024).export({ format: 'pem', type: 'pkcs8' }) as string,
    );
    await expect(readSigningKeyFile(path)).rejects.toThrow(/1024 bits, at least 2048/);
  });

  it('refuses keys that are not plain RSA private keys', async () => {
    const dir = dirs.create();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cases: Array<[string, string, RegExp]> = [
      ['ec.pem', ec.export({ format: 'pem', type: 'pkcs8' }) as string, /not an RSA private key/],
      ['public.pem', rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string, /BEGIN PRIVATE KEY/],
      [
        'encrypted.pem',
        rsa.privateKey.export({
          format: 'pem',
          type: 'pkcs8',
          cipher: 'aes-256-cbc',
          passphrase: 'x',
        }) as string,
        /encrypted PEM/,
      ],
      ['public.jwk', JSON.stringify(rsa.publicKey.export({ format: 'jwk' })), /not a private key/],
      ['rs256.jwk', JSON.stringify({ ...rsa.privateKey.export({ format: 'jwk' }), alg: 'RS256' }), /RS256/],
      [
        'enc.jwk',
        JSON.stringify({ ...rsa.privateKey.export({ format: 'jwk' }), use: 'enc' }),
        /not marked for signing/,
      ],
      ['garbage.json', '{ not json', /not valid JSON/],
    ];
    for (const [name, content, message] of cases) {
      const error: unknown = await readSigningKeyFile(write(dir, name, content)).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(KeyFileError);
      expect((error as Error).message, name).toMatch(message);
    }
  });

  it('never puts key material into an error message', async () => {
    const jwk = { ...rsaKey().export({ format: 'jwk' }), kty: 'EC' };
    const error = (await readSigningKeyFile(write(dirs.create(), 'bad.jwk', JSON.stringify(jwk))).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).not.toContain(jwk.d);
  });

  it('generates an RSA 2048 key as <kid>.jwk.json, 0600, in a directory created 0700', async () => {
    const dir = join(dirs.create(), 'keys', 'signing');
    const file = await generateSigningKeyFile(dir);
    expect(file.path).toBe(join(dir, `${file.kid}.jwk.json`));
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(file.path, 'utf8')) as Record<string, string>;
    expect(stored).toMatchObject({ kty: 'RSA', kid: file.kid, alg: 'RS512', use: 'sig' });
    expect(Buffer.from(stored.n!, 'base64url').length * 8).toBe(2048);
    expect(readdirSync(dir)).toEqual([`${file.kid}.jwk.json`]);
  });

  it('imports an operator key into the directory as <kid>.jwk.json', async () => {
    const key = rsaKey();
    const source = write(
      dirs.create(),
      'operator.pem',
      key.export({ format: 'pem', type: 'pkcs1' }) as string,
    );
    const dir = dirs.create();
    const file = await importSigningKeyFile(dir, source);
    expect(file.kid).toBe(await thumbprintOf(key));
    expect(file.path).toBe(join(dir, `${file.kid}.jwk.json`));
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
  });

  it('reads a directory oldest first, skipping other and hidden files; a missing directory is empty', async () => {
    const dir = dirs.create();
    const older = write(dir, 'older.pem', rsaKey().export({ format: 'pem', type: 'pkcs8' }) as string);
    const newer = write(dir, 'newer.jwk', JSON.stringify(rsaKey().export({ format: 'jwk' })));
    write(dir, 'README.txt', 'not a key');
    write(dir, '.hidden.pem', 'not a key either');
    mkdirSync(join(dir, 'nested.json'));
    utimesSync(older, new Date('2025-01-01'), new Date('2025-01-01'));
    utimesSync(newer, new Date('2025-06-01'), new Date('2025-06-01'));
    expect((await readSigningKeyDirectory(dir)).map((file) => file.path)).toEqual([older, newer]);
    expect(await readSigningKeyDirectory(join(dir, 'missing'))).toEqual([]);
  });

  it('leaves out a file gone between the listing and its read (a dangling link stands for one)', async () => {
    const dir = dirs.create();
    const good = write(dir, 'good.pem', rsaKey().export({ format: 'pem', type: 'pkcs8' }) as string);
    symlinkSync(join(dir, 'removed-by-a-rotation.jwk.json'), join(dir, 'gone.jwk.json'));
    expect((await readSigningKeyDirectory(dir)).map((file) => file.path)).toEqual([good]);
  });

  it('fails the whole directory read on one unreadable key file', async () => {
    const dir = dirs.create();
    write(dir, 'good.pem', rsaKey().export({ format: 'pem', type: 'pkcs8' }) as string);
    write(dir, 'bad.pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await expect(readSigningKeyDirectory(dir)).rejects.toThrow(/bad\.pem/);
  });
});
