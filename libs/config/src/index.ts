export * from './app-config';
export { environmentSchema, MAX_TIMER_MS } from './app-config.schema';
export * from './config.module';
export { parseDuration } from './duration';
