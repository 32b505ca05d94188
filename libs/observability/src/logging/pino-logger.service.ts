import type { LoggerService } from '@nestjs/common';
import type { Level, Logger } from 'pino';

/** How Nest's exception handlers pass a stack: `error(message, stack, context)`. */
const STACK = /\n\s*at /;

/**
 * Nest's own logs (bootstrap, route mapping, the errors Nest reports) as JSON
 * lines of the root logger, redacted like every other line, with Nest's context
 * as the `context` field. No request scope: a line written while a request is
 * handled does not carry its id (the access line and the HTTP filter's lines do).
 */
export class PinoLoggerService implements LoggerService {
  constructor(private readonly logger: Logger) {}

  readonly log = this.writer('info');
  readonly error = this.writer('error');
  readonly warn = this.writer('warn');
  readonly debug = this.writer('debug');
  readonly verbose = this.writer('trace');
  readonly fatal = this.writer('fatal');

  private writer(level: Level): (message: unknown, ...optionalParams: unknown[]) => void {
    return (message, ...optionalParams) => this.write(level, message, optionalParams);
  }

  private write(level: Level, message: unknown, optionalParams: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    // Nest's Logger appends its context as the last parameter (after `undefined` for an error without a stack).
    const last = optionalParams.at(-1);
    const context = typeof last === 'string' && !STACK.test(last) ? last : undefined;
    const params = (context === undefined ? optionalParams : optionalParams.slice(0, -1)).filter(
      (param) => param !== undefined,
    );
    const fields: Record<string, unknown> = context === undefined ? {} : { context };

    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message, ...params);
    } else if (typeof message === 'object' && message !== null) {
      const [text, ...args] = params;
      this.logger[level]({ ...fields, ...message }, text as string | undefined, ...args);
    } else if (typeof params[0] === 'string' && STACK.test(params[0])) {
      const err = Object.assign(new Error(String(message)), { stack: params[0] });
      this.logger[level]({ ...fields, err }, String(message), ...params.slice(1));
    } else {
      this.logger[level](fields, String(message), ...params);
    }
  }
}
