import { describe, expect, it } from 'vitest';
import { headerPairs, type InboundRecord } from '../inbound/inbound-record';
import { PoisonReason } from '../inbound/poison-reason';
import { deadLetterMessage, readDeadLetter } from './dead-letter-message';

const FAILED_AT = new Date('2026-11-30T12:00:00.000Z');

function recordWith(headers: Array<readonly [string, string]>): InboundRecord {
  return {
    origin: { topic: 'iam.role-changes.v1', partition: 3, offset: '42' },
    key: Buffer.from('user-1'),
    value: Buffer.from('not json'),
    headers: headers.map(([name, value]) => [name, Buffer.from(value)] as const),
    timestamp: '1764504000000',
  };
}

/** The dead letter as a consumer of its topic reads it: kafkajs groups the header values by name. */
function asRead(headers: ReadonlyArray<readonly [string, Buffer]>) {
  const grouped: Record<string, Buffer[]> = {};
  for (const [name, value] of headers) (grouped[name] ??= []).push(value);
  return { headers: headerPairs(grouped) };
}

describe('readDeadLetter', () => {
  it('reads back what deadLetterMessage wrote', () => {
    const letter = deadLetterMessage(
      recordWith([['x-probe', 'a']]),
      { reason: PoisonReason.UnknownType, detail: 'type iam.user.renamed', eventId: 'evt-1' },
      'iam.role-changes.v1.dlq',
      'iam-token-renewal',
      FAILED_AT,
    );

    expect(readDeadLetter(asRead(letter.headers))).toEqual({
      reason: 'unknown-type',
      detail: 'type iam.user.renamed',
      eventId: 'evt-1',
      failedAt: FAILED_AT.toISOString(),
      origin: { topic: 'iam.role-changes.v1', partition: 3, offset: '42' },
    });
  });

  it("never reads a record's own dlq-* headers in place of the service's", () => {
    const forged = recordWith([
      ['dlq-reason', 'forged'],
      ['dlq-origin-topic', 'iam.session-updates.v1'],
      ['dlq-origin-partition', '0'],
      ['dlq-origin-offset', '1'],
      ['dlq-failed-at', 'never'],
      ['x-probe', 'a'],
    ]);
    const letter = deadLetterMessage(
      forged,
      { reason: PoisonReason.NotJson, detail: 'not JSON' },
      'iam.role-changes.v1.dlq',
      'iam-token-renewal',
      FAILED_AT,
    );

    // The record's headers stay in the dead letter, unchanged.
    expect(letter.headers.slice(0, 6)).toEqual(forged.headers);
    expect(readDeadLetter(asRead(letter.headers))).toMatchObject({
      reason: 'not-json',
      failedAt: FAILED_AT.toISOString(),
      origin: { topic: 'iam.role-changes.v1', partition: 3, offset: '42' },
    });
  });

  it('gives no origin unless topic, partition and offset are all there and numeric', () => {
    expect(readDeadLetter(recordWith([])).origin).toBeUndefined();
    const partial = recordWith([
      ['dlq-origin-topic', 'iam.role-changes.v1'],
      ['dlq-origin-partition', 'x'],
      ['dlq-origin-offset', '1'],
    ]);
    expect(readDeadLetter(partial).origin).toBeUndefined();
  });
});
