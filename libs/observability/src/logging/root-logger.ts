import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { REDACTED, REDACTED_PATHS } from './redaction';

export type RootLogger = Logger;

/** Options shared by every pino logger of the service: JSON lines with tokens and secrets redacted. */
export function rootLoggerOptions(level: string, name: string): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: [...REDACTED_PATHS], censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Errors keep their type, message, code and stack; nothing else from them is trusted.
    serializers: { err: pino.stdSerializers.err },
  };
}

/** The one root logger; everything else logs through children of it. */
export function createRootLogger(
  level: string,
  name = 'iam-token-renewal',
  destination?: DestinationStream,
): RootLogger {
  const options = rootLoggerOptions(level, name);
  return destination ? pino(options, destination) : pino(options);
}
