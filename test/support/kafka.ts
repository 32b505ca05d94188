import {
  AssignerProtocol,
  Kafka,
  logLevel,
  Partitioners,
  type Consumer,
  type IHeaders,
  type Producer,
} from 'kafkajs';
import { testEnvironment, uniqueName } from './environment';

export const testKafka = new Kafka({
  clientId: 'iam-tests',
  brokers: testEnvironment.kafkaBrokers,
  logLevel: logLevel.NOTHING,
  retry: { retries: 8 },
});

let producer: Producer | undefined;

/** An independent producer (plain kafkajs), as another AuthMe service would publish. */
export async function testProducer(): Promise<Producer> {
  if (!producer) {
    producer = testKafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
  }
  return producer;
}

export async function closeTestProducer(): Promise<void> {
  await producer?.disconnect();
  producer = undefined;
}

export interface ReceivedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
  readonly timestamp: string;
  /** performance.now() when this reader received the record (for latency measurements). */
  readonly receivedAt: number;
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    // defineProperty: a header named __proto__ is a header here too, not the object's prototype.
    // kafkajs decodes a header named __proto__ as [Object.prototype, value]: only buffers and strings count.
    const first = (Array.isArray(value) ? value : [value]).find(
      (item) => Buffer.isBuffer(item) || typeof item === 'string',
    );
    Object.defineProperty(result, name, {
      value: first?.toString() ?? '',
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return result;
}

/**
 * Reads a topic from the beginning (read_committed) into memory, for
 * assertions: `waitFor` resolves once the records satisfy a condition.
 */
export class TopicReader {
  readonly records: ReceivedRecord[] = [];
  private constructor(private readonly consumer: Consumer) {}

  static async open(topic: string, kafka: Kafka = testKafka): Promise<TopicReader> {
    const consumer = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted: false });
    const reader = new TopicReader(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic: from, partition, message }) => {
        reader.records.push({
          topic: from,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value,
          headers: headersOf(message.headers),
          timestamp: message.timestamp,
          receivedAt: performance.now(),
        });
      },
    });
    return reader;
  }

  json<T = unknown>(): T[] {
    return this.records.map((record) => JSON.parse(record.value?.toString() ?? 'null') as T);
  }

  async waitFor(
    condition: (records: readonly ReceivedRecord[]) => boolean,
    timeoutMs = 30_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this.records)) {
      if (Date.now() > deadline) {
        throw new Error(`condition not met within ${timeoutMs} ms (${this.records.length} records read)`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits a quiet period and returns how many records arrived during it (to prove nothing was published). */
  async countArrivingWithin(ms: number): Promise<number> {
    const before = this.records.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.records.length - before;
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** The input partitions each member of the group holds right now. */
export async function groupAssignments(
  kafka: Kafka,
  groupId: string,
): Promise<{
  state: string;
  members: { memberId: string; clientHost: string; partitions: Record<string, number[]> }[];
}> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const {
      groups: [group],
    } = await admin.describeGroups([groupId]);
    return {
      state: group?.state ?? 'Unknown',
      members: (group?.members ?? []).map((member) => ({
        memberId: member.memberId,
        clientHost: member.clientHost,
        partitions: AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment ?? {},
      })),
    };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until the group is stable with `members` members, each holding some
 * partitions of `topic`; returns each member's share of it.
 */
export async function waitForSharedTopic(
  groupId: string,
  topic: string,
  members: number,
  timeoutMs = 60_000,
): Promise<number[][]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const group = await groupAssignments(testKafka, groupId);
    const shares = group.members.map((member) => member.partitions[topic] ?? []);
    if (group.state === 'Stable' && shares.length === members && shares.every((share) => share.length > 0)) {
      return shares;
    }
    if (Date.now() > deadline)
      throw new Error(`the group never shared ${topic} among ${members}: ${JSON.stringify(group)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
