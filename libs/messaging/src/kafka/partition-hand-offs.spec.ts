import { describe, expect, it } from 'vitest';
import { deferred } from '../testing/deferred';
import { PartitionHandOffs } from './partition-hand-offs';

/** A partition's pause and resume, as a log. */
function partition() {
  const log: string[] = [];
  const pause = () => {
    log.push('pause');
    return async () => void log.push('resume');
  };
  return { log, pause };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

const LIMIT = 4;
const P0 = 'topic\u00000';

/** Starts work on `partition` that hands itself off at once and ends when `until` settles. */
function handedOff(handOffs: PartitionHandOffs, partition: string, until: Promise<void>, log: string[] = []) {
  return handOffs.run(
    partition,
    async (handOff) => {
      handOff();
      await until;
      log.push(`${partition} ended`);
    },
    () => async () => void log.push(`${partition} resumed`),
  );
}

describe('PartitionHandOffs', () => {
  it('returns when work that never hands off ends, without pausing the partition', async () => {
    const failures: unknown[] = [];
    const handOffs = new PartitionHandOffs(LIMIT, (error) => failures.push(error));
    const { log, pause } = partition();
    let ended = false;

    await handOffs.run(
      P0,
      async () => {
        await tick();
        ended = true;
      },
      pause,
    );

    expect(ended).toBe(true);
    expect(log).toEqual([]);
    expect(handOffs.running).toBe(0);
    expect(failures).toEqual([]);
  });

  it('leaves a failure before the hand-off to the caller, as if there were none', async () => {
    const failures: unknown[] = [];
    const handOffs = new PartitionHandOffs(LIMIT, (error) => failures.push(error));
    const { log, pause } = partition();
    const broken = new Error('broken');

    await expect(handOffs.run(P0, async () => Promise.reject(broken), pause)).rejects.toBe(broken);
    expect(log).toEqual([]);
    expect(failures).toEqual([]);
  });

  it('returns at the hand-off with the partition paused, and resumes it when the work ends', async () => {
    const handOffs = new PartitionHandOffs(LIMIT, () => undefined);
    const { log, pause } = partition();
    const rest = deferred();
    let finished = false;

    await handOffs.run(
      P0,
      async (handOff) => {
        handOff();
        await rest.promise;
        finished = true;
      },
      pause,
    );

    expect(finished).toBe(false);
    expect(log).toEqual(['pause']);
    expect(handOffs.running).toBe(1);

    rest.resolve();
    await handOffs.drain();
    expect(finished).toBe(true);
    expect(log).toEqual(['pause', 'resume']);
    expect(handOffs.running).toBe(0);
  });

  it('reports a failure after the hand-off to its listener and still resumes the partition', async () => {
    const failures: unknown[] = [];
    const handOffs = new PartitionHandOffs(LIMIT, (error) => failures.push(error));
    const { log, pause } = partition();
    const rest = deferred();
    const broken = new Error('broken after the hand-off');

    await handOffs.run(
      P0,
      async (handOff) => {
        handOff();
        await rest.promise;
      },
      pause,
    );
    rest.reject(broken);
    await handOffs.drain();

    expect(failures).toEqual([broken]);
    expect(log).toEqual(['pause', 'resume']);
  });

  it('reports a resume that fails, and forgets the batch all the same', async () => {
    const failures: unknown[] = [];
    const handOffs = new PartitionHandOffs(LIMIT, (error) => failures.push(error));
    const refused = new Error('commit refused');

    await handOffs.run(
      P0,
      async (handOff) => {
        handOff();
        await tick();
      },
      () => async () => Promise.reject(refused),
    );
    await handOffs.drain();

    expect(failures).toEqual([refused]);
    expect(handOffs.running).toBe(0);
  });

  it('drains every batch handed off', async () => {
    const handOffs = new PartitionHandOffs(LIMIT, () => undefined);
    const first = deferred();
    const second = deferred();
    const log: string[] = [];
    await handedOff(handOffs, 'first', first.promise, log);
    await handedOff(handOffs, 'second', second.promise, log);

    let drained = false;
    const draining = handOffs.drain().then(() => (drained = true));
    first.resolve();
    await tick();
    expect(drained).toBe(false);
    second.resolve();
    await draining;

    expect(log).toEqual(['first ended', 'first resumed', 'second ended', 'second resumed']);
    expect(handOffs.running).toBe(0);
  });

  it("runs a partition's next batch only once its handed-off work has ended", async () => {
    const handOffs = new PartitionHandOffs(LIMIT, () => undefined);
    const first = deferred();
    const log: string[] = [];
    await handedOff(handOffs, P0, first.promise, log);

    const next = handOffs.run(
      P0,
      async () => void log.push('next batch'),
      () => async () => undefined,
    );
    await tick();
    expect(log).toEqual([]);

    first.resolve();
    await next;
    expect(log).toEqual([`${P0} ended`, `${P0} resumed`, 'next batch']);
  });

  it('hands off no more than its limit at once; past it a batch runs within the fetch cycle', async () => {
    const handOffs = new PartitionHandOffs(2, () => undefined);
    const until = deferred();
    await handedOff(handOffs, 'a', until.promise);
    await handedOff(handOffs, 'b', until.promise);
    expect(handOffs.running).toBe(2);

    let thirdReturned = false;
    const third = handedOff(handOffs, 'c', until.promise).then(() => (thirdReturned = true));
    await tick();
    expect(thirdReturned).toBe(false);

    until.resolve();
    await third;
    await handOffs.drain();
    expect(handOffs.running).toBe(0);
  });

  it('takes no hand-off once draining: the batch runs within the fetch cycle', async () => {
    const handOffs = new PartitionHandOffs(LIMIT, () => undefined);
    await handOffs.drain();
    const until = deferred();
    let returned = false;
    const run = handedOff(handOffs, P0, until.promise).then(() => (returned = true));
    await tick();
    expect(returned).toBe(false);
    until.resolve();
    await run;
    expect(handOffs.running).toBe(0);
  });

  it('treats a hand-off after the work has ended as nothing', async () => {
    const handOffs = new PartitionHandOffs(1, () => undefined);
    const { log, pause } = partition();
    let late: () => void = () => undefined;

    await handOffs.run(
      P0,
      async (handOff) => {
        late = handOff;
      },
      pause,
    );
    late();
    await tick();

    expect(log).toEqual([]);
    expect(handOffs.running).toBe(0);
    // The late call took no place under the limit: the next hand-off is taken.
    const until = deferred();
    await handedOff(handOffs, P0, until.promise);
    expect(handOffs.running).toBe(1);
    until.resolve();
    await handOffs.drain();
  });
});
