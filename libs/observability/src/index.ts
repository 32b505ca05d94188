export * from './logging/redaction';
export * from './logging/root-logger';
export * from './logging/logging.module';
export * from './metrics/service-metrics';
export * from './logging/lazy-child-logger';
