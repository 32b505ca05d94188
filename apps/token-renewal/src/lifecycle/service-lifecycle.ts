import type { Logger } from 'pino';

/** The parts of the Nest application that starting and stopping the process use. */
export interface StartableApp {
  init(): Promise<unknown>;
  startAllMicroservices(): Promise<unknown>;
  listen(port: number, host: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface ServiceLifecycleOptions {
  readonly logger: Pick<Logger, 'info' | 'error'>;
  /** How long a graceful shutdown may take before the process exits anyway. */
  readonly shutdownTimeoutMs: number;
  readonly exit: (code: number) => void;
}

/**
 * Starts the service in order and stops it once. A stop can begin at any moment
 * (a signal, a fatal report, an unhandled rejection), start-up included: the
 * start-up steps after it are not taken, so a service that is stopping never
 * begins consuming or listening.
 */
export class ServiceLifecycle {
  private stopping = false;

  constructor(
    private readonly app: StartableApp,
    private readonly options: ServiceLifecycleOptions,
  ) {}

  /**
   * Resolves true once the service listens, false when a stop began first. A step
   * that fails because the stop closed the app under it is the stop's to report,
   * not a failed start.
   */
  async start(port: number, host: string): Promise<boolean> {
    // Module initialisation (signing keys among it) must finish before the consumer takes a record:
    // in a hybrid app, starting the microservices does not initialise the modules.
    const steps = [
      () => this.app.init(),
      () => this.app.startAllMicroservices(),
      () => this.app.listen(port, host),
    ];
    for (const step of steps) {
      if (this.stopping) return false;
      try {
        await step();
      } catch (error) {
        if (this.stopping) return false;
        throw error;
      }
    }
    return !this.stopping;
  }

  /** Closes the app and exits; a second call while the first runs does nothing. */
  async stop(reason: string, exitCode: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { logger, exit } = this.options;
    logger.info({ reason }, 'shutting down');
    setTimeout(() => {
      logger.error('graceful shutdown timed out');
      exit(exitCode || 1);
    }, this.options.shutdownTimeoutMs).unref();
    try {
      await this.app.close();
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      exitCode = exitCode || 1;
    }
    logger.info('stopped');
    exit(exitCode);
  }
}
