import { describe, expect, it } from 'vitest';
import { PartitionHandOffs } from './partition-hand-offs';

/** A promise the test settles by hand. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

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

describe('PartitionHandOffs', () => {
  it('returns when work that never hands off ends, without pausing the partition', async () => {
    const failures: unknown[] = [];
    const handOffs = new PartitionHandOffs((error) => failures.push(error));
    const { log, pause } = partition();
    let ended = false;

    await handOffs.run(async () => {
      await tick();
      ended = true;
    }, pause);

    expect(ended).toBe(true);
    expect(log).toEqual([]);
    expect(handOffs.running).toBe(0);
    expect(failures).toEqual([]);
  });

  it('leaves a failure before the hand-off to the caller, as if there were none', async () => {
    const failures: unknown[] = [];
    const handOffs = new PartitionHandOffs((error) => failures.push(error));
    const { log, pause } = partition();
    const broken = new Error('broken');

    await expect(handOffs.run(async () => Promise.reject(broken), pause)).rejects.toBe(broken);
    expect(log).toEqual([]);
    expect(failures).toEqual([]);
  });

  it('returns at the hand-off with the partition paused, and resumes it when the work ends', async () => {
    const handOffs = new PartitionHandOffs(() => undefined);
    const { log, pause } = partition();
    const rest = deferred();
    let finished = false;

    await handOffs.run(async (handOff) => {
      handOff();
      await rest.promise;
      finished = true;
    }, pause);

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
    const handOffs = new PartitionHandOffs((error) => failures.push(error));
    const { log, pause } = partition();
    const rest = deferred();
    const broken = new Error('broken after the hand-off');

    await handOffs.run(async (handOff) => {
      handOff();
      await rest.promise;
    }, pause);
    rest.reject(broken);
    await handOffs.drain();

    expect(failures).toEqual([broken]);
    expect(log).toEqual(['pause', 'resume']);
  });

  it('reports a resume that fails, and forgets the batch all the same', async () => {
    const failures: unknown[] = [];
    const handOffs = new PartitionHandOffs((error) => failures.push(error));
    const refused = new Error('commit refused');

    await handOffs.run(
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

  it('drains every batch handed off, including one handed off while it waits', async () => {
    const handOffs = new PartitionHandOffs(() => undefined);
    const first = deferred();
    const second = deferred();
    const ended: string[] = [];
    const handedOff = (name: string, until: Promise<void>) =>
      handOffs.run(
        async (handOff) => {
          handOff();
          await until;
          ended.push(name);
        },
        () => async () => undefined,
      );

    await handedOff('first', first.promise);
    const draining = handOffs.drain();
    await handedOff('second', second.promise);
    first.resolve();
    await tick();
    second.resolve();
    await draining;

    expect(ended).toEqual(['first', 'second']);
    expect(handOffs.running).toBe(0);
  });

  it('treats a hand-off after the work has ended as nothing', async () => {
    const handOffs = new PartitionHandOffs(() => undefined);
    const { log, pause } = partition();
    let late: () => void = () => undefined;

    await handOffs.run(async (handOff) => {
      late = handOff;
    }, pause);
    late();
    await tick();

    expect(log).toEqual([]);
    expect(handOffs.running).toBe(0);
  });
});
