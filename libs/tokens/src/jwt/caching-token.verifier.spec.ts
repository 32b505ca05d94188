import { describe, expect, it } from 'vitest';
import { TokenRejectedError, type VerifiedToken } from '@iam/domain';
import { CachingTokenVerifier } from './caching-token.verifier';
import type { KeyedTokenVerifier } from './rs512-token.verifier';

/** A compact JWS with this kid in its header: the inner verifier decides, and names the kid. */
const tokenWithKid = (kid: string, name: string): string =>
  `${Buffer.from(JSON.stringify({ alg: 'RS512', kid })).toString('base64url')}.${name}.sig`;
const [a, b, c, x] = ['a', 'b', 'c', 'x'].map((name) => tokenWithKid('k1', name)) as [
  string,
  string,
  string,
  string,
];
const published = new Set(['k1']);
const keyPublished = (kid: string) => published.has(kid);

const verified = (expiresAt: string): VerifiedToken => ({
  tokenId: 'j',
  clientId: 'c',
  authorities: ['ROLE_CLI-1STPARTY'],
  sessionId: undefined,
  userId: undefined,
  businessId: null,
  expiresAt: new Date(expiresAt),
});

/** An inner verifier that accepts the given tokens, each as verified by the kid in its header. */
function counting(results: Record<string, VerifiedToken>) {
  const calls: string[] = [];
  const verifyKeyed = async (token: string) => {
    calls.push(token);
    const result = results[token];
    if (!result) throw new TokenRejectedError('bad-signature');
    const { kid } = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string };
    return { verified: result, kid };
  };
  const verifier: KeyedTokenVerifier = {
    verifyKeyed,
    verify: async (token) => (await verifyKeyed(token)).verified,
  };
  return { verifier, calls };
}

describe('CachingTokenVerifier', () => {
  let now = new Date('2026-11-28T10:00:00Z');
  const clock = { now: () => now };

  it('verifies a token once while it is valid', async () => {
    const { verifier, calls } = counting({ [a]: verified('2026-11-28T10:15:00Z') });
    const caching = new CachingTokenVerifier(verifier, clock, keyPublished);
    await caching.verify(a);
    await caching.verify(a);
    expect(calls).toEqual([a]);
  });

  it('verifies again once the token has expired (and the inner verifier decides)', async () => {
    now = new Date('2026-11-28T10:00:00Z');
    const { verifier, calls } = counting({ [a]: verified('2026-11-28T10:15:00Z') });
    const caching = new CachingTokenVerifier(verifier, clock, keyPublished);
    await caching.verify(a);
    now = new Date('2026-11-28T10:15:00Z');
    await caching.verify(a);
    expect(calls).toEqual([a, a]);
  });

  it('never caches a rejection', async () => {
    const { verifier, calls } = counting({});
    const caching = new CachingTokenVerifier(verifier, clock, keyPublished);
    await expect(caching.verify(x)).rejects.toThrow(TokenRejectedError);
    await expect(caching.verify(x)).rejects.toThrow(TokenRejectedError);
    expect(calls).toEqual([x, x]);
  });

  it('evicts the least recently used token beyond its capacity', async () => {
    now = new Date('2026-11-28T10:00:00Z');
    const valid = verified('2026-11-28T11:00:00Z');
    const { verifier, calls } = counting({ [a]: valid, [b]: valid, [c]: valid });
    const caching = new CachingTokenVerifier(verifier, clock, keyPublished, 2);
    await caching.verify(a);
    await caching.verify(b);
    await caching.verify(a);
    await caching.verify(c);
    await caching.verify(a);
    await caching.verify(b);
    expect(calls).toEqual([a, b, c, b]);
  });

  it('verifies again once the signing key is no longer published', async () => {
    now = new Date('2026-11-28T10:00:00Z');
    const { verifier, calls } = counting({ [a]: verified('2026-11-28T10:15:00Z') });
    const caching = new CachingTokenVerifier(verifier, clock, keyPublished);
    await caching.verify(a);
    published.delete('k1');
    try {
      await caching.verify(a);
    } finally {
      published.add('k1');
    }
    expect(calls).toEqual([a, a]);
  });
});
