import { RedeliveryError, StaleAssignmentError } from '@iam/messaging';
import type { LineLogger } from '@iam/observability';
import { isTransientFailure } from './transient-failure';

export interface RetryPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Thrown when the record is handed back uncommitted (shutdown, or the group
 * rebalancing under it): it will be delivered again, here or to another
 * instance. Not a failure of the service.
 */
export class ProcessingInterruptedError extends RedeliveryError {
  constructor(reason = 'shutdown', options?: { cause?: unknown }) {
    super(`processing interrupted (${reason}); the record will be delivered again`, options);
    this.name = 'ProcessingInterruptedError';
  }
}

/**
 * What a group request answers when the partition may be someone else's now:
 * the group is rebalancing, or this member was evicted or is a generation
 * behind (kafkajs rejoins on its own).
 */
const LOST_ASSIGNMENT = new Set<unknown>([
  'REBALANCE_IN_PROGRESS',
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
]);

/**
 * Heartbeats the consumer group, or commits its resolved offsets, during long
 * work. A rebalance or a lost membership means the partition may be someone
 * else's now: hand the record back. A broker that is down cannot take either;
 * that is waited out like any outage.
 */
export async function heartbeatOrHandBack(
  groupRequest: () => Promise<void>,
  logger: LineLogger,
): Promise<void> {
  try {
    await groupRequest();
  } catch (error) {
    if (error instanceof StaleAssignmentError || LOST_ASSIGNMENT.has((error as { type?: unknown }).type)) {
      throw new ProcessingInterruptedError('rebalance', { cause: error });
    }
    if (!isTransientFailure(error)) throw error;
    logger.debug({ err: error }, 'heartbeat or offset commit failed while the broker is unavailable');
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
  options: { policy: RetryPolicy; abort: AbortSignal; heartbeat: () => Promise<void>; logger: LineLogger },
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
      await heartbeatOrHandBack(options.heartbeat, options.logger);
      delay = Math.min(delay * 2, options.policy.maxDelayMs);
    }
  }
}
