import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ConfigModule, type AppConfig } from '@iam/config';
import type { RootLogger } from '@iam/observability';
import { ClientLoginModule } from './client-login/client-login.module';
import { HealthModule } from './health/health.module';
import { HousekeepingModule } from './housekeeping/housekeeping.module';
import { AuthMeExceptionFilter } from './http/authme-exception.filter';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { KeysModule } from './keys/keys.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { MetricsModule } from './metrics/metrics.module';
import { OutboxModule } from './outbox/outbox.module';
import { RenewalModule } from './renewal/renewal.module';
import { RoleEventsModule } from './role-events/role-events.module';
import { SessionsModule } from './sessions/sessions.module';
import { TokensModule } from './tokens/tokens.module';

/** The service: one Nest module per capability, wired over the shared infrastructure. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, rootLogger: RootLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        InfrastructureModule.forRoot(rootLogger),
        LifecycleModule,
        TokensModule,
        SessionsModule,
        RenewalModule,
        ClientLoginModule,
        KeysModule,
        RoleEventsModule,
        OutboxModule,
        HousekeepingModule,
        HealthModule,
        MetricsModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: AuthMeExceptionFilter }],
      exports: [],
    };
  }
}
