import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import { ConsumerState, createKafka } from '@iam/messaging';
import type { RootLogger } from '@iam/observability';
import { PrismaService, createPool } from '@iam/persistence';
import { KAFKA, PG_POOL, ROOT_LOGGER } from './tokens';

/** Closes the pool and Prisma after everything that uses them has stopped. */
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

/** The process-wide resources: root logger, database pool and client, Kafka client, consumer state. */
@Global()
@Module({})
export class InfrastructureModule {
  static forRoot(rootLogger: RootLogger): DynamicModule {
    return {
      module: InfrastructureModule,
      providers: [
        { provide: ROOT_LOGGER, useValue: rootLogger },
        {
          provide: PG_POOL,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => createPool(config.database, rootLogger, 'iam-token-renewal'),
        },
        { provide: PrismaService, inject: [PG_POOL], useFactory: (pool: Pool) => new PrismaService(pool) },
        {
          provide: KAFKA,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => createKafka(config, rootLogger, ''),
        },
        ConsumerState,
        DatabaseLifecycle,
      ],
      exports: [ROOT_LOGGER, PG_POOL, PrismaService, KAFKA, ConsumerState],
    };
  }
}
