import { ServerKafka, type KafkaOptions } from '@nestjs/microservices';
import type { Consumer } from '@nestjs/microservices/external/kafka.interface';
import { KafkaParser } from '@nestjs/microservices/helpers/kafka-parser';
import type { InputChannelName } from './channels';
import type { ConsumerState } from './consumer-state';

/**
 * Leaves every record as kafkajs read it (key, value and headers as bytes):
 * validation is ours, and a dead letter must carry the record unchanged.
 */
class RawRecordParser extends KafkaParser {
  override parse<T = unknown>(data: unknown): T {
    const message = data as { headers?: Record<string, unknown> };
    return { ...message, headers: { ...message.headers } } as T;
  }
}

export type KafkaServerOptions = Required<KafkaOptions>['options'];

/**
 * Nest's Kafka transport, with two adjustments: handlers subscribe to logical
 * channels (`@EventPattern(InputChannel.RoleChanges)`) mapped to the configured
 * topic names, and the consumer's group membership and lag are reported for
 * readiness and metrics.
 */
export class InputTopicsKafkaServer extends ServerKafka {
  private readonly channelByTopic: ReadonlyMap<string, string>;

  constructor(
    options: KafkaServerOptions,
    private readonly topicByChannel: Readonly<Record<InputChannelName, string>>,
    private readonly state: ConsumerState,
  ) {
    super(options);
    this.parser = new RawRecordParser();
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
    await consumer.run({ ...this.options.run, eachMessage: this.getMessageHandler() });
  }

  override getHandlerByPattern(pattern: string) {
    return super.getHandlerByPattern(this.channelByTopic.get(pattern) ?? pattern);
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
