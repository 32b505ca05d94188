import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { OutboxBatch, OutboxStore, RelayLeadership } from './outbox-message';
import type { OutboxSignal } from './outbox-signal';
import { headerMap } from '../inbound/inbound-record';

export interface OutboxRelayOptions {
  /** Shared by every instance of the deployment, so a new relay fences a stale one. */
  readonly transactionalId: string;
  /** Consumer group whose committed offset records the last batch committed to Kafka. */
  readonly progressGroupId: string;
  /** Single-partition topic the progress offset is committed against. */
  readonly progressTopic: string;
  readonly batchSize: number;
  /** The most bytes of keys, values and headers one batch carries (OutboxBatchLimit). */
  readonly batchBytes: number;
  /** How often an idle relay looks for messages other instances wrote (its own wake it at once). */
  readonly idleWaitMs: number;
  /**
   * After a batch smaller than `batchSize`, wait this long for more before the next one: a Kafka
   * transaction costs the same for one message as for hundreds (Kafka's own linger.ms).
   */
  readonly lingerMs: number;
  readonly retryBackoffMs: { readonly initial: number; readonly max: number };
}

export interface RelayMetrics {
  onPublished?(count: number, messages: OutboxBatch['messages']): void;
}

/** How often an instance that is not the relay checks whether the lease became free. */
const STANDBY_RETRY_MS = 2_000;

function sleep(ms: number, abort: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (abort.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      abort.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    abort.addEventListener('abort', done, { once: true });
  });
}

/**
 * Publishes the outbox to Kafka exactly once.
 *
 * Each batch is assigned in PostgreSQL before it is sent, then sent in a Kafka
 * transaction that also commits the batch number as the offset of a progress
 * group. The records and the progress become visible together or not at all,
 * so after a crash the relay asks Kafka which batches committed, deletes those
 * and resends the rest. A fixed transactional id fences a relay that lost its
 * lease but still runs; a PostgreSQL advisory lock keeps one relay active.
 */
export class OutboxRelay {
  private producer: Producer | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly store: OutboxStore,
    private readonly leadership: RelayLeadership,
    private readonly signal: OutboxSignal,
    private readonly options: OutboxRelayOptions,
    private readonly logger: Logger,
    private readonly metrics: RelayMetrics = {},
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.disconnect();
    await this.leadership.release().catch(() => undefined);
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    let backoff = this.options.retryBackoffMs.initial;
    while (!this.stopping) {
      try {
        if (!(await this.leadership.tryAcquire())) {
          await sleep(STANDBY_RETRY_MS, this.abort.signal);
          continue;
        }
        await this.relayWhileLeader();
        backoff = this.options.retryBackoffMs.initial;
      } catch (error) {
        if (this.stopping) break;
        this.logger.warn({ err: error, backoffMs: backoff }, 'outbox relay failed; recovering');
        await this.disconnect();
        await sleep(backoff, this.abort.signal);
        backoff = Math.min(backoff * 2, this.options.retryBackoffMs.max);
      }
    }
  }

  private async relayWhileLeader(): Promise<void> {
    const producer = await this.connect();
    const fencedAt = await this.fence(producer);
    await this.settlePending(producer, fencedAt);
    while (!this.stopping && this.leadership.held) {
      const batch = await this.store.claimNextBatch({
        messages: this.options.batchSize,
        bytes: this.options.batchBytes,
      });
      if (!batch) {
        // Idle: settle any batch a fenced relay assigned after we took over, then wait.
        await this.settlePending(producer, fencedAt);
        await this.signal.wait(this.options.idleWaitMs, this.abort.signal);
        continue;
      }
      // A fenced relay may have numbered a batch just before ours: send it first, so that the
      // progress committed with ours covers only batches that really reached Kafka.
      await this.settlePending(producer, fencedAt, batch.batchId);
      await this.publish(producer, batch);
      // A batch its byte budget cut short says nothing about the outbox draining: no linger then.
      if (batch.messages.length < this.options.batchSize && payloadBytes(batch) < this.options.batchBytes / 2)
        await sleep(this.options.lingerMs, this.abort.signal);
    }
  }

  /**
   * Initialises the transactional producer, which fences every older relay and
   * waits for its open transaction to end, then reads the last batch committed
   * to Kafka. From here on no other relay can commit: a batch still assigned
   * with a number up to this one was committed; any other was not.
   */
  private async fence(producer: Producer): Promise<bigint> {
    const transaction = await producer.transaction();
    try {
      // An offset read without `require_stable` (kafkajs speaks OffsetFetch ≤ v4) is served from
      // the group coordinator's replicated state, which can trail the commit markers of the
      // transaction that just ended — after a broker crash that returned the batch before a
      // committed one, and the relay sent it twice. A write to the same coordinator completes
      // only once everything appended before it is replicated, so this probe (never committed)
      // makes the read below see the last batch that reached Kafka.
      await transaction.sendOffsets({
        consumerGroupId: this.options.progressGroupId,
        topics: [{ topic: this.options.progressTopic, partitions: [{ partition: 0, offset: '0' }] }],
      });
    } finally {
      await transaction.abort();
    }
    return this.lastCommittedBatch();
  }

  /** Deletes the assigned batches (numbered below `below`) that reached Kafka, and publishes the others. */
  private async settlePending(producer: Producer, fencedAt: bigint, below?: bigint): Promise<void> {
    // Filtered by the store: the batch just claimed is pending too, and reading it back
    // here would fetch every message of every batch twice.
    const pending = await this.store.pendingBatches(below);
    if (pending.length === 0) return;
    for (const batch of pending) {
      if (batch.batchId <= fencedAt) await this.store.completeBatch(batch.batchId);
      else await this.publish(producer, batch);
    }
    this.logger.info({ batches: pending.length, fencedAt: fencedAt.toString() }, 'outbox batches recovered');
  }

  private async publish(producer: Producer, batch: OutboxBatch): Promise<void> {
    const transaction = await producer.transaction();
    try {
      await transaction.sendBatch({
        topicMessages: groupByTopic(batch),
      });
      await transaction.sendOffsets({
        consumerGroupId: this.options.progressGroupId,
        topics: [
          {
            topic: this.options.progressTopic,
            partitions: [{ partition: 0, offset: batch.batchId.toString() }],
          },
        ],
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
    await this.store.completeBatch(batch.batchId);
    this.metrics.onPublished?.(batch.messages.length, batch.messages);
  }

  private async lastCommittedBatch(): Promise<bigint> {
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const [progress] = await admin.fetchOffsets({
        groupId: this.options.progressGroupId,
        topics: [this.options.progressTopic],
      });
      const offset = progress?.partitions.find((partition) => partition.partition === 0)?.offset ?? '-1';
      return BigInt(offset);
    } finally {
      await admin.disconnect();
    }
  }

  private async connect(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.kafka.producer({
      transactionalId: this.options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 30_000,
      // Murmur2 on the key, as Java producers partition: a userId lands where any client expects it.
      createPartitioner: Partitioners.DefaultPartitioner,
      // An idempotent producer retries without limit (kafkajs warns otherwise): a broker outage is
      // waited out inside the send; a failure that does surface is recovered from (see recover()).
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  private async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }
}

function groupByTopic(batch: OutboxBatch) {
  const byTopic = new Map<
    string,
    { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer[]> }[]
  >();
  for (const message of batch.messages) {
    const list = byTopic.get(message.topic) ?? [];
    list.push({ key: message.key, value: message.value, headers: headerMap(message.headers) });
    byTopic.set(message.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** The bytes of keys, values and headers a batch carries (what OutboxBatchLimit.bytes bounds). */
function payloadBytes(batch: OutboxBatch): number {
  let bytes = 0;
  for (const message of batch.messages) {
    bytes += (message.key?.length ?? 0) + (message.value?.length ?? 0);
    for (const [name, value] of message.headers) bytes += name.length + value.length;
  }
  return bytes;
}
