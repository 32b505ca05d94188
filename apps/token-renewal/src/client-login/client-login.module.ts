import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import {
  ClientLoginUseCase,
  type Clock,
  type IdGenerator,
  type SecretVerifier,
  type TokenSigner,
} from '@iam/domain';
import { PgLoginThrottle, PrismaClientRegistry, PrismaService, type Sql } from '@iam/persistence';
import { CLOCK, IDS, SECRET_HASHER, SQL, TOKEN_SIGNER } from '../infrastructure/tokens';
import { ClientLoginController } from './client-login.controller';

/** Login Client over HTTP. */
@Module({
  controllers: [ClientLoginController],
  providers: [
    {
      provide: ClientLoginUseCase,
      inject: [APP_CONFIG, PrismaService, SQL, SECRET_HASHER, TOKEN_SIGNER, IDS, CLOCK],
      useFactory: (
        config: AppConfig,
        prisma: PrismaService,
        sql: Sql,
        secrets: SecretVerifier,
        signer: TokenSigner,
        ids: IdGenerator,
        clock: Clock,
      ) =>
        new ClientLoginUseCase(
          new PrismaClientRegistry(prisma),
          secrets,
          // In the database: the limit holds across every instance of the deployment.
          new PgLoginThrottle(sql, {
            maxFailures: config.clientLogin.maxFailures,
            windowMs: config.clientLogin.failureWindowMs,
          }),
          signer,
          ids,
          clock,
          {
            issuer: config.tokens.issuer,
            clientTokenTtlMs: config.tokens.clientTokenTtlMs,
            defaultScope: config.tokens.defaultScope,
          },
        ),
    },
  ],
})
export class ClientLoginModule {}
