import { PrismaSigningKeyRegistry } from '@iam/persistence';
import { SigningKeyRing } from '@iam/tokens';
import { signingKeyRingOptions } from '../../../token-renewal/src/tokens/signing-key-ring.options';
import type { CliContext } from '../cli-context';

/**
 * The same key ring the service builds, over the same directory and registry;
 * `migrate: false` for a command that only reads (see CliContext.database).
 */
export async function signingKeyRing(
  context: CliContext,
  options: { migrate?: boolean } = {},
): Promise<SigningKeyRing> {
  const { prisma } = await context.database(options);
  return new SigningKeyRing(signingKeyRingOptions(context.config, new PrismaSigningKeyRegistry(prisma)));
}
