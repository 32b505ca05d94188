import { Kafka, logLevel, type KafkaConfig, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '@iam/config';

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs' own logs into the pino root logger (so they are JSON and redacted too). */
export function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
      logger.child({ component: 'kafkajs' })[LEVEL_NAMES[level] ?? 'info'](extra, message);
    };
}

/** The kafkajs client options every part of the service uses. */
export function kafkaClientConfig(config: AppConfig, logger: Logger, clientIdSuffix: string): KafkaConfig {
  return {
    clientId: `${config.kafka.clientId}${clientIdSuffix}`,
    brokers: [...config.kafka.brokers],
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger),
    connectionTimeout: 3_000,
    retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 5_000 },
  };
}

export function createKafka(config: AppConfig, logger: Logger, clientIdSuffix: string): Kafka {
  return new Kafka(kafkaClientConfig(config, logger, clientIdSuffix));
}
