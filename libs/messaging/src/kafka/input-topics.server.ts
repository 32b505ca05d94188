import { ServerKafka, type KafkaOptions } from '@nestjs/microservices';
import type { Consumer, EachBatchPayload } from '@nestjs/microservices/external/kafka.interface';
import { isObservable, lastValueFrom } from 'rxjs';
import { headerPairs, type InboundBatch } from '../inbound/inbound-record';
import type { InputChannelName } from './channels';
import type { ConsumerState } from './consumer-state';

export type KafkaServerOptions = Required<KafkaOptions>['options'];

/**
 * Nest's Kafka transport, with three adjustments: handlers subscribe to logical
 * channels (`@EventPattern(InputChannel.RoleChanges)`) mapped to the configured
 * topic names; a handler receives a partition's fetched records together (an
 * InboundBatch, which it works through in order and resolves as it goes) rather
 * than one record per call, so that events can share statements; and the
 * consumer's group membership and lag are reported for readiness and metrics.
 */
export class InputTopicsKafkaServer extends ServerKafka {
  private readonly channelByTopic: ReadonlyMap<string, string>;

  constructor(
    options: KafkaServerOptions,
    private readonly topicByChannel: Readonly<Record<InputChannelName, string>>,
    private readonly state: ConsumerState,
  ) {
    super(options);
    this.channelByTopic = new Map(Object.entries(topicByChannel).map(([channel, topic]) => [topic, channel]));
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
   * propagates to kafkajs, which fetches the unresolved records again.
   */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const channel = this.channelByTopic.get(batch.topic) ?? batch.topic;
    const inbound: InboundBatch = {
      records: batch.messages.map((message) => ({
        origin: { topic: batch.topic, partition: batch.partition, offset: message.offset },
        key: message.key ?? null,
        value: message.value ?? null,
        headers: headerPairs(message.headers),
        timestamp: message.timestamp,
      })),
      heartbeat: () => payload.heartbeat(),
      resolveOffset: (offset) => payload.resolveOffset(offset),
      commitIfDue: () => payload.commitOffsetsIfNecessary(),
      isActive: () => payload.isRunning() && !payload.isStale(),
    };
    const handler = this.getHandlerByPattern(channel);
    if (!handler) throw new Error(`no handler is registered for channel ${channel}`);
    // The handler as Nest wraps it (pipes, interceptors, exception filters); it may answer with a stream.
    const result: unknown = await handler(inbound);
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
  }

  protected override registerConsumerEventListeners(): void {
    super.registerConsumerEventListeners();
    const consumer = this.consumer;
    if (!consumer) return;
    consumer.on(consumer.events.GROUP_JOIN, () => this.state.markJoined());
    consumer.on(consumer.events.STOP, () => this.state.markLeft());
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
      this.state.recordLag(payload.topic, payload.partition, Number(payload.offsetLag)),
    );
    consumer.on(consumer.events.CRASH, (event) => {
      // kafkajs restarts the consumer after retriable failures; anything else is fatal.
      if (!event.payload.restart) this.state.markCrashed(event.payload.error);
    });
  }
}
