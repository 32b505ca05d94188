import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import { SessionTokenIssuer, type Clock, type IdGenerator, type TokenSigner } from '@iam/domain';
import { SessionUpdateEncoder, type OutboxSignal } from '@iam/messaging';
import { ServiceMetrics } from '@iam/observability';
import { PgRoleSnapshotLoader, PgSessionRepository, sessionWriteBatching, type Sql } from '@iam/persistence';
import type { TokenSealer } from '@iam/tokens';
import {
  CLOCK,
  IDS,
  OUTBOX_SIGNAL,
  ROLE_SNAPSHOT_LOADER,
  SESSION_REPOSITORY,
  SESSION_TOKEN_ISSUER,
  SESSION_UPDATE_ENCODER,
  SQL,
  TOKEN_SEALER,
  TOKEN_SIGNER,
} from '../infrastructure/tokens';

/** What the HTTP path and the event path share: sessions, role facts, and the one token issuer. */
@Global()
@Module({
  providers: [
    {
      provide: SESSION_UPDATE_ENCODER,
      inject: [APP_CONFIG, TOKEN_SEALER, IDS, CLOCK],
      useFactory: (config: AppConfig, sealer: TokenSealer, ids: IdGenerator, clock: Clock) =>
        new SessionUpdateEncoder(config.kafka.topics.sessionUpdates, sealer, ids, clock),
    },
    {
      provide: SESSION_REPOSITORY,
      inject: [SQL, SESSION_UPDATE_ENCODER, OUTBOX_SIGNAL, ServiceMetrics],
      useFactory: (sql: Sql, encoder: SessionUpdateEncoder, outbox: OutboxSignal, metrics: ServiceMetrics) =>
        new PgSessionRepository(
          sql,
          encoder,
          outbox,
          sessionWriteBatching(() => metrics.sessionWriteStalls.inc()),
        ),
    },
    { provide: ROLE_SNAPSHOT_LOADER, inject: [SQL], useFactory: (sql: Sql) => new PgRoleSnapshotLoader(sql) },
    {
      provide: SESSION_TOKEN_ISSUER,
      inject: [TOKEN_SIGNER, IDS, APP_CONFIG],
      useFactory: (signer: TokenSigner, ids: IdGenerator, config: AppConfig) =>
        new SessionTokenIssuer(signer, ids, config.tokens.issuer, sessionPolicy(config)),
    },
  ],
  exports: [SESSION_UPDATE_ENCODER, SESSION_REPOSITORY, ROLE_SNAPSHOT_LOADER, SESSION_TOKEN_ISSUER],
})
export class SessionsModule {}

export function sessionPolicy(config: AppConfig) {
  return {
    accessTokenTtlMs: config.tokens.accessTokenTtlMs,
    sessionTtlMs: config.tokens.sessionTtlMs,
    rememberMeSessionTtlMs: config.tokens.rememberMeSessionTtlMs,
    refreshReuseGraceMs: config.tokens.refreshReuseGraceMs,
  };
}
