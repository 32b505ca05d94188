import { describe, expect, it } from 'vitest';
import { EventType } from '@iam/domain';
import { CHANNEL_EVENT_TYPES, InputChannel } from '../kafka/channels';
import { decodeChangeEvent, MAX_RECORD_BYTES } from './decode-change-event';
import type { InboundRecord } from './inbound-record';
import { PoisonReason } from './poison-reason';

const roleTypes = CHANNEL_EVENT_TYPES[InputChannel.RoleChanges];
const origin = { topic: 'iam.role-changes.v1', partition: 3, offset: '42' };

const valid = {
  specversion: '1.0',
  id: 'evt-1',
  source: '/authme/users',
  type: EventType.UserRoleGranted,
  time: '2026-11-28T10:00:00.123456Z',
  subject: 'u1',
  datacontenttype: 'application/json',
  data: { userId: 'u1', role: 'ADMIN' },
};

const record = (value: unknown): InboundRecord => ({
  origin,
  key: Buffer.from('u1'),
  value:
    value === null
      ? null
      : Buffer.isBuffer(value)
        ? value
        : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  headers: [],
  timestamp: '0',
});

const reasonOf = (value: unknown) => {
  const result = decodeChangeEvent(record(value), roleTypes);
  return result.ok ? 'ok' : result.reason;
};

describe('decodeChangeEvent', () => {
  it('turns a valid CloudEvent into a change event, keeping the exact source time', () => {
    const result = decodeChangeEvent(record(valid), roleTypes);
    expect(result).toEqual({
      ok: true,
      event: {
        id: 'evt-1',
        source: '/authme/users',
        subject: 'u1',
        time: new Date('2026-11-28T10:00:00.123Z'),
        timestamp: '2026-11-28T10:00:00.123456Z',
        change: { type: EventType.UserRoleGranted, data: { userId: 'u1', role: 'ADMIN' } },
        origin,
      },
    });
  });

  it('ignores unknown payload fields (forward compatible) but keeps the contract fields', () => {
    const result = decodeChangeEvent(record({ ...valid, data: { ...valid.data, extra: 1 } }), roleTypes);
    expect(result.ok && result.event.change.data).toEqual({ userId: 'u1', role: 'ADMIN' });
  });

  it('names why a record is poison', () => {
    expect(reasonOf(null)).toBe(PoisonReason.Empty);
    expect(reasonOf('')).toBe(PoisonReason.Empty);
    expect(reasonOf('x'.repeat(MAX_RECORD_BYTES + 1))).toBe(PoisonReason.TooLarge);
    expect(reasonOf('{"specversion":')).toBe(PoisonReason.NotJson);
    expect(reasonOf(Buffer.from([0xff, 0xfe, 0x7b]))).toBe(PoisonReason.NotJson);
    expect(reasonOf([1, 2])).toBe(PoisonReason.NotCloudEvent);
    expect(reasonOf({ ...valid, specversion: undefined })).toBe(PoisonReason.NotCloudEvent);
    expect(reasonOf({ ...valid, specversion: '2.0' })).toBe(PoisonReason.UnknownSchemaVersion);
    expect(reasonOf({ ...valid, time: '2026-02-30T10:00:00Z' })).toBe(PoisonReason.NotCloudEvent);
    expect(reasonOf({ ...valid, id: 'evt\u0000nul' })).toBe(PoisonReason.NotCloudEvent);
    expect(reasonOf({ ...valid, type: 'iam.user.renamed' })).toBe(PoisonReason.UnknownType);
    expect(reasonOf({ ...valid, type: EventType.BusinessRoleGranted })).toBe(PoisonReason.UnknownType);
    expect(reasonOf({ ...valid, data: { userId: 'u1' } })).toBe(PoisonReason.InvalidPayload);
    expect(reasonOf({ ...valid, data: { userId: 'u2', role: 'ADMIN' } })).toBe(PoisonReason.InvalidPayload);
    expect(reasonOf({ ...valid, subject: 'sur-\ud800', data: { userId: 'sur-\ud800', role: 'ADMIN' } })).toBe(
      PoisonReason.NotCloudEvent,
    );
  });

  it('keeps the event id with the dead letter only when it is a usable id', () => {
    const broken = decodeChangeEvent(record({ ...valid, id: 'evt\u0000nul', type: 'nope' }), roleTypes);
    expect(broken.ok ? undefined : broken.eventId).toBeUndefined();
    const unknown = decodeChangeEvent(record({ ...valid, type: 'nope' }), roleTypes);
    expect(unknown.ok ? undefined : unknown.eventId).toBe('evt-1');
  });
});
