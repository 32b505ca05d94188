import { describe, expect, it } from 'vitest';
import { KeyFileError, SigningKeyFileMissingError, SigningKeyRingError } from '@iam/tokens';
import { signingKeyRefreshFailureHandler } from './signing-key-refresh-failure';

const GRACE_MS = 5 * 60_000;
const now = new Date('2026-11-30T12:00:00.000Z');
const lastReadAt = new Date(now.getTime() - 60_000);
const activatedAgo = (ms: number) => new Date(now.getTime() - ms);
const missingFile = (activatedAt: Date) => new SigningKeyFileMissingError('kid-2', '/keys', activatedAt);
const databaseDown = Object.assign(new Error('connect ECONNREFUSED /var/run/postgresql/.s.PGSQL.5432'), {
  code: 'ECONNREFUSED',
});

function harness(current: boolean) {
  const warnings: unknown[] = [];
  const fatal: Array<{ error: unknown; context: Record<string, unknown> }> = [];
  const handle = signingKeyRefreshFailureHandler(
    () => ({ signingStatus: () => ({ current, lastReadAt }) }),
    { warn: (entry: unknown) => void warnings.push(entry) } as never,
    { report: (error, context) => void fatal.push({ error, context }) },
    { propagationGraceMs: GRACE_MS, clock: { now: () => now } },
  );
  return { handle, warnings, fatal };
}

describe('signingKeyRefreshFailureHandler', () => {
  it('stops the instance once a key activated longer ago than the grace is still not here and it may no longer sign', () => {
    const { handle, warnings, fatal } = harness(false);
    const error = missingFile(activatedAgo(GRACE_MS + 1));
    handle(error);
    expect(fatal).toEqual([{ error, context: expect.objectContaining({ lastReadAt }) }]);
    expect(warnings).toEqual([]);
  });

  it('only warns while the key is younger than the grace: a shared volume or mounted secret may lag behind a rotation', () => {
    const { handle, warnings, fatal } = harness(false);
    const error = missingFile(activatedAgo(GRACE_MS));
    handle(error);
    expect(fatal).toEqual([]);
    expect(warnings).toEqual([expect.objectContaining({ err: error, signing: false })]);
  });

  it('only warns while the instance may still sign on its last read', () => {
    const { handle, fatal } = harness(true);
    handle(missingFile(activatedAgo(GRACE_MS + 1)));
    expect(fatal).toEqual([]);
  });

  it('only warns on anything else, however long: the registry unreachable, or a registry row it refuses', () => {
    const { handle, warnings, fatal } = harness(false);
    const others = [
      databaseDown,
      new SigningKeyRingError('the signing key registry has no ACTIVE key'),
      // Reaches the handler only wrapped in SigningKeyFileMissingError (the ring's rescan); alone it is not this.
      new KeyFileError('/keys/a.pem', 'not a readable PEM private key'),
    ];
    for (const error of others) handle(error);
    expect(fatal).toEqual([]);
    expect(warnings).toHaveLength(others.length);
  });
});
