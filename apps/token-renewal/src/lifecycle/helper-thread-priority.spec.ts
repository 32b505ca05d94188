import { describe, expect, it, vi } from 'vitest';
import {
  linuxProcessThreads,
  lowerHelperThreadPriority,
  lowerHelperThreadPriorityOrWarn,
  type ProcessThreads,
} from './helper-thread-priority';

function fakeThreads(ids: readonly number[] | undefined, ended: readonly number[] = [], eventLoopNice = 0) {
  const set = new Map<number, number>();
  const threads: ProcessThreads = {
    list: () => ids,
    eventLoopThread: 100,
    niceOf: (id) => (id === 100 ? eventLoopNice : 0),
    setNice(id, nice) {
      if (ended.includes(id)) return false;
      set.set(id, nice);
      return true;
    },
  };
  return { threads, set };
}

describe('lowerHelperThreadPriority', () => {
  it('lowers every thread but the event loop', async () => {
    const { threads, set } = fakeThreads([100, 101, 102, 107]);

    await expect(lowerHelperThreadPriority(10, threads)).resolves.toBe(3);

    expect([...set]).toEqual([
      [101, 10],
      [102, 10],
      [107, 10],
    ]);
  });

  it("counts from the event loop's own nice value, and stops at the lowest priority", async () => {
    const niced = fakeThreads([100, 101], [], 5);
    await lowerHelperThreadPriority(10, niced.threads);
    expect(niced.set.get(101)).toBe(15);

    const nicedMore = fakeThreads([100, 101], [], 15);
    await lowerHelperThreadPriority(10, nicedMore.threads);
    expect(nicedMore.set.get(101)).toBe(19);
  });

  it('passes over a thread that ended since the listing', async () => {
    const { threads, set } = fakeThreads([100, 101, 102], [101]);

    await expect(lowerHelperThreadPriority(5, threads)).resolves.toBe(1);
    expect([...set.keys()]).toEqual([102]);
  });

  it('changes nothing at 0, or where the system does not list threads', async () => {
    const listed = fakeThreads([100, 101]);
    await expect(lowerHelperThreadPriority(0, listed.threads)).resolves.toBe(0);
    expect(listed.set.size).toBe(0);

    const unlisted = fakeThreads(undefined);
    await expect(lowerHelperThreadPriority(10, unlisted.threads)).resolves.toBe(0);
  });

  it('passes on a refusal other than a thread having ended', async () => {
    const refusal = Object.assign(new Error('uv_os_setpriority returned EACCES'), {
      info: { code: 'EACCES' },
    });
    const threads: ProcessThreads = {
      list: () => [100, 101],
      eventLoopThread: 100,
      niceOf: () => 0,
      setNice: () => {
        throw refusal;
      },
    };

    await expect(lowerHelperThreadPriority(10, threads)).rejects.toBe(refusal);
  });

  it.runIf(process.platform === 'linux')('on Linux, reports a thread that has ended as ended', () => {
    // Thread ids are process ids; the kernel's pid_max bounds them well below this one.
    expect(linuxProcessThreads.setNice(2 ** 30, 10)).toBe(false);
    expect(linuxProcessThreads.list()).toContain(process.pid);
  });

  it('at start-up, logs what it lowered, or warns of a refusal and lets the service run', async () => {
    const logger = { info: vi.fn(), warn: vi.fn() };
    await lowerHelperThreadPriorityOrWarn(10, logger, fakeThreads([100, 101, 102]).threads);
    expect(logger.info).toHaveBeenCalledWith(
      { threads: 2, steps: 10 },
      'helper threads run below the event loop',
    );

    const refusal = Object.assign(new Error('uv_os_setpriority returned EPERM'), { info: { code: 'EPERM' } });
    const refusing: ProcessThreads = {
      ...fakeThreads([100, 101]).threads,
      setNice: () => {
        throw refusal;
      },
    };
    await expect(lowerHelperThreadPriorityOrWarn(10, logger, refusing)).resolves.toBeUndefined();
    expect(logger.warn).toHaveBeenCalledWith(
      { err: refusal, steps: 10 },
      "could not lower the helper threads; they run at the event loop's priority",
    );
  });
});
