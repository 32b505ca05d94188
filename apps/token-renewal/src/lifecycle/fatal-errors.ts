import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../infrastructure/tokens';

type FatalListener = (error: unknown) => void;

/**
 * Where a part of the service reports that it cannot go on (a consume loop
 * broken by something other than an unavailable dependency). main.ts listens
 * and stops the process with a non-zero code: crashing loudly beats limping on.
 */
@Injectable()
export class FatalErrors {
  private listener: FatalListener | undefined;
  private reported = false;

  constructor(@Inject(ROOT_LOGGER) private readonly logger: Logger) {}

  onFatal(listener: FatalListener): void {
    this.listener = listener;
  }

  report(error: unknown, context: Record<string, unknown>): void {
    // The first report stops the service; later ones (the shutdown takes a while) add nothing.
    if (this.reported) return;
    this.reported = true;
    this.logger.fatal({ err: error, ...context }, 'unrecoverable failure; stopping the service');
    this.listener?.(error);
  }
}
