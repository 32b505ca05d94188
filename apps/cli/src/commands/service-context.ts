import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { prepareDatabase } from '@iam/persistence';
import type { CliContext } from '../cli-context';
import { FatalErrors } from '../../../token-renewal/src/lifecycle/fatal-errors';
import { CliAppModule } from '../cli-app.module';

/**
 * Runs work inside the service's module graph (same adapters, same code paths),
 * then closes it. With `dryRun`, every database write is rolled back, and
 * nothing is created beforehand: no migration, no first signing key.
 */
export async function withServiceContext<T>(
  context: CliContext,
  options: { dryRun: boolean },
  work: (app: INestApplicationContext) => Promise<T>,
): Promise<T> {
  if (options.dryRun) {
    // A dry run changes nothing, the schema and the keys included: it runs against them as they are.
    const { prisma } = await context.database({ migrate: false });
    if ((await prisma.signingKey.count({ where: { status: 'ACTIVE' } })) === 0) {
      throw new Error(
        "a dry run signs with the service's signing key, and none is registered yet: start the service, or run keys rotate, first",
      );
    }
  } else {
    await prepareDatabase(context.config.database);
  }
  const app = await NestFactory.createApplicationContext(
    CliAppModule.forRoot(context.config, context.logger, options),
    { logger: false, abortOnError: false },
  );
  // What would stop the service (a consume loop broken, the signing key gone) fails the command.
  const fatal = app.get(FatalErrors).untilFatal();
  try {
    return await Promise.race([work(app), fatal]);
  } finally {
    await app.close();
  }
}
