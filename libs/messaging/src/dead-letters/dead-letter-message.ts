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
