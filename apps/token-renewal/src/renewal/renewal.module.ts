import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@iam/config';
import {
  CallerAuthenticator,
  RenewTokenUseCase,
  parseRequirement,
  type Clock,
  type IdGenerator,
  type RefreshTokenHasher,
  type RoleSnapshotLoader,
  type SessionRepository,
  type SessionTokenIssuer,
} from '@iam/domain';
import { PgSessionWithRolesReader, type Sql } from '@iam/persistence';
import { CachingTokenVerifier, SigningKeyRing, type KeyedTokenVerifier } from '@iam/tokens';
import {
  CLOCK,
  IDS,
  REFRESH_TOKEN_HASHER,
  ROLE_SNAPSHOT_LOADER,
  SESSION_REPOSITORY,
  SESSION_TOKEN_ISSUER,
  SQL,
  TOKEN_VERIFIER,
} from '../infrastructure/tokens';
import { sessionPolicy } from '../sessions/sessions.module';
import { RenewTokenController } from './renew-token.controller';

/** Renew Token over HTTP. */
@Module({
  controllers: [RenewTokenController],
  providers: [
    {
      provide: RenewTokenUseCase,
      inject: [
        APP_CONFIG,
        TOKEN_VERIFIER,
        SESSION_REPOSITORY,
        ROLE_SNAPSHOT_LOADER,
        SESSION_TOKEN_ISSUER,
        REFRESH_TOKEN_HASHER,
        IDS,
        CLOCK,
        SQL,
        SigningKeyRing,
      ],
      useFactory: (
        config: AppConfig,
        verifier: KeyedTokenVerifier,
        sessions: SessionRepository,
        roles: RoleSnapshotLoader,
        issuer: SessionTokenIssuer,
        refreshTokens: RefreshTokenHasher,
        ids: IdGenerator,
        clock: Clock,
        sql: Sql,
        ring: SigningKeyRing,
      ) =>
        new RenewTokenUseCase({
          sessionWithRoles: new PgSessionWithRolesReader(sql),
          // Applications present the same token on every call: verify it once per lifetime.
          caller: new CallerAuthenticator(
            new CachingTokenVerifier(verifier, clock, (kid) => ring.verificationKey(kid) !== undefined),
            parseRequirement(config.tokens.renewTokenRequirement),
          ),
          verifier,
          sessions,
          roles,
          issuer,
          refreshTokens,
          ids,
          clock,
          settings: {
            policy: sessionPolicy(config),
            defaultScope: config.tokens.defaultScope,
            identityProviderAuthLevel: config.tokens.identityProviderAuthLevel,
          },
        }),
    },
  ],
})
export class RenewalModule {}
