import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import {
  ClientLoginUseCase,
  SlidingWindowLoginThrottle,
  type Clock,
  type IdGenerator,
  type SecretVerifier,
  type TokenSigner,
} from '@iam/domain';
import { PrismaClientRegistry, PrismaService } from '@iam/persistence';
import { CLOCK, IDS, SECRET_HASHER, TOKEN_SIGNER } from '../infrastructure/tokens';
import { ClientLoginController } from './client-login.controller';

/** Failed logins are limited per client id; this bounds how many ids are tracked at once. */
const MAX_TRACKED_CLIENTS = 100_000;

/** Login Client over HTTP. */
@Module({
  controllers: [ClientLoginController],
  providers: [
    {
      provide: ClientLoginUseCase,
      inject: [APP_CONFIG, PrismaService, SECRET_HASHER, TOKEN_SIGNER, IDS, CLOCK],
      useFactory: (
        config: AppConfig,
        prisma: PrismaService,
        secrets: SecretVerifier,
        signer: TokenSigner,
        ids: IdGenerator,
        clock: Clock,
      ) =>
        new ClientLoginUseCase(
          new PrismaClientRegistry(prisma),
          secrets,
          new SlidingWindowLoginThrottle({
            maxFailures: config.clientLogin.maxFailures,
            windowMs: config.clientLogin.failureWindowMs,
            maxTrackedClients: MAX_TRACKED_CLIENTS,
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
