import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { checkDatabase, prepareDatabase } from '@iam/persistence';
import type { CliContext } from '../cli-context';
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
  // A dry run changes nothing, the schema included: it runs against the database as it is.
  await (options.dryRun ? checkDatabase : prepareDatabase)(context.config.database);
  const app = await NestFactory.createApplicationContext(
    CliAppModule.forRoot(context.config, context.logger, options),
    { logger: false, abortOnError: false },
  );
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}
