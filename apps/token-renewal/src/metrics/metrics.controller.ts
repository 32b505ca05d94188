import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ConsumerState } from '@iam/messaging';
import { ServiceMetrics } from '@iam/observability';
import { PgOutboxStore, type Sql } from '@iam/persistence';
import { SQL } from '../infrastructure/tokens';

/** Prometheus scrape endpoint (text exposition format). */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  private readonly outbox: PgOutboxStore;

  constructor(
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
    @Inject(ConsumerState) private readonly consumer: ConsumerState,
    @Inject(SQL) sql: Sql,
  ) {
    this.outbox = new PgOutboxStore(sql);
  }

  @Get()
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    // Gauges of state held elsewhere are read at scrape time.
    this.metrics.consumerLag.reset();
    for (const { topic, partition, lag } of this.consumer.lags()) {
      this.metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
    }
    this.metrics.batchesHandedOff.set(this.consumer.batchesHandedOff);
    this.metrics.outboxBacklog.set(await this.outbox.backlog().catch(() => Number.NaN));
    const { contentType, body } = await this.metrics.render();
    await reply.header('content-type', contentType).send(body);
  }
}
