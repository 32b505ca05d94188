import { randomFill } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The operating system's view of this process's threads. */
export interface ProcessThreads {
  /** Ids of the process's threads now; undefined where the system does not list them. */
  list(): readonly number[] | undefined;
  /** The event loop's thread: on Linux its id is the process id. */
  readonly eventLoopThread: number;
  /** Sets one thread's nice value; false when the thread has ended since it was listed. */
  setNice(threadId: number, nice: number): boolean;
}

/** Linux lists a process's threads in /proc/self/task, and setpriority(2) on a thread id sets that thread alone. */
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
 * Lowers the scheduling priority of every thread of the process but the event
 * loop's: libuv's thread pool (RSA signatures, file reads) and V8's helpers
 * (garbage collection, compilation).
 *
 * Why: the event loop is the one thread whose work cannot spread over cores,
 * and every signature handed to the pool wakes a pool thread that, at equal
 * priority, the kernel lets run on the event loop's core. Measured under load
 * on two cores, the event loop waited for a core as long as it ran (on a core
 * 0.40, queued 0.53) while 0.16 cores stood idle. At nice 10 the helpers still
 * take the idle core at once, but yield the busy one to the event loop
 * (docs/benchmarks-history.md, nineteenth session).
 *
 * Returns how many threads were lowered (0 where the system does not list
 * threads or the setting is 0). A refusal (a sandbox forbidding
 * setpriority, say) is thrown: the caller decides whether it matters.
 */
export async function lowerHelperThreadPriority(
  nice: number,
  threads = linuxProcessThreads,
): Promise<number> {
  if (nice === 0) return 0;
  // libuv starts every pool thread on the pool's first job; start it now so that every helper there will be exists.
  await new Promise<void>((resolve, reject) =>
    randomFill(Buffer.alloc(1), (error) => (error ? reject(error) : resolve())),
  );
  const ids = threads.list();
  if (!ids) return 0;
  const helpers = ids.filter((id) => id !== threads.eventLoopThread);
  return helpers.filter((id) => threads.setNice(id, nice)).length;
}
