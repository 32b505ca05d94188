import { loadConfig, type AppConfig } from '@iam/config';

/** The configuration the published contract documents are generated with: every default. */
export function defaultContractConfig(): AppConfig {
  return loadConfig({
    DATABASE_URL: 'postgresql://contract/contract',
    KAFKA_BROKERS: 'kafka:9092',
    SESSION_UPDATE_PLAINTEXT: 'true',
  });
}
