import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PrismaService } from '@iam/persistence';
import {
  generateSigningKeyFile,
  SigningKeyRing,
  UnknownSigningKeyError,
  type PublicSigningJwk,
} from '@iam/tokens';
import { PrismaSigningKeyRegistry } from '../../libs/persistence/src/keys/prisma-signing-key.registry';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';

interface TestKey {
  readonly kid: string;
  readonly publicJwk: PublicSigningJwk;
}

describe('PrismaSigningKeyRegistry (real PostgreSQL)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let prisma: PrismaService;
  let registry: PrismaSigningKeyRegistry;
  let keysDir: string;
  const keys: TestKey[] = [];

  const key = (index: number): TestKey => keys[index]!;
  const statuses = async (): Promise<Array<[string, string]>> =>
    (await registry.list()).map((row) => [row.kid, row.status]);

  beforeAll(async () => {
    database = await createTestDatabase('signing_keys');
    pool = testPool(database.url, 4);
    prisma = new PrismaService(pool);
    registry = new PrismaSigningKeyRegistry(prisma);
    keysDir = mkdtempSync(join(tmpdir(), 'iam-signing-keys-'));
    for (let i = 0; i < 3; i += 1) {
      const file = await generateSigningKeyFile(join(keysDir, 'pool'));
      keys.push({ kid: file.kid, publicJwk: file.publicJwk });
    }
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await pool?.end();
    await database?.drop();
    if (keysDir) rmSync(keysDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await prisma.signingKey.deleteMany();
  });

  it('registers a key once and lists it with its public JWK', async () => {
    await registry.register({ ...key(0), status: 'ACTIVE' });
    // A known kid is the same key: registering it again changes nothing.
    await registry.register({ ...key(0), status: 'RETIRED' });
    const rows = await registry.list();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kid: key(0).kid,
      algorithm: 'RS512',
      publicJwk: key(0).publicJwk,
      status: 'ACTIVE',
      retiredAt: null,
      publishedUntil: null,
    });
    expect(rows[0]!.createdAt).toBeInstanceOf(Date);
  });

  it('activates one key and retires the other active ones, keeping earlier retirements', async () => {
    const earlier = new Date('2030-01-01T00:00:00.000Z');
    const later = new Date('2030-06-01T00:00:00.000Z');
    for (const k of [key(0), key(1), key(2)]) await registry.register({ ...k, status: 'ACTIVE' });
    await registry.activate(key(1).kid, earlier);
    await registry.activate(key(2).kid, later);

    const rows = new Map((await registry.list()).map((row) => [row.kid, row]));
    expect(rows.get(key(2).kid)).toMatchObject({ status: 'ACTIVE', retiredAt: null, publishedUntil: null });
    expect(rows.get(key(1).kid)).toMatchObject({ status: 'RETIRED', publishedUntil: later });
    // key 0 was retired by the first activation and keeps that window.
    expect(rows.get(key(0).kid)).toMatchObject({ status: 'RETIRED', publishedUntil: earlier });
    expect(rows.get(key(1).kid)!.retiredAt).toBeInstanceOf(Date);
  });

  it('refuses to activate an unknown kid and changes nothing', async () => {
    await registry.register({ ...key(0), status: 'ACTIVE' });
    await expect(registry.activate('no-such-kid', new Date())).rejects.toThrow(UnknownSigningKeyError);
    expect(await statuses()).toEqual([[key(0).kid, 'ACTIVE']]);
  });

  it('leaves exactly one ACTIVE key when activations race', async () => {
    for (const k of [key(0), key(1), key(2)]) await registry.register({ ...k, status: 'RETIRED' });
    const until = new Date(Date.now() + 60_000);
    await Promise.all(Array.from({ length: 12 }, (_, i) => registry.activate(key(i % 3).kid, until)));
    const active = (await registry.list()).filter((row) => row.status === 'ACTIVE');
    expect(active).toHaveLength(1);
  });

  it('removes the retired keys whose publication has ended, and returns their kids', async () => {
    const now = new Date('2030-01-01T12:00:00.000Z');
    for (const k of [key(0), key(1), key(2)]) await registry.register({ ...k, status: 'ACTIVE' });
    await registry.activate(key(1).kid, now); // retires key 0 until exactly now
    await registry.activate(key(2).kid, new Date(now.getTime() + 1)); // retires key 1 until just after
    expect(await registry.removeExpired(now)).toEqual([key(0).kid]);
    expect((await statuses()).map(([kid]) => kid).sort()).toEqual([key(1).kid, key(2).kid].sort());
    expect(await registry.removeExpired(now)).toEqual([]);
  });

  it('backs a key ring: first start, a second instance, a rotation followed by refresh', async () => {
    const dir = join(keysDir, 'ring');
    const options = { registry, dir, generateIfMissing: true, maxTokenLifetimeMs: 60_000 };
    const first = new SigningKeyRing(options);
    await first.init();
    const second = new SigningKeyRing({ ...options, generateIfMissing: false });
    await second.init();
    expect(second.signingKey().kid).toBe(first.signingKey().kid);

    const rotation = await new SigningKeyRing(options).rotate();
    expect(rotation.retired).toEqual([first.signingKey().kid]);
    await first.refresh();
    expect(first.signingKey().kid).toBe(rotation.activated);
    expect(first.jwks().keys.map((k) => k.kid)).toEqual([rotation.activated, rotation.retired[0]]);
  });
});
