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
import type { InputChannelName } from './channels';
import type { ConsumerState } from './consumer-state';
import { PartitionHandOffs } from './partition-hand-offs';

export type KafkaServerOptions = Required<KafkaOptions>['options'];

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
   * The lag of each partition whose batch is handed off, counted from the work's first unresolved
   * record: kafkajs reports the batch as handled, but the work has it still.
   */
  private readonly handedOffLag = new Map<string, () => number>();

  constructor(
    options: KafkaServerOptions,
    private readonly topicByChannel: Readonly<Record<InputChannelName, string>>,
    private readonly state: ConsumerState,
    private readonly consumerLogger: LineLogger,
    /** Batches handed off at once at most (the consumer's concurrency: they share its connections). */
    handOffLimit: number,
  ) {
    super(options);
    this.channelByTopic = new Map(Object.entries(topicByChannel).map(([channel, topic]) => [topic, channel]));
    // The handler has reported its own failures (a fatal one stops the service). What a batch left
    // unresolved is fetched again once its partition resumes, as kafkajs does after a failure; an
    // offset commit that failed is made by kafkajs' next one.
    this.handOffs = new PartitionHandOffs(handOffLimit, (error) => {
      if (error instanceof RedeliveryError) {
        const cause = error.cause instanceof Error ? error.cause.message : undefined;
        consumerLogger.info(
          { reason: error.message, cause },
          'a handed-off batch stopped early; the rest is fetched again',
        );
      } else {
        consumerLogger.warn(
          { err: error },
          'a handed-off batch stopped early or could not commit its offsets',
        );
      }
    });
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
    const partitionKey = `${batch.topic}\u0000${batch.partition}`;
    const fetchedIn = this.generation;
    // After a rebalance kafkajs holds a new assignment (and drops the old one's offsets): a batch
    // that runs on past it, handed off, must neither touch its offsets nor heartbeat as if it still held the partition.
    const current = () => this.generation === fetchedIn;
    let nextOffset = Number(batch.firstOffset() ?? batch.highWatermark);
    const lag = () => Number(batch.highWatermark) - nextOffset;
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
          nextOffset = Number(offset) + 1;
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
      this.handedOffLag.set(partitionKey, lag);
      this.state.handOffStarted();
      return async () => {
        try {
          // kafkajs commits after each batch it awaited; a handed-off one ends after that.
          if (current()) await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets());
        } finally {
          // Reported now: a partition with nothing new is fetched again without a batch to report.
          if (current()) this.state.recordLag(batch.topic, batch.partition, lag());
          this.handedOffLag.delete(partitionKey);
          this.state.handOffEnded();
          resume();
        }
      };
    };
    try {
      await this.handOffs.run(partitionKey, work, pause);
    } catch (error) {
      // Handed back (shutdown, a rebalance): kafkajs fetches from the first unresolved offset again,
      // and a batch that failed would only make it log an error and restart the consumer.
      if (!(error instanceof RedeliveryError)) throw error;
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
    this.consumer?.pause(Object.values(this.topicByChannel).map((topic) => ({ topic })));
    await this.handOffs.drain();
    await super.close();
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
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.generation += 1;
      this.state.markJoined();
    });
    consumer.on(consumer.events.STOP, () => this.state.markLeft());
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const handedOffLag = this.handedOffLag.get(`${payload.topic}\u0000${payload.partition}`);
      const lag = handedOffLag ? handedOffLag() : Number(payload.offsetLag);
      this.state.recordLag(payload.topic, payload.partition, lag);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      // kafkajs restarts the consumer after retriable failures; anything else is fatal.
      if (!event.payload.restart) this.state.markCrashed(event.payload.error);
    });
  }
}
