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
  private stepInProgress: Promise<unknown> | undefined;

  constructor(
    private readonly app: StartableApp,
    private readonly options: ServiceLifecycleOptions,
  ) {}

  /** Resolves true once the service listens, false when a stop began first. */
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
      this.stepInProgress = step();
      try {
        await this.stepInProgress;
      } catch (error) {
        if (!this.stopping) throw error;
        // The stop under way exits, non-zero since this failed; the failure is still told.
        this.options.logger.error({ err: error }, 'start-up failed while stopping');
        return false;
      } finally {
        this.stepInProgress = undefined;
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
    const timeout = setTimeout(() => {
      logger.error('graceful shutdown timed out');
      exit(exitCode || 1);
    }, this.options.shutdownTimeoutMs).unref();
    // Nest's close does not wait for an init under way: closing then would run the shutdown hooks
    // of half-started providers, and their start after them. The timeout bounds the wait.
    const stepFailed = await this.stepInProgress?.then(
      () => false,
      () => true,
    );
    if (stepFailed) exitCode = exitCode || 1;
    try {
      await this.app.close();
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      exitCode = exitCode || 1;
    }
    clearTimeout(timeout);
    logger.info('stopped');
    exit(exitCode);
  }
}
