import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import {
  ApplyChangeUseCase,
  type Clock,
  type RoleSnapshotLoader,
  type SessionRepository,
  type SessionTokenIssuer,
} from '@iam/domain';
import type { OutboxSignal } from '@iam/messaging';
import { PgAffectedSessionFinder, PgChangeStore, PgDeadLetterStore, type Sql } from '@iam/persistence';
import {
  CLOCK,
  OUTBOX_SIGNAL,
  ROLE_SNAPSHOT_LOADER,
  SESSION_REPOSITORY,
  SESSION_TOKEN_ISSUER,
  SQL,
} from '../infrastructure/tokens';
import { ChangeEventsConsumer } from './change-events.consumer';
import { DEAD_LETTER_STORE, InboundRecordProcessor } from './inbound-record.processor';

/** Event-driven renewal: role and business changes in, settled sessions out. */
@Module({
  controllers: [ChangeEventsConsumer],
  providers: [
    InboundRecordProcessor,
    {
      provide: DEAD_LETTER_STORE,
      inject: [SQL, OUTBOX_SIGNAL],
      useFactory: (sql: Sql, outbox: OutboxSignal) => new PgDeadLetterStore(sql, outbox),
    },
    {
      provide: ApplyChangeUseCase,
      inject: [APP_CONFIG, SQL, SESSION_REPOSITORY, ROLE_SNAPSHOT_LOADER, SESSION_TOKEN_ISSUER, CLOCK],
      useFactory: (
        config: AppConfig,
        sql: Sql,
        sessions: SessionRepository,
        roles: RoleSnapshotLoader,
        issuer: SessionTokenIssuer,
        clock: Clock,
      ) =>
        new ApplyChangeUseCase({
          changes: new PgChangeStore(sql),
          affected: new PgAffectedSessionFinder(sql),
          sessions,
          roles,
          issuer,
          clock,
          batchSize: config.fanOut.batchSize,
        }),
    },
  ],
})
export class RoleEventsModule {}
