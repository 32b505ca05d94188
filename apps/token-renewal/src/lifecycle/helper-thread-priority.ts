import { randomFill } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Logger } from 'pino';

/** The highest nice value, the lowest priority. */
const LOWEST_PRIORITY = 19;

/** The operating system's view of this process's threads. */
export interface ProcessThreads {
  /** Ids of the process's threads now; undefined where the system does not list them. */
  list(): readonly number[] | undefined;
  /** The event loop's thread: on Linux its id is the process id. */
  readonly eventLoopThread: number;
  niceOf(threadId: number): number;
  /** Sets one thread's nice value; false when the thread has ended since it was listed. */
  setNice(threadId: number, nice: number): boolean;
}

/** Linux lists a process's threads in /proc/self/task, and get/setpriority(2) on a thread id reach that thread alone. */
export const linuxProcessThreads: ProcessThreads = {
  list() {
    if (process.platform !== 'linux') return undefined;
    try {
      return readdirSync('/proc/self/task').map(Number);
    } catch {
      return undefined;
    }
  },
  eventLoopThread: process.pid,
  niceOf: (threadId) => getPriority(threadId),
  setNice(threadId, nice) {
    try {
      setPriority(threadId, nice);
      return true;
    } catch (error) {
      if ((error as { info?: { code?: string } }).info?.code === 'ESRCH') return false;
      throw error;
    }
  },
};

/**
 * Runs every thread of the process but the event loop's `steps` nice values
 * below it (at most at the lowest priority): libuv's thread pool (RSA
 * signatures, file reads) and V8's helpers (garbage collection, compilation),
 * all started by then. Relative, so that a service started under `nice` or
 * systemd's `Nice=` keeps its helpers below its event loop, not above it.
 *
 * Why: the event loop is the one thread whose work cannot spread over cores,
 * and every signature handed to the pool wakes a pool thread that, at equal
 * priority, the kernel lets run on the event loop's core. Measured under load
 * on two cores, the event loop waited for a core as long as it ran while 0.16
 * cores stood idle. Below it, the helpers still take an idle core at once but
 * yield a busy one to the event loop (docs/benchmarks-history.md, nineteenth
 * session, where the trade-off is measured).
 *
 * Returns how many threads were set (0 where the system does not list threads
 * or `steps` is 0). A refusal (a sandbox forbidding setpriority, say) is
 * thrown: the caller decides whether it matters.
 */
export async function lowerHelperThreadPriority(
  steps: number,
  threads = linuxProcessThreads,
): Promise<number> {
  if (steps === 0) return 0;
  // libuv starts every pool thread on the pool's first job; start it now so that every helper there will be exists.
  await new Promise<void>((resolve, reject) =>
    randomFill(Buffer.alloc(1), (error) => (error ? reject(error) : resolve())),
  );
  const ids = threads.list();
  if (!ids) return 0;
  const nice = Math.min(LOWEST_PRIORITY, threads.niceOf(threads.eventLoopThread) + steps);
  const helpers = ids.filter((id) => id !== threads.eventLoopThread);
  return helpers.filter((id) => threads.setNice(id, nice)).length;
}

/** An optimisation, not a requirement: where the system refuses it, the service logs why and runs as before. */
export async function lowerHelperThreadPriorityOrWarn(
  steps: number,
  logger: Pick<Logger, 'info' | 'warn'>,
  threads = linuxProcessThreads,
): Promise<void> {
  try {
    const lowered = await lowerHelperThreadPriority(steps, threads);
    if (lowered > 0) logger.info({ threads: lowered, steps }, 'helper threads run below the event loop');
  } catch (error) {
    logger.warn(
      { err: error, steps },
      "could not lower the helper threads; they run at the event loop's priority",
    );
  }
}
