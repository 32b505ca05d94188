import { Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '@iam/messaging';
import { testEnvironment, uniqueName } from '../support/environment';

/**
 * The foundation's proof: kafkajs against the pinned broker, for the three
 * things the service relies on — idempotent producing, consumer groups with
 * manually committed offsets, and transactions hidden from read_committed
 * consumers until they commit.
 */

const kafka = new Kafka({
  clientId: uniqueName('iam-round-trip'),
  brokers: testEnvironment.kafkaBrokers,
  logLevel: logLevel.NOTHING,
  retry: { retries: 8 },
});

interface Received {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
}

const toReceived = (partition: number, message: KafkaMessage): Received => ({
  partition,
  offset: message.offset,
  key: message.key?.toString() ?? null,
  value: message.value?.toString() ?? null,
  headers: Object.fromEntries(
    Object.entries(message.headers ?? {}).map(([name, value]) => [
      name,
      (Array.isArray(value) ? value.join(',') : value)?.toString() ?? '',
    ]),
  ),
});

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Short fetch waits: a consumer's disconnect waits for its fetch in flight. */
const FETCH_WAIT_MS = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const opened: Array<Producer | Consumer> = [];
function track<T extends Producer | Consumer>(client: T): T {
  opened.push(client);
  return client;
}

async function createTopic(prefix: string, numPartitions = 1): Promise<string> {
  const topic = uniqueName(prefix);
  expect(await ensureTopics(kafka, [{ topic, numPartitions }])).toEqual([topic]);
  return topic;
}

let admin: ReturnType<Kafka['admin']>;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
});

afterEach(async () => {
  while (opened.length > 0)
    await opened
      .pop()!
      .disconnect()
      .catch(() => undefined);
});

afterAll(async () => {
  await admin?.disconnect();
});

describe('kafkajs against the pinned broker', () => {
  it('creates topics once: ensureTopics skips the ones that exist', async () => {
    const topic = await createTopic('rt-ensure', 3);
    expect(await ensureTopics(kafka, [{ topic, numPartitions: 3 }])).toEqual([]);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
  });

  it('produces idempotently, consumes in a group, commits manually and resumes after the committed offset', async () => {
    const topic = await createTopic('rt-group');
    const groupId = uniqueName('rt-group');
    const producer = track(
      kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner }),
    );
    await producer.connect();
    const first = await producer.send({
      topic,
      messages: Array.from({ length: 6 }, (_, i) => ({
        key: `k${i}`,
        value: `m${i}`,
        headers: { seq: String(i), 'content-type': 'text/plain' },
      })),
    });
    const second = await producer.send({
      topic,
      messages: Array.from({ length: 4 }, (_, i) => ({
        key: `k${i + 6}`,
        value: `m${i + 6}`,
        headers: { seq: String(i + 6) },
      })),
    });
    expect(first).toEqual([expect.objectContaining({ topicName: topic, partition: 0, baseOffset: '0' })]);
    expect(second).toEqual([expect.objectContaining({ topicName: topic, partition: 0, baseOffset: '6' })]);

    // First run: reads everything, but commits only up to m5 (next offset to read: 6).
    const firstRun: Received[] = [];
    const consumer = track(
      kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: FETCH_WAIT_MS }),
    );
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        firstRun.push(toReceived(partition, message));
        if (message.offset === '5') {
          await consumer.commitOffsets([{ topic, partition, offset: '6' }]);
        }
      },
    });
    await waitUntil(() => firstRun.length >= 10, 'the first run to read all ten records');
    await consumer.disconnect();

    expect(firstRun.map((r) => [r.offset, r.key, r.value])).toEqual(
      Array.from({ length: 10 }, (_, i) => [String(i), `k${i}`, `m${i}`]),
    );
    expect(firstRun[0]!.headers).toEqual({ seq: '0', 'content-type': 'text/plain' });
    expect(firstRun[9]!.headers).toEqual({ seq: '9' });
    expect(await admin.fetchOffsets({ groupId, topics: [topic] })).toEqual([
      { topic, partitions: [expect.objectContaining({ partition: 0, offset: '6' })] },
    ]);

    // Second run of the same group: resumes at offset 6, not from the beginning.
    const secondRun: Received[] = [];
    const restarted = track(
      kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: FETCH_WAIT_MS }),
    );
    await restarted.connect();
    await restarted.subscribe({ topic, fromBeginning: true });
    await restarted.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        secondRun.push(toReceived(partition, message));
      },
    });
    await waitUntil(() => secondRun.length >= 4, 'the restarted group to read the uncommitted records');
    await producer.send({ topic, messages: [{ key: 'k10', value: 'm10' }] });
    await waitUntil(() => secondRun.length >= 5, 'a record produced after the restart');
    await sleep(500);
    expect(secondRun.map((r) => [r.offset, r.value])).toEqual([
      ['6', 'm6'],
      ['7', 'm7'],
      ['8', 'm8'],
      ['9', 'm9'],
      ['10', 'm10'],
    ]);
    await restarted.disconnect();
    // Nothing was committed by the second run.
    expect(await admin.fetchOffsets({ groupId, topics: [topic] })).toEqual([
      { topic, partitions: [expect.objectContaining({ partition: 0, offset: '6' })] },
    ]);
  });

  it('keeps records with the same key in one partition, in order (murmur2 partitioner)', async () => {
    const topic = await createTopic('rt-keys', 4);
    const producer = track(
      kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner }),
    );
    await producer.connect();
    const keys = ['user-a', 'user-b', 'user-c', 'user-d', 'user-e'];
    for (let round = 0; round < 4; round += 1) {
      await producer.send({ topic, messages: keys.map((key) => ({ key, value: `${key}#${round}` })) });
    }
    const received: Received[] = [];
    const consumer = track(
      kafka.consumer({ groupId: uniqueName('rt-keys'), maxWaitTimeInMs: FETCH_WAIT_MS }),
    );
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => void received.push(toReceived(partition, message)),
    });
    await waitUntil(() => received.length >= 20, 'twenty records');
    for (const key of keys) {
      const ofKey = received.filter((r) => r.key === key);
      expect(ofKey.map((r) => r.value)).toEqual([0, 1, 2, 3].map((round) => `${key}#${round}`));
      expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
    }
  });

  it('hides aborted transactional records from read_committed consumers and shows committed ones', async () => {
    const topic = await createTopic('rt-txn');
    const producer = track(
      kafka.producer({
        transactionalId: uniqueName('rt-txn'),
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      }),
    );
    await producer.connect();
    const inTransaction = async (values: string[], outcome: 'commit' | 'abort') => {
      const transaction = await producer.transaction();
      await transaction.send({ topic, messages: values.map((value) => ({ key: 'k', value })) });
      await (outcome === 'commit' ? transaction.commit() : transaction.abort());
    };
    await inTransaction(['aborted-1', 'aborted-2'], 'abort');
    await inTransaction(['committed-1', 'committed-2'], 'commit');
    await inTransaction(['aborted-3'], 'abort');
    // A committed record after the last abort: once it is read, everything before it has been decided.
    await inTransaction(['committed-3'], 'commit');

    const read = async (readUncommitted: boolean, expected: number): Promise<Received[]> => {
      const received: Received[] = [];
      const consumer = track(
        kafka.consumer({
          groupId: uniqueName('rt-txn-reader'),
          readUncommitted,
          maxWaitTimeInMs: FETCH_WAIT_MS,
        }),
      );
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => void received.push(toReceived(partition, message)),
      });
      await waitUntil(() => received.some((r) => r.value === 'committed-3'), 'the last committed record');
      await sleep(300);
      await consumer.disconnect();
      expect(received).toHaveLength(expected);
      return received;
    };

    // Offsets: each transaction ends with a control record (abort or commit marker) taking an offset.
    const committed = await read(false, 3);
    expect(committed.map((r) => [r.offset, r.value])).toEqual([
      ['3', 'committed-1'],
      ['4', 'committed-2'],
      ['8', 'committed-3'],
    ]);
    const everything = await read(true, 6);
    expect(everything.map((r) => [r.offset, r.value])).toEqual([
      ['0', 'aborted-1'],
      ['1', 'aborted-2'],
      ['3', 'committed-1'],
      ['4', 'committed-2'],
      ['6', 'aborted-3'],
      ['8', 'committed-3'],
    ]);
  });

  it('commits consumer offsets inside a transaction only when it commits (sendOffsets)', async () => {
    const topic = await createTopic('rt-txn-offsets');
    const groupId = uniqueName('rt-txn-offsets');
    const producer = track(
      kafka.producer({
        transactionalId: uniqueName('rt-txn-offsets'),
        idempotent: true,
        maxInFlightRequests: 1,
      }),
    );
    await producer.connect();
    const offsets = (offset: string) => ({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 0, offset }] }],
    });

    const aborted = await producer.transaction();
    await aborted.sendOffsets(offsets('41'));
    await aborted.abort();
    expect(await admin.fetchOffsets({ groupId, topics: [topic] })).toEqual([
      { topic, partitions: [expect.objectContaining({ partition: 0, offset: '-1' })] },
    ]);

    const committed = await producer.transaction();
    await retryWhileConcurrent(() => committed.sendOffsets(offsets('42')));
    await committed.commit();
    // The commit marker reaches the group coordinator asynchronously after EndTxn returns.
    let fetched = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const [progress] = await admin.fetchOffsets({ groupId, topics: [topic] });
      fetched = progress?.partitions[0]?.offset ?? '';
      if (fetched === '42') break;
      await sleep(100);
    }
    expect(fetched).toBe('42');
  });
});

/**
 * The coordinator finishes an ended transaction asynchronously, and answers a
 * new one's AddOffsetsToTxn with CONCURRENT_TRANSACTIONS meanwhile; Kafka
 * expects the client to retry. kafkajs retries it for AddPartitionsToTxn (so
 * the outbox relay, which always sends records before its offsets, never sees
 * it) but not for AddOffsetsToTxn, which this test sends first.
 */
async function retryWhileConcurrent(work: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if ((error as { type?: string }).type !== 'CONCURRENT_TRANSACTIONS' || attempt >= 50) throw error;
      await sleep(100);
    }
  }
}
