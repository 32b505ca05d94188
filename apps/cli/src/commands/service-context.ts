import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { prepareDatabase } from '@iam/persistence';
import type { CliContext } from '../cli-context';
import { CliAppModule } from '../cli-app.module';

/** Runs work inside the service's module graph (same adapters, same code paths), then closes it. */
export async function withServiceContext<T>(
  context: CliContext,
  options: { dryRun: boolean },
  work: (app: INestApplicationContext) => Promise<T>,
): Promise<T> {
  await prepareDatabase(context.config.database);
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
