import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MalformedSecretHashError, ScryptSecretHasher } from './scrypt-secret.hasher';

const hasher = new ScryptSecretHasher();

describe('ScryptSecretHasher', () => {
  it('hashes as scrypt$N$r$p$salt$hash with N=2^15, r=8, p=1, a 16-byte salt and a 32-byte key', async () => {
    const stored = await hasher.hash('s3cret-of-the-client');
    const [prefix, n, r, p, salt, hash, ...rest] = stored.split('$');
    expect([prefix, n, r, p, rest]).toEqual(['scrypt', '32768', '8', '1', []]);
    expect(Buffer.from(salt!, 'base64')).toHaveLength(16);
    expect(Buffer.from(hash!, 'base64')).toHaveLength(32);
    expect(stored).not.toContain('s3cret');
  });

  it('salts every hash', async () => {
    expect(await hasher.hash('same')).not.toBe(await hasher.hash('same'));
  });

  it('verifies the right secret and refuses a wrong one', async () => {
    const stored = await hasher.hash('right secret');
    await expect(hasher.verify('right secret', stored)).resolves.toBe(true);
    await expect(hasher.verify('wrong secret', stored)).resolves.toBe(false);
    await expect(hasher.verify('right secre', stored)).resolves.toBe(false);
    await expect(hasher.verify('', stored)).resolves.toBe(false);
  });

  it('says no for an unknown client, after the same work as for a known one', async () => {
    const stored = await hasher.hash('right secret');
    const time = async (work: () => Promise<unknown>): Promise<number> => {
      const start = performance.now();
      await work();
      return performance.now() - start;
    };
    await expect(hasher.verify('right secret', null)).resolves.toBe(false);
    await expect(hasher.verify('', null)).resolves.toBe(false);
    const known = await time(() => hasher.verify('wrong secret', stored));
    const unknown = await time(() => hasher.verify('wrong secret', null));
    // Loose bounds: the point is that scrypt runs, not a benchmark.
    expect(unknown).toBeGreaterThan(known / 4);
  });

  it('refuses to hash an empty secret', async () => {
    await expect(hasher.hash('')).rejects.toThrow(RangeError);
  });

  it('throws on a malformed stored hash, and bounds the stored parameters', async () => {
    const salt = Buffer.alloc(16, 1).toString('base64');
    const key = Buffer.alloc(32, 2).toString('base64');
    const malformed = [
      'plain-text-secret',
      `bcrypt$32768$8$1$${salt}$${key}`,
      `scrypt$32768$8$1$${salt}`,
      `scrypt$30000$8$1$${salt}$${key}`,
      `scrypt$${2 ** 24}$8$1$${salt}$${key}`,
      `scrypt$32768$999$1$${salt}$${key}`,
      `scrypt$32768$8$1$${Buffer.alloc(4).toString('base64')}$${key}`,
      `scrypt$32768$8$1$${salt}$not base64!`,
    ];
    for (const stored of malformed) {
      await expect(hasher.verify('x', stored), stored).rejects.toThrow(MalformedSecretHashError);
    }
  });

  it('verifies a hash made with other (bounded) parameters', async () => {
    const salt = Buffer.alloc(16, 7);
    const key = scryptSync('legacy', salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    await expect(hasher.verify('legacy', stored)).resolves.toBe(true);
    await expect(hasher.verify('other', stored)).resolves.toBe(false);
  });
});
