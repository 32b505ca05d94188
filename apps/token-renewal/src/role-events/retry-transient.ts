import type { Logger } from 'pino';
import { isTransientFailure } from './transient-failure';

export interface RetryPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** Thrown when shutdown interrupts a retry: the record is handed back uncommitted. */
export class ProcessingInterruptedError extends Error {
  constructor() {
    super('processing interrupted by shutdown; the record will be delivered again');
    this.name = 'ProcessingInterruptedError';
  }
}

function pause(ms: number, abort: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (abort.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      abort.removeEventListener('abort', done);
      resolve();
    }
    abort.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs work until it succeeds, waiting out transient failures with exponential
 * backoff (heartbeating meanwhile, so the group keeps the partition). Other
 * failures are rethrown at once; shutdown ends the wait.
 */
export async function retryTransient<T>(
  work: () => Promise<T>,
  options: { policy: RetryPolicy; abort: AbortSignal; heartbeat: () => Promise<void>; logger: Logger },
): Promise<T> {
  let delay = options.policy.initialDelayMs;
  for (let attempt = 1; ; attempt += 1) {
    if (options.abort.aborted) throw new ProcessingInterruptedError();
    try {
      return await work();
    } catch (error) {
      if (!isTransientFailure(error)) throw error;
      options.logger.warn({ err: error, attempt, retryInMs: delay }, 'dependency unavailable; retrying');
      await pause(delay, options.abort);
      await options.heartbeat();
      delay = Math.min(delay * 2, options.policy.maxDelayMs);
    }
  }
}
