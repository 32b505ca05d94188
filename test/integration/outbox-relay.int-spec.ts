import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Pool } from 'pg';
import pino, { type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventType, type Session } from '@iam/domain';
import {
  deadLetterMessage,
  ensureTopics,
  OutboxRelay,
  OutboxSignal,
  PoisonReason,
  SessionUpdateEncoder,
  type InboundRecord,
  type OutboxBatch,
  type Poison,
} from '@iam/messaging';
import {
  PgDeadLetterStore,
  PgOutboxStore,
  PgRelayLeadership,
  PgSessionRepository,
  PgSql,
} from '@iam/persistence';
import { PlaintextTokenSealer, RandomIds } from '@iam/tokens';
import { FakeClock, uuidNumber } from '../../libs/domain/src/testing';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';
import { testEnvironment, uniqueName } from '../support/environment';
import { TopicReader, type ReceivedRecord } from '../support/kafka';

/**
 * The outbox relay against real PostgreSQL and a real broker: every outbox row
 * reaches Kafka exactly once, in order, also across crashes at every step of
 * the protocol and across a change of leader.
 */

const kafka = new Kafka({
  clientId: uniqueName('iam-relay-test'),
  brokers: testEnvironment.kafkaBrokers,
  logLevel: logLevel.NOTHING,
  retry: { retries: 8 },
});

let database: TestDatabase;
let pool: Pool;
let sql: PgSql;
let store: PgOutboxStore;

/** What the relays logged (JSON lines), for assertions about recovery. */
let logs: Array<Record<string, unknown>> = [];
const logger: Logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** One deployment of the relay: its output topic and its Kafka bookkeeping, unique to a test. */
interface Deployment {
  readonly topic: string;
  readonly transactionalId: string;
  readonly progressGroupId: string;
  readonly progressTopic: string;
}

async function deployment(prefix: string, extraTopics: string[] = []): Promise<Deployment> {
  const id = uniqueName(prefix);
  const result: Deployment = {
    topic: `${id}.session-updates`,
    transactionalId: `${id}.outbox-relay`,
    progressGroupId: `${id}.outbox-relay-progress`,
    progressTopic: `${id}.outbox-relay-progress`,
  };
  await ensureTopics(kafka, [
    { topic: result.topic, numPartitions: 1 },
    ...extraTopics.map((topic) => ({ topic, numPartitions: 1 })),
    {
      topic: result.progressTopic,
      numPartitions: 1,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
  ]);
  return result;
}

interface RunningRelay {
  readonly relay: OutboxRelay;
  readonly leadership: PgRelayLeadership;
  readonly signal: OutboxSignal;
  /** Messages this relay reported as published. */
  published: number;
}

const running: RunningRelay[] = [];
const readers: TopicReader[] = [];
const closing: Array<Promise<void>> = [];
const producers: Producer[] = [];

function startRelay(
  target: Deployment,
  options: {
    idleWaitMs?: number;
    batchSize?: number;
    batchBytes?: number;
    signal?: OutboxSignal;
    store?: PgOutboxStore;
  } = {},
): RunningRelay {
  const leadership = new PgRelayLeadership(database.url, logger);
  const signal = options.signal ?? new OutboxSignal();
  const handle: RunningRelay = {
    leadership,
    signal,
    published: 0,
    relay: new OutboxRelay(
      kafka,
      options.store ?? new PgOutboxStore(sql),
      leadership,
      signal,
      {
        transactionalId: target.transactionalId,
        progressGroupId: target.progressGroupId,
        progressTopic: target.progressTopic,
        batchSize: options.batchSize ?? 10,
        batchBytes: options.batchBytes ?? 512 * 1024,
        idleWaitMs: options.idleWaitMs ?? 100,
        lingerMs: 5,
        retryBackoffMs: { initial: 100, max: 1_000 },
      },
      logger,
      { onPublished: (count) => void (handle.published += count) },
    ),
  };
  running.push(handle);
  handle.relay.start();
  return handle;
}

async function openReader(topic: string): Promise<TopicReader> {
  const reader = await TopicReader.open(topic);
  readers.push(reader);
  return reader;
}

interface Outgoing {
  readonly topic: string;
  readonly key: string | null;
  readonly value: string;
  readonly headers: Array<[string, string]>;
}

/** Messages `from`..`from + count - 1` for a topic; every third one without a key. */
function messages(topic: string, count: number, from = 0): Outgoing[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    return {
      topic,
      key: n % 3 === 2 ? null : `user-${n % 4}`,
      value: JSON.stringify({ n, note: `message ${n}` }),
      headers: [
        ['content-type', 'application/cloudevents+json'],
        ['seq', String(n)],
      ],
    };
  });
}

/** Writes messages to the outbox the way the repositories do (one row each, in order). */
async function enqueue(outgoing: readonly Outgoing[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const message of outgoing) {
      await client.query(
        'INSERT INTO outbox (topic, message_key, value, headers) VALUES ($1, $2, $3, $4::jsonb)',
        [
          message.topic,
          message.key === null ? null : Buffer.from(message.key),
          Buffer.from(message.value),
          JSON.stringify(
            message.headers.map(([name, value]) => [name, Buffer.from(value).toString('base64')]),
          ),
        ],
      );
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

const asReceived = (outgoing: readonly Outgoing[]) =>
  outgoing.map((message) => ({
    key: message.key,
    value: message.value,
    headers: Object.fromEntries(message.headers),
  }));

const received = (records: readonly ReceivedRecord[]) =>
  records.map((record) => ({
    key: record.key,
    value: record.value?.toString('utf8') ?? null,
    headers: record.headers,
  }));

async function outboxCount(): Promise<number> {
  const [row] = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows;
  return row?.n ?? -1;
}

const drained = () => waitUntil(async () => (await outboxCount()) === 0, 'the outbox to drain');

/** Waits for exactly `count` records: they arrive, then nothing more arrives in a quiet period. */
async function expectExactly(reader: TopicReader, count: number, timeoutMs = 30_000): Promise<void> {
  await reader.waitFor((records) => records.length >= count, timeoutMs);
  expect(await reader.countArrivingWithin(1_500)).toBe(0);
  expect(reader.records).toHaveLength(count);
}

async function committedProgress(target: Deployment): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [progress] = await admin.fetchOffsets({
      groupId: target.progressGroupId,
      topics: [target.progressTopic],
    });
    return progress?.partitions.find((partition) => partition.partition === 0)?.offset;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Does what a relay does with a claimed batch, then "crashes" before telling
 * PostgreSQL: commits the Kafka transaction, aborts it, or leaves it open.
 */
async function sendAsCrashedRelay(
  target: Deployment,
  batch: OutboxBatch,
  outcome: 'commit' | 'abort' | 'leave-open',
): Promise<void> {
  const producer = kafka.producer({
    transactionalId: target.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 60_000,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  producers.push(producer);
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.sendBatch({
    topicMessages: [
      {
        topic: target.topic,
        messages: batch.messages.map((message) => ({
          key: message.key,
          value: message.value,
          headers: Object.fromEntries(message.headers.map(([name, value]) => [name, value])),
        })),
      },
    ],
  });
  await transaction.sendOffsets({
    consumerGroupId: target.progressGroupId,
    topics: [
      { topic: target.progressTopic, partitions: [{ partition: 0, offset: batch.batchId.toString() }] },
    ],
  });
  if (outcome === 'commit') await transaction.commit();
  if (outcome === 'abort') await transaction.abort();
  await producer.disconnect();
}

async function assignedBatches(): Promise<Array<{ batch_id: string; n: number }>> {
  return (
    await pool.query<{ batch_id: string; n: number }>(
      'SELECT batch_id::text AS batch_id, count(*)::int AS n FROM outbox GROUP BY batch_id ORDER BY batch_id',
    )
  ).rows;
}

const recoveredLogs = () =>
  logs
    .filter((entry) => entry.msg === 'outbox batches recovered')
    .map((entry) => ({ batches: entry.batches, fencedAt: entry.fencedAt }));

beforeAll(async () => {
  database = await createTestDatabase('outbox_relay');
  pool = testPool(database.url, 8);
  sql = new PgSql(pool);
  store = new PgOutboxStore(sql);
});

beforeEach(async () => {
  logs = [];
  await pool.query('TRUNCATE outbox, dead_letters, sessions, users, clients CASCADE');
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((handle) => handle.relay.stop()));
  await Promise.all(producers.splice(0).map((producer) => producer.disconnect().catch(() => undefined)));
  // A reader's disconnect waits out its fetch in flight (up to 5 s): let it finish in the background.
  closing.push(...readers.splice(0).map((reader) => reader.close().catch(() => undefined)));
});

afterAll(async () => {
  await Promise.all(closing);
  await pool?.end();
  await database?.drop();
});

describe('OutboxRelay (real PostgreSQL and Kafka)', () => {
  it('publishes outbox rows in order, exactly once, with key, value and headers intact, and deletes them', async () => {
    const target = await deployment('relay-order');
    const other = `${target.topic}.other`;
    await ensureTopics(kafka, [{ topic: other, numPartitions: 1 }]);
    const before = messages(target.topic, 25);
    // Interleaved with another topic in the same batches.
    const otherMessages = messages(other, 6, 100);
    await enqueue([...before.slice(0, 12), ...otherMessages, ...before.slice(12)]);
    const reader = await openReader(target.topic);
    const otherReader = await openReader(other);

    const relay = startRelay(target, { batchSize: 10 });
    await drained();
    // Rows written while it runs are picked up by polling (another instance wrote them).
    const after = messages(target.topic, 7, 25);
    await enqueue(after);
    await drained();

    await expectExactly(reader, 32);
    expect(received(reader.records)).toEqual(asReceived([...before, ...after]));
    await expectExactly(otherReader, 6);
    expect(received(otherReader.records)).toEqual(asReceived(otherMessages));
    expect(relay.published).toBe(38);
    expect(relay.leadership.held).toBe(true);

    // Batches of at most 10: 31 rows in 4 batches, then 7 in one; the last batch number is the progress offset.
    const [state] = (
      await pool.query<{ last: string }>('SELECT last_batch_id::text AS last FROM outbox_relay_state')
    ).rows;
    expect(state?.last).toBeDefined();
    expect(await committedProgress(target)).toBe(state!.last);
  });

  it('reads each message out of the outbox once: its own claimed batch is not read back as pending', async () => {
    /**
     * Counts the messages the relay's check before each publish returned (the one given a
     * bound); a recovery after a failure reads pending batches in full, and rightly so.
     */
    class CountingStore extends PgOutboxStore {
      pendingMessagesRead = 0;
      checksBeforePublish = 0;
      override async pendingBatches(below?: bigint): Promise<OutboxBatch[]> {
        const batches = await super.pendingBatches(below);
        if (below !== undefined) {
          this.checksBeforePublish += 1;
          this.pendingMessagesRead += batches.reduce((sum, batch) => sum + batch.messages.length, 0);
        }
        return batches;
      }
    }
    const target = await deployment('relay-read-once');
    const reader = await openReader(target.topic);
    const counting = new CountingStore(sql);
    const relay = startRelay(target, { batchSize: 10, store: counting });
    await enqueue(messages(target.topic, 25));
    await drained();

    await expectExactly(reader, 25);
    expect(relay.published).toBe(25);
    expect(counting.checksBeforePublish).toBeGreaterThanOrEqual(3);
    expect(counting.pendingMessagesRead).toBe(0);
  });

  it('lists the pending batches below a batch number, or all of them, oldest first', async () => {
    const topic = uniqueName('pending');
    await enqueue(messages(topic, 5));
    const first = await store.claimNextBatch({ messages: 2, bytes: 1 << 20 });
    const second = await store.claimNextBatch({ messages: 2, bytes: 1 << 20 });
    const third = await store.claimNextBatch({ messages: 2, bytes: 1 << 20 });
    const ids = (batches: readonly OutboxBatch[]) => batches.map((batch) => batch.batchId);

    expect(ids(await store.pendingBatches())).toEqual([first!.batchId, second!.batchId, third!.batchId]);
    expect(ids(await store.pendingBatches(third!.batchId))).toEqual([first!.batchId, second!.batchId]);
    expect(ids(await store.pendingBatches(first!.batchId))).toEqual([]);
    expect((await store.pendingBatches(second!.batchId))[0]!.messages).toHaveLength(2);
  });

  it("splits a backlog bigger than the broker's message limit into batches within the byte budget, and publishes all of it", async () => {
    const target = await deployment('relay-bytes');
    // 400 messages of ~4 KB for one partition: one batch of them (1.6 MB) is refused by the broker's
    // default message.max.bytes (1 MiB), on every retry: the relay would never get past it.
    const large = messages(target.topic, 400).map((message, n) => ({
      ...message,
      key: 'one-user',
      value: JSON.stringify({ n, padding: 'x'.repeat(4_000) }),
    }));
    await enqueue(large);
    const reader = await openReader(target.topic);
    const relay = startRelay(target, { batchSize: 500, batchBytes: 512 * 1024 });
    await drained();
    await expectExactly(reader, 400);
    expect(received(reader.records)).toEqual(asReceived(large));
    expect(relay.published).toBe(400);
    // ~1.6 MB in batches of at most 512 KiB: at least four of them.
    const [state] = (
      await pool.query<{ last: string }>('SELECT last_batch_id::text AS last FROM outbox_relay_state')
    ).rows;
    expect(Number(await committedProgress(target))).toBe(Number(state!.last));
  });

  it('claims at least one message, however large, and no more than fit the budget', async () => {
    const target = `${uniqueName('claim-bytes')}.topic`;
    const sizes = [3_000, 1_000, 1_000, 5_000, 10];
    await enqueue(
      sizes.map((size, n) => ({
        topic: target,
        key: null,
        value: 'v'.repeat(size),
        headers: [['n', String(n)]],
      })),
    );
    const store = new PgOutboxStore(sql);
    const sizesOf = (batch: OutboxBatch | null) => batch?.messages.map((message) => message.value!.length);
    expect(sizesOf(await store.claimNextBatch({ messages: 10, bytes: 2_000 }))).toEqual([3_000]);
    expect(sizesOf(await store.claimNextBatch({ messages: 10, bytes: 2_200 }))).toEqual([1_000, 1_000]);
    expect(sizesOf(await store.claimNextBatch({ messages: 1, bytes: 100_000 }))).toEqual([5_000]);
    expect(sizesOf(await store.claimNextBatch({ messages: 10, bytes: 100_000 }))).toEqual([10]);
    expect(await store.claimNextBatch({ messages: 10, bytes: 100_000 })).toBeNull();
    await pool.query('DELETE FROM outbox');
  });

  it('is woken at once by its own process: a session written through PgSessionRepository is published as its CloudEvent', async () => {
    const target = await deployment('relay-signal');
    const signal = new OutboxSignal();
    // Polling once a minute: only the signal can make it this fast.
    startRelay(target, { idleWaitMs: 60_000, signal });
    const reader = await openReader(target.topic);
    await waitUntil(() => logs.some((entry) => entry.msg === 'outbox relay lease acquired'), 'the lease');
    await sleep(300);

    const clock = new FakeClock('2026-06-01T08:00:00.000Z');
    const repository = new PgSessionRepository(
      sql,
      new SessionUpdateEncoder(target.topic, new PlaintextTokenSealer(), new RandomIds(), clock),
      signal,
    );
    const session: Session = {
      id: uuidNumber(77),
      userId: 'user-77',
      clientId: 'client-77',
      businessId: null,
      authLevel: 'AUTH-BASIC',
      rememberMe: false,
      status: 'ACTIVE',
      revokedReason: null,
      revokedAt: null,
      createdAt: clock.now(),
      expiresAt: new Date('2026-06-01T16:00:00.000Z'),
      claimsVersion: 1,
      revision: 1,
      authorities: ['ROLE_USER'],
      scope: ['READ'],
      tokenId: 'tok-77',
      tokenExpiresAt: new Date('2026-06-01T08:15:00.000Z'),
    };
    const startedAt = Date.now();
    expect(
      await repository.write({
        session,
        expectedRevision: null,
        refreshToken: { issueHash: 'secret-refresh-hash', at: clock.now() },
        update: {
          type: EventType.SessionTokenRenewed,
          sessionId: session.id,
          userId: session.userId,
          clientId: session.clientId,
          businessId: null,
          accessToken: 'header.payload.signature',
          expiresAt: session.tokenExpiresAt,
          scope: session.scope,
          authorities: session.authorities,
          added: ['ROLE_USER'],
          removed: [],
          claimsVersion: 1,
          cause: { kind: 'http' },
        },
      }),
    ).toBe(true);

    await reader.waitFor((records) => records.length >= 1, 10_000);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    const [record] = reader.records;
    expect(record?.key).toBe('user-77');
    expect(record?.headers).toEqual({ 'content-type': 'application/cloudevents+json' });
    expect(JSON.parse(record!.value!.toString('utf8'))).toEqual({
      specversion: '1.0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      source: '/iam/token-renewal',
      type: 'iam.session.token-renewed',
      time: '2026-06-01T08:00:00.000Z',
      subject: session.id,
      datacontenttype: 'application/json',
      data: {
        sessionId: session.id,
        userId: 'user-77',
        clientId: 'client-77',
        businessId: null,
        accessToken: 'header.payload.signature',
        tokenEncryption: 'none',
        tokenType: 'Bearer',
        expiresIn: String(Date.parse('2026-06-01T08:15:00.000Z') / 1000),
        scope: ['READ'],
        authorities: ['ROLE_USER'],
        added: ['ROLE_USER'],
        removed: [],
        claimsVersion: 1,
        cause: { kind: 'http' },
      },
    });
    await drained();
    expect(await reader.countArrivingWithin(1_000)).toBe(0);
  });
});

describe('OutboxRelay: crash recovery without duplicates', () => {
  it('(a) Kafka committed but the rows were not deleted: deletes the batch without republishing it', async () => {
    const target = await deployment('relay-crash-a');
    const first = messages(target.topic, 5);
    await enqueue(first);
    const batch = (await store.claimNextBatch({ messages: 100, bytes: 1 << 20 }))!;
    expect(batch.messages.map((m) => m.value?.toString())).toEqual(first.map((m) => m.value));
    await sendAsCrashedRelay(target, batch, 'commit');
    expect(await assignedBatches()).toEqual([{ batch_id: batch.batchId.toString(), n: 5 }]);
    expect(await committedProgress(target)).toBe(batch.batchId.toString());
    const reader = await openReader(target.topic);
    await reader.waitFor((records) => records.length >= 5);

    const relay = startRelay(target);
    await drained();

    await expectExactly(reader, 5);
    expect(received(reader.records)).toEqual(asReceived(first));
    expect(relay.published).toBe(0);
    expect(recoveredLogs()).toEqual([{ batches: 1, fencedAt: batch.batchId.toString() }]);

    // And it carries on with new rows.
    const next = messages(target.topic, 3, 5);
    await enqueue(next);
    await expectExactly(reader, 8);
    expect(received(reader.records)).toEqual(asReceived([...first, ...next]));
  });

  it('(b) batch assigned but never sent: publishes it once', async () => {
    const target = await deployment('relay-crash-b');
    const first = messages(target.topic, 4);
    await enqueue(first);
    const batch = (await store.claimNextBatch({ messages: 100, bytes: 1 << 20 }))!;
    // Rows written after the crash wait behind the assigned batch.
    const later = messages(target.topic, 2, 4);
    await enqueue(later);
    expect(await assignedBatches()).toEqual([
      { batch_id: batch.batchId.toString(), n: 4 },
      { batch_id: null, n: 2 },
    ]);
    const reader = await openReader(target.topic);

    const relay = startRelay(target);
    await drained();

    await expectExactly(reader, 6);
    expect(received(reader.records)).toEqual(asReceived([...first, ...later]));
    expect(relay.published).toBe(6);
    expect(recoveredLogs()).toEqual([{ batches: 1, fencedAt: '-1' }]);
  });

  it('(a)+(b) one committed and one unsent batch: deletes the first, publishes the second, in order', async () => {
    const target = await deployment('relay-crash-ab');
    const first = messages(target.topic, 3);
    await enqueue(first);
    const committed = (await store.claimNextBatch({ messages: 100, bytes: 1 << 20 }))!;
    await sendAsCrashedRelay(target, committed, 'commit');
    const second = messages(target.topic, 3, 3);
    await enqueue(second);
    const unsent = (await store.claimNextBatch({ messages: 100, bytes: 1 << 20 }))!;
    expect(unsent.batchId).toBe(committed.batchId + 1n);
    const reader = await openReader(target.topic);

    const relay = startRelay(target);
    await drained();

    await expectExactly(reader, 6);
    expect(received(reader.records)).toEqual(asReceived([...first, ...second]));
    expect(relay.published).toBe(3);
    expect(recoveredLogs()).toEqual([{ batches: 2, fencedAt: committed.batchId.toString() }]);
    expect(await committedProgress(target)).toBe(unsent.batchId.toString());
  });

  it('(c) an aborted transaction followed by a relay start: the messages appear exactly once', async () => {
    const target = await deployment('relay-crash-c');
    const first = messages(target.topic, 4);
    await enqueue(first);
    const batch = (await store.claimNextBatch({ messages: 100, bytes: 1 << 20 }))!;
    await sendAsCrashedRelay(target, batch, 'abort');
    expect(await committedProgress(target)).toBe('-1');
    const reader = await openReader(target.topic);

    const relay = startRelay(target);
    await drained();

    await expectExactly(reader, 4);
    expect(received(reader.records)).toEqual(asReceived(first));
    expect(relay.published).toBe(4);
    expect(await committedProgress(target)).toBe(batch.batchId.toString());
  });

  it('(d) a transaction left open by a crashed relay is fenced and aborted: the messages appear exactly once', async () => {
    const target = await deployment('relay-crash-d');
    const first = messages(target.topic, 4);
    await enqueue(first);
    const batch = (await store.claimNextBatch({ messages: 100, bytes: 1 << 20 }))!;
    await sendAsCrashedRelay(target, batch, 'leave-open');
    const reader = await openReader(target.topic);

    const relay = startRelay(target);
    await drained();

    await expectExactly(reader, 4);
    expect(received(reader.records)).toEqual(asReceived(first));
    expect(relay.published).toBe(4);
  });
});

describe('OutboxRelay: one leader among instances', () => {
  it('lets one of two relays hold the lease; all messages exactly once; the other takes over when it stops', async () => {
    const target = await deployment('relay-pair');
    const reader = await openReader(target.topic);
    const one = startRelay(target);
    const two = startRelay(target);
    const first = messages(target.topic, 30);
    await enqueue(first.slice(0, 15));
    await enqueue(first.slice(15));
    await drained();

    await expectExactly(reader, 30);
    expect(received(reader.records)).toEqual(asReceived(first));
    expect([one.leadership.held, two.leadership.held].filter(Boolean)).toHaveLength(1);
    const [leader, standby] = one.leadership.held ? [one, two] : [two, one];
    expect(leader.published).toBe(30);
    expect(standby.published).toBe(0);

    await leader.relay.stop();
    expect(leader.leadership.held).toBe(false);
    const second = messages(target.topic, 10, 30);
    await enqueue(second);
    await drained();

    await expectExactly(reader, 40);
    expect(received(reader.records)).toEqual(asReceived([...first, ...second]));
    expect(standby.leadership.held).toBe(true);
    expect(standby.published).toBe(10);
  });

  it('publishes a batch that a relay which lost its lease assigned after the leader recovered', async () => {
    const target = await deployment('relay-stale-claim');
    const reader = await openReader(target.topic);
    startRelay(target);
    const first = messages(target.topic, 2);
    await enqueue(first);
    await expectExactly(reader, 2);

    // A relay that lost its lease (and is about to be fenced) claims rows before it notices:
    // the rows it assigned are written and claimed in one transaction, so the leader never sees them unassigned.
    const stranded = messages(target.topic, 3, 2);
    await sql.transaction(async (tx) => {
      for (const message of stranded) {
        await tx.query(
          'enqueue',
          'INSERT INTO outbox (topic, message_key, value, headers) VALUES ($1, $2, $3, $4::jsonb)',
          [
            message.topic,
            message.key === null ? null : Buffer.from(message.key),
            Buffer.from(message.value),
            '[]',
          ],
        );
      }
      expect(
        (await new PgOutboxStore(tx).claimNextBatch({ messages: 100, bytes: 1 << 20 }))?.messages,
      ).toHaveLength(3);
    });
    const after = messages(target.topic, 1, 5);
    await enqueue(after);

    // Every outbox row reaches Kafka eventually, whoever assigned it (80 polls of the idle relay).
    await waitUntil(async () => (await outboxCount()) === 0, 'the outbox to drain', 8_000).catch(
      () => undefined,
    );
    expect(await assignedBatches()).toEqual([]);
    await expectExactly(reader, 6);
    const byValue = (a: { value: string | null }, b: { value: string | null }) =>
      (a.value ?? '') < (b.value ?? '') ? -1 : 1;
    expect(received(reader.records).sort(byValue)).toEqual(
      asReceived([...first, ...after, ...stranded.map((m) => ({ ...m, headers: [] }))]).sort(byValue),
    );
  });
});

describe('dead letters through the outbox', () => {
  const origin = { topic: 'iam.role-changes.v1', partition: 2 };

  const record = (offset: string, overrides: Partial<InboundRecord> = {}): InboundRecord => ({
    origin: { ...origin, offset },
    key: Buffer.from('user-7'),
    value: Buffer.from([0x7b, 0xff, 0x00, 0x80, 0x22]),
    headers: [
      ['content-type', Buffer.from('application/cloudevents+json')],
      ['traceparent', Buffer.from('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')],
    ],
    timestamp: '1767225600123',
    ...overrides,
  });

  it('records a poison record once per origin and relays it unchanged to the DLQ topic with dlq-* headers', async () => {
    const dlq = `${uniqueName('relay-dlq')}.role-changes.dlq`;
    const target = await deployment('relay-dlq', [dlq]);
    let notified = 0;
    const signal = { notify: () => void (notified += 1) } as unknown as OutboxSignal;
    const deadLetters = new PgDeadLetterStore(sql, signal);
    const failedAt = new Date('2026-05-01T00:00:00.000Z');
    const notJson: Poison = {
      reason: PoisonReason.NotJson,
      detail: 'Unexpected token in JSON at position 1',
    };
    const invalid: Poison = {
      reason: PoisonReason.InvalidPayload,
      detail: 'data.role: Required',
      eventId: 'evt-9',
    };
    const empty: Poison = { reason: PoisonReason.Empty, detail: 'the record has no value' };

    const first = record('1234');
    expect(
      await deadLetters.deadLetter(
        first,
        notJson,
        deadLetterMessage(first, notJson, dlq, 'iam-group', failedAt),
      ),
    ).toBe(true);
    // The same origin again (a re-delivery or a replay): not dead-lettered twice.
    const later = new Date('2026-05-01T00:05:00.000Z');
    expect(
      await deadLetters.deadLetter(
        first,
        invalid,
        deadLetterMessage(first, invalid, dlq, 'iam-group', later),
      ),
    ).toBe(false);
    const second = record('1235', { value: Buffer.from('{"specversion":"1.0"}') });
    expect(
      await deadLetters.deadLetter(
        second,
        invalid,
        deadLetterMessage(second, invalid, dlq, 'iam-group', failedAt),
      ),
    ).toBe(true);
    const third = record('1236', { key: null, value: null, headers: [] });
    expect(
      await deadLetters.deadLetter(third, empty, deadLetterMessage(third, empty, dlq, 'iam-group', failedAt)),
    ).toBe(true);
    expect(notified).toBe(3);

    expect(
      (
        await pool.query(
          `SELECT topic, partition, "offset"::text AS "offset", reason, event_id FROM dead_letters ORDER BY "offset"`,
        )
      ).rows,
    ).toEqual([
      { topic: origin.topic, partition: 2, offset: '1234', reason: 'not-json', event_id: null },
      { topic: origin.topic, partition: 2, offset: '1235', reason: 'invalid-payload', event_id: 'evt-9' },
      { topic: origin.topic, partition: 2, offset: '1236', reason: 'empty-record', event_id: null },
    ]);
    expect(
      (await pool.query('SELECT topic, session_id, claims_version FROM outbox ORDER BY id')).rows,
    ).toEqual([
      { topic: dlq, session_id: null, claims_version: null },
      { topic: dlq, session_id: null, claims_version: null },
      { topic: dlq, session_id: null, claims_version: null },
    ]);

    const reader = await openReader(dlq);
    startRelay(target);
    await drained();
    await expectExactly(reader, 3);

    const dlqHeaders = (offset: string, poison: Poison) => ({
      'dlq-reason': poison.reason,
      'dlq-detail': poison.detail,
      ...(poison.eventId !== undefined ? { 'dlq-event-id': poison.eventId } : {}),
      'dlq-origin-topic': origin.topic,
      'dlq-origin-partition': '2',
      'dlq-origin-offset': offset,
      'dlq-origin-timestamp': '1767225600123',
      'dlq-consumer-group': 'iam-group',
      'dlq-failed-at': '2026-05-01T00:00:00.000Z',
    });
    const [one, two, three] = reader.records;
    expect(one?.key).toBe('user-7');
    expect(one?.value).toEqual(Buffer.from([0x7b, 0xff, 0x00, 0x80, 0x22]));
    expect(one?.headers).toEqual({
      'content-type': 'application/cloudevents+json',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      ...dlqHeaders('1234', notJson),
    });
    expect(two?.key).toBe('user-7');
    expect(two?.value?.toString()).toBe('{"specversion":"1.0"}');
    expect(two?.headers).toEqual({
      'content-type': 'application/cloudevents+json',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      ...dlqHeaders('1235', invalid),
    });
    expect(three?.key).toBeNull();
    expect(three?.value?.length ?? 0).toBe(0);
    expect(three?.headers).toEqual(dlqHeaders('1236', empty));
  });
});

describe('OutboxRelay: resources', () => {
  it('does not pile up abort listeners while it retries (no MaxListenersExceededWarning)', async () => {
    const target = await deployment('relay-leak');
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      // A database it cannot reach: the relay retries with its (short) backoff, over and over.
      const unreachable = new PgRelayLeadership('postgresql://postgres@127.0.0.1:1/unreachable', logger);
      const relay = new OutboxRelay(
        kafka,
        store,
        unreachable,
        new OutboxSignal(),
        {
          transactionalId: target.transactionalId,
          progressGroupId: target.progressGroupId,
          progressTopic: target.progressTopic,
          batchSize: 10,
          batchBytes: 512 * 1024,
          idleWaitMs: 100,
          lingerMs: 5,
          retryBackoffMs: { initial: 5, max: 10 },
        },
        logger,
      );
      relay.start();
      await sleep(1_500);
      await relay.stop();
      await sleep(50);
    } finally {
      process.off('warning', onWarning);
    }
    expect(logs.filter((entry) => entry.msg === 'outbox relay failed; recovering').length).toBeGreaterThan(
      20,
    );
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual(
      [],
    );
  });
});
