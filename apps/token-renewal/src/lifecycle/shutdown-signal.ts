import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

/**
 * Raised when the service starts shutting down, before the Kafka consumer is
 * disconnected: work in progress stops retrying and hands its record back.
 */
@Injectable()
export class ShutdownSignal implements BeforeApplicationShutdown {
  private readonly controller = new AbortController();

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get requested(): boolean {
    return this.controller.signal.aborted;
  }

  request(): void {
    this.controller.abort();
  }

  beforeApplicationShutdown(): void {
    this.request();
  }
}
