import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import { systemClock } from '@iam/domain';
import { ConsumerState, OutboxSignal, createKafka } from '@iam/messaging';
import { ServiceMetrics, type RootLogger } from '@iam/observability';
import { PgSql, PrismaService, createPool, type Sql } from '@iam/persistence';
import { RandomIds } from '@iam/tokens';
import { CLOCK, IDS, KAFKA, OUTBOX_SIGNAL, PG_POOL, ROOT_LOGGER, SQL } from './tokens';

/** Closes Prisma and the pool after everything that uses them has stopped. */
class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
    await this.pool.end();
  }
}

/**
 * The process-wide resources every capability shares: the root logger, one pg
 * pool (under both Prisma and the raw hot-path SQL), the Kafka client, the
 * consumer's state, the outbox wake-up signal, the clock and the id generator.
 */
@Global()
@Module({})
export class InfrastructureModule {
  /** `sql` replaces the pool-backed SQL (the CLI's dry run puts everything in one rolled-back transaction). */
  static forRoot(
    rootLogger: RootLogger,
    options: { sql?: (pool: Pool) => Promise<Sql> } = {},
  ): DynamicModule {
    return {
      module: InfrastructureModule,
      providers: [
        { provide: ROOT_LOGGER, useValue: rootLogger },
        {
          provide: PG_POOL,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => createPool(config.database, rootLogger, 'iam-token-renewal'),
        },
        {
          provide: SQL,
          inject: [PG_POOL],
          useFactory: (pool: Pool) => (options.sql ? options.sql(pool) : new PgSql(pool)),
        },
        { provide: PrismaService, inject: [PG_POOL], useFactory: (pool: Pool) => new PrismaService(pool) },
        {
          provide: KAFKA,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => createKafka(config, rootLogger, ''),
        },
        { provide: CLOCK, useValue: systemClock },
        { provide: OUTBOX_SIGNAL, useValue: new OutboxSignal() },
        { provide: IDS, useValue: new RandomIds() },
        { provide: ServiceMetrics, useValue: new ServiceMetrics() },
        ConsumerState,
        DatabaseLifecycle,
      ],
      exports: [
        ROOT_LOGGER,
        PG_POOL,
        SQL,
        PrismaService,
        KAFKA,
        OUTBOX_SIGNAL,
        CLOCK,
        IDS,
        ConsumerState,
        ServiceMetrics,
      ],
    };
  }
}
