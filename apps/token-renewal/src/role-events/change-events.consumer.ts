import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { headerPairs, InputChannel, type InboundRecord, type InputChannelName } from '@iam/messaging';
import { InboundRecordProcessor } from './inbound-record.processor';

/** The Kafka side of the service: both input topics, one record at a time per partition. */
@Controller()
export class ChangeEventsConsumer {
  constructor(@Inject(InboundRecordProcessor) private readonly processor: InboundRecordProcessor) {}

  @EventPattern(InputChannel.RoleChanges)
  onRoleChange(@Ctx() context: KafkaContext): Promise<void> {
    return this.consume(InputChannel.RoleChanges, context);
  }

  @EventPattern(InputChannel.BusinessChanges)
  onBusinessChange(@Ctx() context: KafkaContext): Promise<void> {
    return this.consume(InputChannel.BusinessChanges, context);
  }

  private async consume(channel: InputChannelName, context: KafkaContext): Promise<void> {
    await this.processor.process(channel, inboundRecord(context), context.getHeartbeat());
  }
}

/** The record as kafkajs read it (the transport's parser leaves it binary). */
function inboundRecord(context: KafkaContext): InboundRecord {
  const message = context.getMessage();
  return {
    origin: { topic: context.getTopic(), partition: context.getPartition(), offset: message.offset },
    key: message.key ?? null,
    value: message.value ?? null,
    headers: headerPairs(message.headers),
    timestamp: message.timestamp,
  };
}
