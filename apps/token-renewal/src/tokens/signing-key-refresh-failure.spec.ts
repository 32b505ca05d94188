import { describe, expect, it } from 'vitest';
import { KeyFileError, SigningKeyFileMissingError, SigningKeyRingError } from '@iam/tokens';
import { isLocalKeyFault, signingKeyRefreshFailureHandler } from './signing-key-refresh-failure';

const lastReadAt = new Date('2026-11-30T12:00:00.000Z');
const missingFile = new SigningKeyFileMissingError('kid-2', '/keys');
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
  );
  return { handle, warnings, fatal };
}

describe('signingKeyRefreshFailureHandler', () => {
  it('stops the instance once a key missing from its own directory keeps it from signing', () => {
    const { handle, warnings, fatal } = harness(false);
    handle(missingFile);
    expect(fatal).toEqual([{ error: missingFile, context: expect.objectContaining({ lastReadAt }) }]);
    expect(warnings).toEqual([]);
  });

  it('only warns while the instance may still sign on its last read: a rotation the volume has not caught up with yet', () => {
    const { handle, warnings, fatal } = harness(true);
    handle(missingFile);
    expect(fatal).toEqual([]);
    expect(warnings).toEqual([expect.objectContaining({ err: missingFile, signing: true })]);
  });

  it('only warns when the registry cannot be read, however long: that is every instance’s outage, not this one’s', () => {
    const { handle, warnings, fatal } = harness(false);
    handle(databaseDown);
    expect(fatal).toEqual([]);
    expect(warnings).toEqual([expect.objectContaining({ err: databaseDown, signing: false, lastReadAt })]);
  });
});

describe('isLocalKeyFault', () => {
  it('is a missing or unreadable key file, and nothing the registry itself says', () => {
    expect(isLocalKeyFault(missingFile)).toBe(true);
    expect(isLocalKeyFault(new KeyFileError('/keys/a.pem', 'not a readable PEM private key'))).toBe(true);
    expect(isLocalKeyFault(new SigningKeyRingError('the signing key registry has no ACTIVE key'))).toBe(
      false,
    );
    expect(isLocalKeyFault(databaseDown)).toBe(false);
  });
});
