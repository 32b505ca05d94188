import { Global, Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import type { Clock } from '@iam/domain';
import { PrismaService, PrismaSigningKeyRegistry } from '@iam/persistence';
import {
  Rs512TokenSigner,
  Rs512TokenVerifier,
  JweTokenSealer,
  PlaintextTokenSealer,
  ScryptSecretHasher,
  Sha256RefreshTokenHasher,
  SigningKeyRing,
} from '@iam/tokens';
import {
  CLOCK,
  REFRESH_TOKEN_HASHER,
  ROOT_LOGGER,
  SECRET_HASHER,
  TOKEN_SEALER,
  TOKEN_SIGNER,
  TOKEN_VERIFIER,
} from '../infrastructure/tokens';
import { FatalErrors } from '../lifecycle/fatal-errors';
import { signingKeyRefreshFailureHandler } from './signing-key-refresh-failure';
import { signingKeyRingOptions } from './signing-key-ring.options';

/** Loads the signing keys before the app serves anything, and follows rotations made elsewhere. */
class KeyRingLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(SigningKeyRing) private readonly ring: SigningKeyRing) {}

  async onModuleInit(): Promise<void> {
    await this.ring.init();
    this.ring.start();
  }

  onApplicationShutdown(): void {
    this.ring.stop();
  }
}

/** The token adapters: signing keys, JWT signing and verification, JWE sealing, hashing. */
@Global()
@Module({
  providers: [
    {
      provide: SigningKeyRing,
      inject: [APP_CONFIG, PrismaService, CLOCK, ROOT_LOGGER, FatalErrors],
      useFactory: (
        config: AppConfig,
        prisma: PrismaService,
        clock: Clock,
        logger: Logger,
        fatal: FatalErrors,
      ) => {
        const ring: SigningKeyRing = new SigningKeyRing(
          signingKeyRingOptions(config, new PrismaSigningKeyRegistry(prisma), {
            clock,
            onRefreshError: signingKeyRefreshFailureHandler(() => ring, logger, fatal, {
              propagationGraceMs: config.signingKeys.propagationGraceMs,
              clock,
            }),
          }),
        );
        return ring;
      },
    },
    KeyRingLifecycle,
    {
      provide: TOKEN_SIGNER,
      inject: [SigningKeyRing],
      useFactory: (ring: SigningKeyRing) => new Rs512TokenSigner(ring),
    },
    {
      provide: TOKEN_VERIFIER,
      inject: [SigningKeyRing, APP_CONFIG, CLOCK],
      useFactory: (ring: SigningKeyRing, config: AppConfig, clock: Clock) =>
        new Rs512TokenVerifier(ring, {
          issuer: config.tokens.issuer,
          clockToleranceMs: config.tokens.clockToleranceMs,
          clock,
        }),
    },
    {
      provide: TOKEN_SEALER,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) =>
        config.sessionUpdates.plaintext
          ? new PlaintextTokenSealer()
          : JweTokenSealer.fromConfiguration(config.sessionUpdates.recipientJwk!),
    },
    { provide: REFRESH_TOKEN_HASHER, useValue: new Sha256RefreshTokenHasher() },
    { provide: SECRET_HASHER, useValue: new ScryptSecretHasher() },
  ],
  exports: [SigningKeyRing, TOKEN_SIGNER, TOKEN_VERIFIER, TOKEN_SEALER, REFRESH_TOKEN_HASHER, SECRET_HASHER],
})
export class TokensModule {}
