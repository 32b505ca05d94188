import { PrismaSigningKeyRegistry } from '@iam/persistence';
import { SigningKeyRing } from '@iam/tokens';
import { signingKeyRingOptions } from '../../../token-renewal/src/tokens/signing-key-ring.options';
import type { CliContext } from '../cli-context';

/** The same key ring the service builds, over the same directory and registry. */
export async function signingKeyRing(context: CliContext): Promise<SigningKeyRing> {
  const { prisma } = await context.database();
  return new SigningKeyRing(signingKeyRingOptions(context.config, new PrismaSigningKeyRegistry(prisma)));
}
