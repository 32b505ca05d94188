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
  private readonly listeners: FatalListener[] = [];
  private first: { readonly error: unknown } | undefined;

  constructor(@Inject(ROOT_LOGGER) private readonly logger: Logger) {}

  /** Each listener hears the first report, even one made before it was added (during start-up, say). */
  onFatal(listener: FatalListener): void {
    this.listeners.push(listener);
    if (this.first) this.tell(listener, this.first.error);
  }

  /** Settles, as a rejection, with the first report: for work that must fail when the service would stop. */
  untilFatal(): Promise<never> {
    return new Promise<never>((_, reject) => this.onFatal(reject));
  }

  report(error: unknown, context: Record<string, unknown>): void {
    // The first report stops the service; later ones (the shutdown takes a while) add nothing.
    if (this.first) return;
    this.first = { error };
    this.logger.fatal({ err: error, ...context }, 'unrecoverable failure; stopping the service');
    for (const listener of this.listeners) this.tell(listener, error);
  }

  // A listener that throws must not keep the ones after it (main.ts's stop among them) from hearing.
  private tell(listener: FatalListener, error: unknown): void {
    try {
      listener(error);
    } catch (listenerError) {
      this.logger.error({ err: listenerError }, 'a fatal-error listener failed');
    }
  }
}
