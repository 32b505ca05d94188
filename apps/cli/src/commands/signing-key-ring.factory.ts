import { PrismaSigningKeyRegistry } from '@iam/persistence';
import { SigningKeyRing } from '@iam/tokens';
import type { CliContext } from '../cli-context';

/** The same key ring the service builds, over the same directory and registry. */
export async function signingKeyRing(context: CliContext): Promise<SigningKeyRing> {
  const { config } = context;
  const { prisma } = await context.database();
  return new SigningKeyRing({
    registry: new PrismaSigningKeyRegistry(prisma),
    dir: config.signingKeys.dir,
    generateIfMissing: config.signingKeys.generateIfMissing,
    maxTokenLifetimeMs:
      Math.max(config.tokens.accessTokenTtlMs, config.tokens.clientTokenTtlMs) +
      config.tokens.clockToleranceMs,
  });
}
