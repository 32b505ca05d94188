import 'reflect-metadata';
import { ConfigError, loadConfig } from '@iam/config';
import { createKafka, ensureTopics, topicPlan } from '@iam/messaging';
import { createRootLogger } from '@iam/observability';
import { prepareDatabase } from '@iam/persistence';
import { createApp } from './bootstrap/create-app';
import { warnOfUndersizedTopics } from './bootstrap/undersized-topics.warning';
import { FatalErrors } from './lifecycle/fatal-errors';
import { lowerHelperThreadPriorityOrWarn } from './lifecycle/helper-thread-priority';
import { ServiceLifecycle } from './lifecycle/service-lifecycle';

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 25_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createRootLogger(config.log.level);

  const migrations = await prepareDatabase(config.database);
  logger.info({ migrations: migrations?.applied.length ?? 'verified' }, 'database ready');
  const setupKafka = createKafka(config, logger, '-setup');
  if (config.kafka.ensureTopics) {
    const created = await ensureTopics(setupKafka, topicPlan(config));
    if (created.length > 0) logger.info({ topics: created }, 'topics created');
  }
  // In the background: it only warns, and an unreachable broker must not hold the start-up.
  void warnOfUndersizedTopics(setupKafka, config, logger);

  const app = await createApp(config, logger);
  const lifecycle = new ServiceLifecycle(app, {
    logger,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    exit: (code) => process.exit(code),
  });
  app.get(FatalErrors).onFatal(() => void lifecycle.stop('fatal error', 1));
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    void lifecycle.stop('unhandled rejection', 1);
  });
  process.once('SIGTERM', () => void lifecycle.stop('SIGTERM', 0));
  process.once('SIGINT', () => void lifecycle.stop('SIGINT', 0));

  await lowerHelperThreadPriorityOrWarn(config.helperThreadNice, logger);
  if (await lifecycle.start(config.http.port, config.http.host)) {
    logger.info({ host: config.http.host, port: config.http.port }, 'iam-token-renewal started');
  }
}

main().catch((error: unknown) => {
  // The logger may not exist yet; this is the one place that writes to stderr directly.
  process.stderr.write(`iam-token-renewal failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
