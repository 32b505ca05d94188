import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import { OutboxRelay, ensureTopics, relayProgressTopic, type OutboxSignal } from '@iam/messaging';
import { PgOutboxStore, PgRelayLeadership, type Sql } from '@iam/persistence';
import { ServiceMetrics } from '@iam/observability';
import { KAFKA, OUTBOX_SIGNAL, ROOT_LOGGER, SQL } from '../infrastructure/tokens';
import { publishedMessageMetrics } from '../metrics/published-message.metrics';

/** Rows written by other instances are picked up this often (this instance's own, at once). */
const OTHER_INSTANCES_POLL_MS = 100;

/** Runs the outbox relay for the life of the service (one instance of the deployment relays at a time). */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly relay: OutboxRelay;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(SQL) sql: Sql,
    @Inject(OUTBOX_SIGNAL) signal: OutboxSignal,
    @Inject(ServiceMetrics) metrics: ServiceMetrics,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    const logger = rootLogger.child({ component: 'outbox-relay' });
    this.relay = new OutboxRelay(
      kafka,
      new PgOutboxStore(sql),
      new PgRelayLeadership(config.database.url, logger),
      signal,
      {
        transactionalId: `${config.kafka.groupId}.outbox-relay`,
        progressGroupId: `${config.kafka.groupId}.outbox-relay-progress`,
        progressTopic: relayProgressTopic(config),
        batchSize: config.outbox.batchSize,
        batchBytes: config.outbox.batchBytes,
        idleWaitMs: OTHER_INSTANCES_POLL_MS,
        lingerMs: config.outbox.lingerMs,
        retryBackoffMs: { initial: 200, max: 10_000 },
      },
      logger,
      publishedMessageMetrics(config, metrics),
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    // The progress topic is the relay's own bookkeeping: it makes sure it exists.
    await ensureTopics(this.kafka, [
      {
        topic: relayProgressTopic(this.config),
        numPartitions: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ]);
    this.relay.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}
