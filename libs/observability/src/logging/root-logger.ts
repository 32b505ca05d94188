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
  // Stdout written asynchronously: lines logged while a write is in flight go out
  // together with the next one, instead of one write(2) per request line on the
  // request path. Nothing waits for a fill level, and pino flushes what is pending
  // synchronously when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
