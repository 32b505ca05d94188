export * from './app-config';
export * from './config.module';
export { parseDuration } from './duration';
