import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, type AppConfig } from '@iam/config';
import type { RootLogger } from '@iam/observability';
import { RolledBackSql } from '@iam/persistence';
import { InfrastructureModule } from '../../token-renewal/src/infrastructure/infrastructure.module';
import { LifecycleModule } from '../../token-renewal/src/lifecycle/lifecycle.module';
import { RoleEventsModule } from '../../token-renewal/src/role-events/role-events.module';
import { SessionsModule } from '../../token-renewal/src/sessions/sessions.module';
import { TokensModule } from '../../token-renewal/src/tokens/tokens.module';

/**
 * The service's own modules, minus HTTP, the consumer and the relay: what the
 * operator CLI needs to process records exactly as the live consumer does. What
 * it writes to the outbox is published by the running service's relay.
 */
@Module({})
export class CliAppModule {
  static forRoot(config: AppConfig, logger: RootLogger, options: { dryRun: boolean }): DynamicModule {
    return {
      module: CliAppModule,
      imports: [
        ConfigModule.forRoot(config),
        InfrastructureModule.forRoot(
          logger,
          options.dryRun ? { sql: (pool) => RolledBackSql.begin(pool) } : {},
        ),
        LifecycleModule,
        TokensModule,
        SessionsModule,
        RoleEventsModule,
      ],
    };
  }
}
