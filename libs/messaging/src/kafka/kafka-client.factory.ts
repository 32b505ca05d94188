import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '@iam/config';
import { pinoLogCreator } from './kafkajs-log';

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
