import type { InboundRecord } from '../inbound/inbound-record';
import type { Poison } from '../inbound/poison-reason';
import type { OutboxMessage } from '../outbox/outbox-message';

/** Headers a dead letter carries in addition to the record's own. */
export const DeadLetterHeader = {
  Reason: 'dlq-reason',
  Detail: 'dlq-detail',
  EventId: 'dlq-event-id',
  OriginTopic: 'dlq-origin-topic',
  OriginPartition: 'dlq-origin-partition',
  OriginOffset: 'dlq-origin-offset',
  OriginTimestamp: 'dlq-origin-timestamp',
  ConsumerGroup: 'dlq-consumer-group',
  FailedAt: 'dlq-failed-at',
} as const;

const MAX_DETAIL_LENGTH = 1_024;

/**
 * The dead letter of a poison record: key, value and headers unchanged, plus
 * headers that say why it was refused and where it came from.
 */
export function deadLetterMessage(
  record: InboundRecord,
  poison: Poison,
  deadLetterTopic: string,
  consumerGroup: string,
  failedAt: Date,
): OutboxMessage {
  const added: Array<readonly [string, string]> = [
    [DeadLetterHeader.Reason, poison.reason],
    [DeadLetterHeader.Detail, poison.detail.slice(0, MAX_DETAIL_LENGTH)],
    ...(poison.eventId !== undefined ? [[DeadLetterHeader.EventId, poison.eventId] as const] : []),
    [DeadLetterHeader.OriginTopic, record.origin.topic],
    [DeadLetterHeader.OriginPartition, String(record.origin.partition)],
    [DeadLetterHeader.OriginOffset, record.origin.offset],
    [DeadLetterHeader.OriginTimestamp, record.timestamp],
    [DeadLetterHeader.ConsumerGroup, consumerGroup],
    [DeadLetterHeader.FailedAt, failedAt.toISOString()],
  ];
  return {
    topic: deadLetterTopic,
    key: record.key,
    value: record.value,
    headers: [...record.headers, ...added.map(([name, value]) => [name, Buffer.from(value)] as const)],
  };
}

/** Stores dead letters: once per origin record, so a replay does not dead-letter twice. */
export interface DeadLetterStore {
  /** Returns false when this record was dead-lettered before. */
  deadLetter(record: InboundRecord, poison: Poison, message: OutboxMessage): Promise<boolean>;
}

/** What the service wrote on a dead letter. */
export interface DeadLetterFacts {
  readonly reason: string | undefined;
  readonly detail: string | undefined;
  readonly eventId: string | undefined;
  readonly failedAt: string | undefined;
  /** The record it stands for; undefined unless all three headers are there and well formed. */
  readonly origin:
    { readonly topic: string; readonly partition: number; readonly offset: string } | undefined;
}

/**
 * Reads the service's headers on a dead letter: of each `dlq-*` name, the last
 * value. The record's own headers are kept, and come first, so a `dlq-*`
 * header it arrived with (forged, say, to steer a redrive) is never read in
 * place of the service's, which are added after it. (kafkajs hands headers
 * over grouped by name, so "last" holds per name, not across names.) One
 * limit: a record dead-lettered without an event id still shows an event id
 * it carried itself, so `dlq redrive --id` can select it by that; where a
 * redrive sends it never depends on its headers.
 */
export function readDeadLetter(record: Pick<InboundRecord, 'headers'>): DeadLetterFacts {
  const last = (name: string) => record.headers.findLast(([key]) => key === name)?.[1].toString('utf8');
  const [topic, partition, offset] = [
    last(DeadLetterHeader.OriginTopic),
    last(DeadLetterHeader.OriginPartition),
    last(DeadLetterHeader.OriginOffset),
  ];
  const wellFormed = topic !== undefined && /^\d+$/.test(partition ?? '') && /^\d+$/.test(offset ?? '');
  return {
    reason: last(DeadLetterHeader.Reason),
    detail: last(DeadLetterHeader.Detail),
    eventId: last(DeadLetterHeader.EventId),
    failedAt: last(DeadLetterHeader.FailedAt),
    origin: wellFormed ? { topic, partition: Number(partition), offset: offset! } : undefined,
  };
}
