import { Controller, Inject, UseFilters } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { InputChannel, type InboundBatch } from '@iam/messaging';
import { ConsumerErrorsFilter } from './consumer-errors.filter';
import { InboundRecordProcessor } from './inbound-record.processor';

/**
 * The Kafka side of the service: both input topics, a partition's fetched
 * records at a time (InputTopicsKafkaServer), partitions side by side.
 */
@Controller()
@UseFilters(ConsumerErrorsFilter)
export class ChangeEventsConsumer {
  constructor(@Inject(InboundRecordProcessor) private readonly processor: InboundRecordProcessor) {}

  @EventPattern(InputChannel.RoleChanges)
  async onRoleChanges(@Payload() batch: InboundBatch): Promise<void> {
    await this.processor.processBatch(InputChannel.RoleChanges, batch);
  }

  @EventPattern(InputChannel.BusinessChanges)
  async onBusinessChanges(@Payload() batch: InboundBatch): Promise<void> {
    await this.processor.processBatch(InputChannel.BusinessChanges, batch);
  }
}
