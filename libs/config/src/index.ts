export * from './app-config';
export { environmentSchema } from './app-config.schema';
export * from './config.module';
export { parseDuration } from './duration';
