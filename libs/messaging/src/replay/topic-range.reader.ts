import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { headerPairs, type InboundRecord } from '../inbound/inbound-record';

export interface TopicRange {
  readonly topic: string;
  /** First record at or after this instant; the beginning of the topic when absent. */
  readonly from?: Date;
  /** Records before this instant; the end of the topic as of the start when absent. */
  readonly to?: Date;
}

export interface RangeProgress {
  readonly read: number;
  readonly total: number;
}

type PartitionBounds = Map<number, { start: bigint; end: bigint }>;

async function bounds(kafka: Kafka, range: TopicRange): Promise<PartitionBounds> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(range.topic);
    const starts = range.from
      ? await admin.fetchTopicOffsetsByTimestamp(range.topic, range.from.getTime())
      : ends.map((end) => ({ partition: end.partition, offset: end.low }));
    const stops = range.to
      ? await admin.fetchTopicOffsetsByTimestamp(range.topic, range.to.getTime())
      : undefined;
    const result: PartitionBounds = new Map();
    for (const end of ends) {
      const high = BigInt(end.high);
      const start = BigInt(starts.find((s) => s.partition === end.partition)?.offset ?? end.high);
      const stopAt = stops?.find((s) => s.partition === end.partition)?.offset;
      // No record at or after `to` means the range runs to the end.
      const stop = stopAt === undefined || BigInt(stopAt) < 0n ? high : BigInt(stopAt);
      const from = start < 0n ? high : start;
      if (from < stop) result.set(end.partition, { start: from, end: stop });
    }
    return result;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads a time range of a topic, each partition in order, and hands every
 * record (as bytes, like the live consumer sees it) to `onRecord`, one at a
 * time. Uses a throw-away consumer group, deleted afterwards: the service's own
 * group and its committed offsets are never touched.
 */
export async function readTopicRange(
  kafka: Kafka,
  range: TopicRange,
  groupPrefix: string,
  onRecord: (record: InboundRecord) => Promise<void>,
  onProgress?: (progress: RangeProgress) => void,
): Promise<number> {
  const partitions = await bounds(kafka, range);
  const total = [...partitions.values()].reduce((sum, b) => sum + Number(b.end - b.start), 0);
  if (total === 0) return 0;

  const groupId = `${groupPrefix}.replay.${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, allowAutoTopicCreation: false });
  let read = 0;
  let failure: unknown;
  const remaining = new Set(partitions.keys());
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  await consumer.connect();
  try {
    await consumer.subscribe({ topic: range.topic, fromBeginning: true });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const [partition, b] of partitions)
        consumer.seek({ topic: range.topic, partition, offset: b.start.toString() });
    });
    // A batch's last offset counts transaction markers, which no message shows: it tells when a
    // partition whose range ends on a marker is done.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const b = partitions.get(payload.partition);
      if (b && remaining.has(payload.partition) && BigInt(payload.lastOffset) + 1n >= b.end) {
        remaining.delete(payload.partition);
        if (remaining.size === 0) finish();
      }
    });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const b = partitions.get(partition);
        const offset = BigInt(message.offset);
        if (!b || offset < b.start || !remaining.has(partition)) return;
        if (offset >= b.end) {
          remaining.delete(partition);
          if (remaining.size === 0) finish();
          return;
        }
        try {
          await onRecord({
            origin: { topic: range.topic, partition, offset: message.offset },
            key: message.key ?? null,
            value: message.value ?? null,
            headers: headerPairs(message.headers),
            timestamp: message.timestamp,
          });
        } catch (error) {
          failure = error;
          finish();
          throw error;
        }
        read += 1;
        onProgress?.({ read, total });
        if (offset + 1n >= b.end) {
          remaining.delete(partition);
          if (remaining.size === 0) finish();
        }
      },
    });
    await finished;
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  if (failure) throw failure;
  return read;
}
