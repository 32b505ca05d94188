import { ServerKafka, type KafkaOptions } from '@nestjs/microservices';
import type { Consumer, EachBatchPayload } from '@nestjs/microservices/external/kafka.interface';
import { isObservable, lastValueFrom } from 'rxjs';
import type { LineLogger } from '@iam/observability';
import {
  headerPairs,
  RedeliveryError,
  StaleAssignmentError,
  type InboundBatch,
} from '../inbound/inbound-record';
import { BatchProgress } from './batch-progress';
import type { InputChannelName } from './channels';
import { partitionKey, type ConsumerState } from './consumer-state';
import { PartitionHandOffs } from './partition-hand-offs';

export type KafkaServerOptions = Required<KafkaOptions>['options'];

export interface InputTopicsOptions {
  /** Group membership, lag and hand-offs, reported for readiness and metrics. */
  readonly state: ConsumerState;
  readonly logger: LineLogger;
  /** Batches handed off at once at most (the consumer's concurrency: they share its connections). */
  readonly handOffLimit: number;
  /**
   * Raised when the service starts shutting down: nothing more is fetched. Every batch would be
   * handed back at once, and fetched again straight away, until the consumer is closed.
   */
  readonly shutdown: AbortSignal;
}

/**
 * Nest's Kafka transport, with three adjustments: handlers subscribe to logical
 * channels (`@EventPattern(InputChannel.RoleChanges)`) mapped to the configured
 * topic names; a handler receives a partition's fetched records together (an
 * InboundBatch, which it works through in order and resolves as it goes) rather
 * than one record per call, so that events can share statements, and may hand
 * it off when its work will be long (PartitionHandOffs); and the consumer's
 * group membership and lag are reported for readiness and metrics.
 */
export class InputTopicsKafkaServer extends ServerKafka {
  private readonly channelByTopic: ReadonlyMap<string, string>;
  private readonly handOffs: PartitionHandOffs;
  /** Moves on at every rebalance: a batch fetched in an earlier generation may not be ours any more. */
  private generation = 0;
  /**
   * Partitions whose last batch did not end within kafkajs' cycle (handed off, or handed back):
   * kafkajs reports the lag as if the batch were done, the work knows how far it got.
   */
  private readonly unfinished = new Map<string, BatchProgress>();
  private readonly state: ConsumerState;
  private readonly consumerLogger: LineLogger;
  private readonly shutdown: AbortSignal;

  constructor(
    options: KafkaServerOptions,
    private readonly topicByChannel: Readonly<Record<InputChannelName, string>>,
    { state, logger, handOffLimit, shutdown }: InputTopicsOptions,
  ) {
    super(options);
    this.state = state;
    this.consumerLogger = logger;
    this.shutdown = shutdown;
    shutdown.addEventListener('abort', () => this.stopFetching(), { once: true });
    this.channelByTopic = new Map(Object.entries(topicByChannel).map(([channel, topic]) => [topic, channel]));
    // The handler has reported its own failures (a fatal one stops the service). What a batch left
    // unresolved is fetched again once its partition resumes, as kafkajs does after a failure; an
    // offset commit that failed is made by kafkajs' next one.
    this.handOffs = new PartitionHandOffs(handOffLimit, (error) => {
      if (error instanceof RedeliveryError) {
        const cause = error.cause instanceof Error ? error.cause.message : undefined;
        logger.info(
          { reason: error.message, cause },
          'a handed-off batch stopped early; the rest is fetched again',
        );
      } else {
        logger.warn({ err: error }, 'a handed-off batch stopped early or could not commit its offsets');
      }
    });
    state.reportHandOffs(this.handOffs);
  }

  override async bindEvents(consumer: Consumer): Promise<void> {
    const channels = [...this.messageHandlers.keys()] as InputChannelName[];
    const topics = channels.map((channel) => {
      const topic = this.topicByChannel[channel];
      if (!topic) throw new Error(`no topic is configured for channel ${channel}`);
      return topic;
    });
    await consumer.subscribe({ ...this.options.subscribe, topics });
    await consumer.run({
      ...this.options.run,
      // Offsets are resolved by the handler, record by record, once their effect is committed.
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  /**
   * Hands the batch to the channel's `@EventPattern` handler; a failure
   * propagates to kafkajs, which fetches the unresolved records again, and so
   * does a batch handed back (RedeliveryError), without an error. Once the
   * handler hands the batch off, kafkajs goes on fetching while it works.
   */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const channel = this.channelByTopic.get(batch.topic) ?? batch.topic;
    const handler = this.getHandlerByPattern(channel);
    if (!handler) throw new Error(`no handler is registered for channel ${channel}`);
    const key = partitionKey(batch.topic, batch.partition);
    this.unfinished.delete(key);
    const progress = new BatchProgress(batch);
    const fetchedIn = this.generation;
    // After a rebalance kafkajs holds a new assignment (and drops the old one's offsets): a batch
    // that runs on past it, handed off, must neither touch its offsets nor heartbeat as if it still held the partition.
    const current = () => this.generation === fetchedIn;
    const work = async (handOff: () => void): Promise<void> => {
      const inbound: InboundBatch = {
        records: batch.messages.map((message) => ({
          origin: { topic: batch.topic, partition: batch.partition, offset: message.offset },
          key: message.key ?? null,
          value: message.value ?? null,
          headers: headerPairs(message.headers),
          timestamp: message.timestamp,
        })),
        heartbeat: () => (current() ? payload.heartbeat() : Promise.reject(new StaleAssignmentError())),
        resolveOffset: (offset) => {
          if (!current()) return;
          payload.resolveOffset(offset);
          progress.resolved(offset);
        },
        commitIfDue: async () => {
          if (current()) await payload.commitOffsetsIfNecessary();
        },
        isActive: () => current() && payload.isRunning() && !payload.isStale(),
        handOff,
      };
      // The handler as Nest wraps it (pipes, interceptors, exception filters); it may answer with a stream.
      const result: unknown = await handler(inbound);
      if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
    };
    const pause = () => {
      const resume = payload.pause();
      this.unfinished.set(key, progress);
      return async () => {
        try {
          // kafkajs commits after each batch it awaited; a handed-off one ends after that.
          if (current()) await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets());
        } finally {
          // Shutting down, the input stays paused (stopFetching) until the consumer is closed.
          if (!this.shutdown.aborted) resume();
        }
      };
    };
    try {
      await this.handOffs.run(key, work, pause);
    } catch (error) {
      // Handed back (shutdown, a rebalance): kafkajs fetches from the first unresolved offset again,
      // and a batch that failed would only make it log an error and restart the consumer.
      if (!(error instanceof RedeliveryError)) throw error;
      this.unfinished.set(key, progress);
      this.consumerLogger.debug(
        { topic: batch.topic, partition: batch.partition, reason: error.message },
        'batch handed back',
      );
    }
  }

  /**
   * Handed-off batches stop at their next step once shutdown is requested; the
   * group is left after them. Meanwhile nothing more is fetched: a batch
   * fetched now would only be handed back.
   */
  override async close(): Promise<void> {
    this.stopFetching();
    await this.handOffs.drain();
    await super.close();
  }

  private stopFetching(): void {
    this.consumer?.pause(Object.values(this.topicByChannel).map((topic) => ({ topic })));
  }

  protected override registerConsumerEventListeners(): void {
    super.registerConsumerEventListeners();
    const consumer = this.consumer;
    if (!consumer) return;
    // A restarted consumer (CRASH, then STOP and a new join) forgets its paused partitions, and
    // one evicted from the group rejoins without REBALANCING: each ends the generation.
    const nextGeneration = () => (this.generation += 1);
    consumer.on(consumer.events.REBALANCING, nextGeneration);
    consumer.on(consumer.events.STOP, nextGeneration);
    consumer.on(consumer.events.CRASH, nextGeneration);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.generation += 1;
      this.state.retainLags(payload.memberAssignment);
      this.state.markJoined();
    });
    consumer.on(consumer.events.STOP, () => this.state.markLeft());
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const progress = this.unfinished.get(partitionKey(payload.topic, payload.partition));
      this.state.recordLag(payload.topic, payload.partition, progress ?? Number(payload.offsetLag));
    });
    consumer.on(consumer.events.CRASH, (event) => {
      // kafkajs restarts the consumer after retriable failures; anything else is fatal.
      if (!event.payload.restart) this.state.markCrashed(event.payload.error);
    });
  }
}
