export * from './logging/redaction';
export * from './logging/root-logger';
export * from './logging/request-id';
export * from './logging/access-log';
export * from './logging/pino-logger.service';
export * from './metrics/service-metrics';
export * from './logging/lazy-child-logger';
