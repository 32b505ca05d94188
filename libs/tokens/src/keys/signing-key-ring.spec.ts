import { generateKeyPairSync } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { userTokenClaims } from '@iam/domain';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Rs512TokenSigner } from '../jwt/rs512-token.signer';
import { Rs512TokenVerifier } from '../jwt/rs512-token.verifier';
import { InMemorySigningKeyRegistry } from '../testing/in-memory-signing-key.registry';
import { ManualClock } from '../testing/manual-clock';
import { TemporaryDirectories } from '../testing/temporary-directory';
import { readSigningKeyFile } from './key-files';
import {
  SigningKeyFileMissingError,
  SigningKeyRing,
  SigningKeyRingError,
  SigningKeysStaleError,
  type SigningKeyRingOptions,
} from './signing-key-ring';

const ISSUER = 'https://iam.test';
const LIFETIME_MS = 15 * 60_000;
const REFRESH_MS = 10_000;

const dirs = new TemporaryDirectories();
afterEach(() => dirs.cleanup());

function setUp(overrides: Partial<SigningKeyRingOptions> = {}) {
  const clock = new ManualClock();
  const registry = new InMemorySigningKeyRegistry(clock);
  const dir = join(dirs.create(), 'keys');
  const options: SigningKeyRingOptions = {
    registry,
    dir,
    generateIfMissing: true,
    maxTokenLifetimeMs: LIFETIME_MS,
    refreshIntervalMs: REFRESH_MS,
    clock,
    // Elapsed time follows the test's clock, except where a test steps the wall clock alone.
    monotonicMs: () => clock.now().getTime(),
    ...overrides,
  };
  const ring = new SigningKeyRing(options);
  const signer = new Rs512TokenSigner(ring);
  const verifier = new Rs512TokenVerifier(ring, { issuer: ISSUER, clockToleranceMs: 0, clock });
  const token = () =>
    signer.sign(
      userTokenClaims({
        tokenId: 'token-1',
        issuer: ISSUER,
        sessionId: 'session-1',
        userId: 'user-1',
        clientId: 'client-1',
        businessId: null,
        scope: ['READ'],
        authorities: ['ROLE_USER'],
        claimsVersion: 1,
        issuedAt: clock.now(),
        expiresAt: new Date(clock.now().getTime() + LIFETIME_MS),
      }),
    );
  return { clock, registry, dir, options, ring, verifier, token };
}

function writePem(dir: string, name: string, type: 'pkcs1' | 'pkcs8', modulusLength = 2048): string {
  const path = join(dir, name);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength });
  writeFileSync(path, privateKey.export({ format: 'pem', type }) as string, { mode: 0o600 });
  return path;
}

/**
 * Two instances over one registry, the second with a copy of the keys
 * directory; then the first rotates, writing the new key to its own only.
 */
async function rotatedElsewhere() {
  const first = setUp();
  await first.ring.init();
  const secondDir = join(dirs.create(), 'second');
  cpSync(first.dir, secondDir, { recursive: true });
  const second = new SigningKeyRing({ ...first.options, dir: secondDir });
  await second.init();
  const { activated } = await first.ring.rotate();
  return { second, secondDir, activated };
}

describe('SigningKeyRing', () => {
  it('stops signing once it has not read the registry for three refresh intervals, and signs again after a read', async () => {
    const { ring, registry, clock } = setUp();
    await ring.init();
    const kid = ring.signingKey().kid;
    const list = registry.list.bind(registry);
    registry.list = () => Promise.reject(new Error('database down'));

    clock.advance(3 * REFRESH_MS);
    await expect(ring.refresh()).rejects.toThrow('database down');
    expect(ring.signingKey().kid).toBe(kid);
    clock.advance(1);
    expect(() => ring.signingKey()).toThrow(SigningKeysStaleError);
    // Verifying needs no fresh read: retirement is checked against the clock at each use.
    expect(ring.jwks().keys.map((key) => key.kid)).toEqual([kid]);

    // The refusal itself asks for a read, so the next try does not wait for the timer.
    registry.list = list;
    expect(() => ring.signingKey()).toThrow(SigningKeysStaleError);
    await vi.waitFor(() => expect(ring.signingKey().kid).toBe(kid));
  });

  it('ends its signing window on elapsed time even with the wall clock stepped back', async () => {
    let elapsedMs = 0;
    const { ring, registry, clock } = setUp({ monotonicMs: () => elapsedMs });
    await ring.init();
    registry.list = () => Promise.reject(new Error('database down'));

    clock.advance(-24 * 60 * 60 * 1_000);
    elapsedMs += 3 * REFRESH_MS;
    expect(ring.signingStatus().current).toBe(true);
    elapsedMs += 1;
    expect(() => ring.signingKey()).toThrow(SigningKeysStaleError);
    expect(ring.signingStatus().current).toBe(false);
  });

  it('ends its signing window on wall-clock time the monotonic clock skipped (a suspended machine)', async () => {
    const elapsedMs = 0;
    const { ring, registry, clock } = setUp({ monotonicMs: () => elapsedMs });
    await ring.init();
    registry.list = () => Promise.reject(new Error('database down'));

    clock.advance(3 * REFRESH_MS + 1);
    expect(() => ring.signingKey()).toThrow(SigningKeysStaleError);
  });

  it('asks for a read at most once a second, however many stale signers ask', async () => {
    const { ring, registry, clock } = setUp();
    await ring.init();
    let reads = 0;
    registry.list = () => {
      reads += 1;
      return Promise.reject(new Error('database down'));
    };
    clock.advance(3 * REFRESH_MS + 1);
    for (let i = 0; i < 100; i += 1) expect(() => ring.signingKey()).toThrow(SigningKeysStaleError);
    await vi.waitFor(() => expect(reads).toBe(1));
    clock.advance(1_000);
    for (let i = 0; i < 100; i += 1) expect(() => ring.signingKey()).toThrow(SigningKeysStaleError);
    await vi.waitFor(() => expect(reads).toBe(2));
    expect(ring.signingStatus()).toMatchObject({ current: false });
  });

  it('keeps a key retired elsewhere published for every token an instance signs with it before it reads of that', async () => {
    const { ring: stale, options, clock, token } = setUp();
    await stale.init();
    const oldKid = stale.signingKey().kid;
    const rotating = new SigningKeyRing(options);
    await rotating.init();
    const verifier = new Rs512TokenVerifier(rotating, { issuer: ISSUER, clockToleranceMs: 0, clock });

    // Another instance (or the CLI) rotates at once; this one, its refreshes failing, signs with the
    // old key for as long as it may.
    await rotating.rotate();
    clock.advance(3 * REFRESH_MS);
    const late = await token();
    expect(decodeProtectedHeader(late).kid).toBe(oldKid);
    clock.advance(1);
    expect(() => stale.signingKey()).toThrow(SigningKeysStaleError);

    // The late token verifies through the rotating instance until its very end.
    clock.advance(LIFETIME_MS - 2);
    await expect(verifier.verify(late)).resolves.toMatchObject({ tokenId: 'token-1' });
  });

  it('generates, registers and activates a key when there is none', async () => {
    const { ring, registry, dir } = setUp();
    await ring.init();
    const [row, ...others] = await registry.list();
    expect(others).toEqual([]);
    expect(row).toMatchObject({ status: 'ACTIVE', algorithm: 'RS512', publishedUntil: null });
    expect(ring.signingKey().kid).toBe(row!.kid);
    expect(readdirSync(dir)).toEqual([`${row!.kid}.jwk.json`]);
    expect(statSync(join(dir, `${row!.kid}.jwk.json`)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('publishes public members only in the JWKS', async () => {
    const { ring } = setUp();
    await ring.init();
    const { keys } = ring.jwks();
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(keys[0]).toMatchObject({ kid: ring.signingKey().kid, kty: 'RSA', alg: 'RS512', use: 'sig' });
    expect(JSON.stringify(ring.jwks())).not.toMatch(/"(d|p|q|dp|dq|qi)"/);
  });

  it('fails clearly when there is no key and generation is off', async () => {
    const { ring } = setUp({ generateIfMissing: false });
    await expect(ring.init()).rejects.toThrow(SigningKeyRingError);
    await expect(ring.init()).rejects.toThrow(/no private key file.*generation is off/);
    expect(() => ring.signingKey()).toThrow(/not initialised/);
  });

  it('registers the newest key file of the directory (PKCS#8 and PKCS#1 PEM) without generating', async () => {
    const { ring, dir, registry } = setUp({ generateIfMissing: false });
    mkdirSync(dir);
    const older = writePem(dir, 'older.pem', 'pkcs8');
    const newer = writePem(dir, 'newer.pem', 'pkcs1');
    utimesSync(older, new Date('2025-01-01'), new Date('2025-01-01'));
    utimesSync(newer, new Date('2025-02-01'), new Date('2025-02-01'));
    await ring.init();
    const expected = (await readSigningKeyFile(newer)).kid;
    expect(ring.signingKey().kid).toBe(expected);
    expect((await registry.list()).map((row) => row.kid)).toEqual([expected]);
    expect(readdirSync(dir).sort()).toEqual(['newer.pem', 'older.pem']);
  });

  it('refuses a directory holding a 1024-bit key', async () => {
    const { ring, dir } = setUp();
    mkdirSync(dir);
    writePem(dir, 'weak.pem', 'pkcs8', 1024);
    await expect(ring.init()).rejects.toThrow(/at least 2048/);
  });

  it('fails clearly when the active key has no private key file here', async () => {
    const first = setUp();
    await first.ring.init();
    // Same registry, another (empty) directory: an instance that lacks the shared keys.
    const second = new SigningKeyRing({ ...first.options, dir: join(dirs.create(), 'elsewhere') });
    await expect(second.init()).rejects.toThrow(/has no readable private key file/);
    // The service tells this instance's own fault from the registry's by the type (signing-key-refresh-failure.ts).
    await expect(second.init()).rejects.toBeInstanceOf(SigningKeyFileMissingError);
  });

  it('reports a directory it cannot read, when it looks there for a new active key, as that key missing here', async () => {
    const { second, secondDir, activated } = await rotatedElsewhere();
    rmSync(secondDir, { recursive: true });
    writeFileSync(secondDir, 'a file where the keys directory should be');
    const failure = await second.refresh().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SigningKeyFileMissingError);
    expect(failure).toMatchObject({ kid: activated, cause: expect.objectContaining({ code: 'ENOTDIR' }) });
  });

  it('reports an unreadable file in the directory, when it looks there for a new active key, as that key missing here', async () => {
    const { second, secondDir, activated } = await rotatedElsewhere();
    writeFileSync(join(secondDir, 'half-copied.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n');
    const failure = await second.refresh().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SigningKeyFileMissingError);
    expect(failure).toMatchObject({
      kid: activated,
      cause: expect.objectContaining({ name: 'KeyFileError' }),
    });
  });

  it('dates a key missing here from its latest activation (the retirement it caused): a retired key made ACTIVE again gets its grace afresh', async () => {
    const first = setUp();
    await first.ring.init();
    const original = first.ring.signingKey().kid;
    const kept = join(dirs.create(), 'kept');
    cpSync(first.dir, kept, { recursive: true });
    await first.ring.rotate();
    // An instance deployed after the rotation, without the retired key's file.
    const secondDir = join(dirs.create(), 'second');
    cpSync(first.dir, secondDir, { recursive: true });
    rmSync(join(secondDir, `${original}.jwk.json`));
    const second = new SigningKeyRing({ ...first.options, dir: secondDir });
    await second.init();

    first.clock.advance(60 * 60_000);
    await first.ring.rotate({ keyFile: join(kept, `${original}.jwk.json`) });
    const failure = await second.refresh().catch((error: unknown) => error);

    const row = (await first.registry.list()).find((key) => key.kid === original)!;
    expect(first.clock.now().getTime() - row.createdAt.getTime()).toBe(60 * 60_000);
    expect(failure).toBeInstanceOf(SigningKeyFileMissingError);
    expect(failure).toMatchObject({ kid: original, activatedAt: first.clock.now() });
  });

  it('refuses a registry row whose public key does not match its kid', async () => {
    const { ring, registry } = setUp();
    await ring.init();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    registry.replace(ring.signingKey().kid, { publicJwk: { ...other, kty: 'RSA' } });
    await expect(ring.refresh()).rejects.toThrow(/does not match its kid/);
  });

  it('rotates: the old key verifies until publishedUntil, then leaves the JWKS and is removed', async () => {
    const { ring, registry, dir, clock, verifier, token } = setUp();
    await ring.init();
    const oldKid = ring.signingKey().kid;
    const oldToken = await token();
    const oldTokenExpiresAt = clock.now().getTime() + LIFETIME_MS;

    clock.advance(1_000);
    const rotation = await ring.rotate();
    const newKid = ring.signingKey().kid;
    expect(newKid).not.toBe(oldKid);
    expect(rotation).toEqual({
      activated: newKid,
      retired: [oldKid],
      publishedUntil: new Date(clock.now().getTime() + LIFETIME_MS + 3 * REFRESH_MS),
      removed: [],
      filesNotDeleted: [],
    });
    expect((await registry.list()).map((row) => [row.kid, row.status])).toEqual([
      [oldKid, 'RETIRED'],
      [newKid, 'ACTIVE'],
    ]);
    expect(ring.jwks().keys.map((key) => key.kid)).toEqual([newKid, oldKid]);
    await expect(verifier.verify(await token())).resolves.toMatchObject({ tokenId: 'token-1' });

    // The old token is good for its whole lifetime.
    clock.advance(oldTokenExpiresAt - 1_000 - clock.now().getTime());
    await expect(verifier.verify(oldToken)).resolves.toMatchObject({ tokenId: 'token-1' });
    clock.advance(rotation.publishedUntil.getTime() - 1 - clock.now().getTime());
    expect(ring.verificationKey(oldKid)).toBeDefined();

    // At publishedUntil the old key is gone, even before any refresh.
    clock.advance(1);
    expect(ring.jwks().keys.map((key) => key.kid)).toEqual([newKid]);
    expect(ring.verificationKey(oldKid)).toBeUndefined();
    await expect(verifier.verify(oldToken)).rejects.toMatchObject({ reason: 'unknown-kid' });

    // The next rotation removes its row and its private key file.
    const next = await ring.rotate();
    expect(next.removed).toEqual([oldKid]);
    expect(existsSync(join(dir, `${oldKid}.jwk.json`))).toBe(false);
    expect((await registry.list()).map((row) => row.kid)).toEqual([newKid, next.activated]);
    const listing = await ring.list();
    expect(listing.map((key) => [key.kid, key.status, key.published, key.hasPrivateKey])).toEqual([
      [newKid, 'RETIRED', true, true],
      [next.activated, 'ACTIVE', true, true],
    ]);
  });

  it('rotates to an operator key file, copied into the directory', async () => {
    const { ring, dir } = setUp();
    await ring.init();
    const source = writePem(dirs.create(), 'operator.pem', 'pkcs1');
    const kid = (await readSigningKeyFile(source)).kid;
    await expect(ring.rotate({ keyFile: source })).resolves.toMatchObject({ activated: kid });
    expect(ring.signingKey().kid).toBe(kid);
    expect(statSync(join(dir, `${kid}.jwk.json`)).mode & 0o777).toBe(0o600);
  });

  it('fails a rotation before it changes anything when the directory holds a file it cannot read', async () => {
    const { ring, registry, dir } = setUp();
    await ring.init();
    const before = await registry.list();
    writeFileSync(join(dir, 'broken.pem'), 'not a key');
    await expect(ring.rotate()).rejects.toThrow();
    expect(await registry.list()).toEqual(before);
    expect(readdirSync(dir).filter((name) => name.endsWith('.jwk.json'))).toHaveLength(1);
  });

  it('follows a rotation made by another process on refresh', async () => {
    const service = setUp();
    await service.ring.init();
    const cli = new SigningKeyRing(service.options);
    const { activated } = await cli.rotate();
    expect(service.ring.signingKey().kid).not.toBe(activated);
    expect(service.ring.verificationKey(activated)).toBeUndefined();
    await service.ring.refresh();
    expect(service.ring.signingKey().kid).toBe(activated);
    expect(service.ring.jwks().keys).toHaveLength(2);
  });

  it('refreshes on a timer once started, and reports refresh errors', async () => {
    const errors: unknown[] = [];
    const service = setUp({ refreshIntervalMs: 20, onRefreshError: (error) => errors.push(error) });
    await service.ring.init();
    const { activated } = await new SigningKeyRing(service.options).rotate();
    service.ring.start();
    try {
      await vi.waitFor(() => expect(service.ring.signingKey().kid).toBe(activated), { timeout: 2_000 });
      service.registry.replace(activated, { algorithm: 'HS256' });
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 2_000 });
      // The previous keys stay in use meanwhile.
      expect(service.ring.signingKey().kid).toBe(activated);
    } finally {
      service.ring.stop();
    }
  });
});
