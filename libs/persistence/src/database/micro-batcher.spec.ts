import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MicroBatcher } from './micro-batcher';

/** A `run` whose calls stay open until the test releases them. */
function gatedRun() {
  const calls: Array<{ items: readonly number[]; release: () => void; fail: (error: Error) => void }> = [];
  const run = (items: readonly number[]) =>
    new Promise<readonly string[]>((resolve, reject) => {
      calls.push({
        items,
        release: () => resolve(items.map((item) => `out-${item}`)),
        fail: reject,
      });
    });
  return { calls, run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('MicroBatcher', () => {
  it('sends a lone call at once, as a batch of one', async () => {
    const { calls, run } = gatedRun();
    const batcher = new MicroBatcher(run, { concurrency: 2, maxBatch: 10 });

    const answer = batcher.submit(1);
    expect(calls.map((call) => call.items)).toEqual([[1]]);
    calls[0]!.release();
    await expect(answer).resolves.toBe('out-1');
  });

  it('gathers the calls made while every slot is busy into one batch, in order', async () => {
    const { calls, run } = gatedRun();
    const batcher = new MicroBatcher(run, { concurrency: 1, maxBatch: 10 });

    const answers = [1, 2, 3, 4].map((item) => batcher.submit(item));
    expect(calls.map((call) => call.items)).toEqual([[1]]);
    calls[0]!.release();
    await tick();
    expect(calls.map((call) => call.items)).toEqual([[1], [2, 3, 4]]);
    calls[1]!.release();
    await expect(Promise.all(answers)).resolves.toEqual(['out-1', 'out-2', 'out-3', 'out-4']);
  });

  it('keeps at most `concurrency` batches in flight and at most `maxBatch` items in one', async () => {
    const { calls, run } = gatedRun();
    const batcher = new MicroBatcher(run, { concurrency: 2, maxBatch: 3 });

    const answers = Array.from({ length: 9 }, (_, item) => batcher.submit(item));
    expect(calls.map((call) => call.items)).toEqual([[0], [1]]);
    calls[0]!.release();
    await tick();
    expect(calls.map((call) => call.items)).toEqual([[0], [1], [2, 3, 4]]);
    calls[1]!.release();
    await tick();
    expect(calls.map((call) => call.items)).toEqual([[0], [1], [2, 3, 4], [5, 6, 7]]);
    calls[2]!.release();
    calls[3]!.release();
    await tick();
    expect(calls.map((call) => call.items)).toEqual([[0], [1], [2, 3, 4], [5, 6, 7], [8]]);
    calls[4]!.release();
    await expect(Promise.all(answers)).resolves.toHaveLength(9);
  });

  it('runs the items of a failed batch one by one, so only the failing item fails', async () => {
    const seen: number[][] = [];
    const batcher = new MicroBatcher(
      async (items: readonly number[]) => {
        seen.push([...items]);
        if (items.includes(2)) throw new Error('item 2 is bad');
        return items.map((item) => item * 10);
      },
      { concurrency: 1, maxBatch: 10 },
    );

    const first = batcher.submit(0);
    const rest = [1, 2, 3].map((item) => batcher.submit(item));
    await expect(first).resolves.toBe(0);
    const settled = await Promise.allSettled(rest);

    expect(settled.map((result) => (result.status === 'fulfilled' ? result.value : 'failed'))).toEqual([
      10,
      'failed',
      30,
    ]);
    expect(seen).toEqual([[0], [1, 2, 3], [1], [2], [3]]);
  });

  it('gives a shared failure to every call of the batch, without running them again', async () => {
    const seen: number[][] = [];
    const unavailable = new Error('the database is away');
    const batcher = new MicroBatcher(
      async (items: readonly number[]) => {
        seen.push([...items]);
        if (items.length > 1) throw unavailable;
        return items;
      },
      { concurrency: 1, maxBatch: 10, sharedFailure: (error) => error === unavailable },
    );

    const [first, ...rest] = [0, 1, 2, 3].map((item) => batcher.submit(item));
    await expect(first).resolves.toBe(0);
    for (const answer of rest) await expect(answer).rejects.toBe(unavailable);
    expect(seen).toEqual([[0], [1, 2, 3]]);
  });

  it('fails a batch whose answer does not have one result per item', async () => {
    const batcher = new MicroBatcher(async () => ['only one'], { concurrency: 1, maxBatch: 10 });

    const [alone, second, third] = [1, 2, 3].map((item) => batcher.submit(item));
    await expect(alone).resolves.toBe('only one');
    await expect(second).rejects.toThrow('a batch of 2 was answered with 1 results');
    await expect(third).rejects.toThrow('a batch of 2 was answered with 1 results');
  });

  it('refuses a concurrency or batch size below 1', () => {
    expect(() => new MicroBatcher(async () => [], { concurrency: 0, maxBatch: 1 })).toThrow(/at least 1/);
    expect(() => new MicroBatcher(async () => [], { concurrency: 1, maxBatch: 0 })).toThrow(/at least 1/);
  });
});

describe('MicroBatcher with weights', () => {
  it('fills a batch up to `maxBatch` weight; a call heavier than that goes alone', async () => {
    const { calls, run } = gatedRun();
    const batcher = new MicroBatcher(run, { concurrency: 1, maxBatch: 10, weigh: (item: number) => item });

    const answers = [1, 4, 5, 2, 30, 3].map((item) => batcher.submit(item));
    expect(calls.map((call) => call.items)).toEqual([[1]]);
    for (let index = 0; index < 4; index += 1) {
      calls[index]!.release();
      await tick();
    }
    // 4 + 5 fit 10, 2 would not; 2 alone before 30 (which is over 10 on its own); then 3.
    expect(calls.map((call) => call.items)).toEqual([[1], [4, 5], [2], [30], [3]]);
    calls[4]!.release();
    await expect(Promise.all(answers)).resolves.toHaveLength(6);
  });
});

describe('MicroBatcher with a stall', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  const stallAfter = { afterMs: 50, maxStalled: 2 };

  it('sends the calls queued behind a batch once it has been in flight for `afterMs`, and says so', async () => {
    const { calls, run } = gatedRun();
    let sentBesideStalled = 0;
    const stall = { ...stallAfter, onSentBesideStalled: () => (sentBesideStalled += 1) };
    const batcher = new MicroBatcher(run, { concurrency: 1, maxBatch: 10, stall });

    const first = batcher.submit(1);
    const queued = [2, 3].map((item) => batcher.submit(item));
    await vi.advanceTimersByTimeAsync(49);
    expect(calls.map((call) => call.items)).toEqual([[1]]);
    expect(sentBesideStalled).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((call) => call.items)).toEqual([[1], [2, 3]]);
    expect(sentBesideStalled).toBe(1);

    // The stalled batch answers whenever it is done, and the other answered first.
    calls[1]!.release();
    await expect(Promise.all(queued)).resolves.toEqual(['out-2', 'out-3']);
    calls[0]!.release();
    await expect(first).resolves.toBe('out-1');
    // Alone again: the next call goes out at once, as any lone call.
    void batcher.submit(4);
    expect(calls.map((call) => call.items)).toEqual([[1], [2, 3], [4]]);
    expect(sentBesideStalled).toBe(1);
  });

  it('counts from the youngest batches: a call waits for the one sent last to stall, not the oldest', async () => {
    const { calls, run } = gatedRun();
    const batcher = new MicroBatcher(run, { concurrency: 1, maxBatch: 10, stall: stallAfter });

    void batcher.submit(1);
    void batcher.submit(2);
    await vi.advanceTimersByTimeAsync(50); // 1 stalls: 2 goes out
    const wakes = vi.spyOn(globalThis, 'setTimeout');
    void batcher.submit(3);
    await vi.advanceTimersByTimeAsync(49);
    expect(calls.map((call) => call.items)).toEqual([[1], [2]]);
    // One timer, set for when 2 stalls: not one polling from 1's stall on.
    expect(wakes).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1); // 2 stalls: 3 goes out
    expect(calls.map((call) => call.items)).toEqual([[1], [2], [3]]);
  });

  it('keeps at most `concurrency + maxStalled` batches in flight, and sends the rest when one returns', async () => {
    const { calls, run } = gatedRun();
    const batcher = new MicroBatcher(run, { concurrency: 1, maxBatch: 1, stall: stallAfter });

    const answers = [1, 2, 3, 4, 5].map((item) => batcher.submit(item));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls.map((call) => call.items)).toEqual([[1], [2], [3]]);
    calls[1]!.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((call) => call.items)).toEqual([[1], [2], [3], [4]]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(4);

    for (const call of calls) call.release();
    await vi.advanceTimersByTimeAsync(0);
    calls[4]!.release();
    await expect(Promise.all(answers)).resolves.toEqual(['out-1', 'out-2', 'out-3', 'out-4', 'out-5']);
  });

  it('sends nothing early while batches return in time: one batch in flight, the rest gathered', async () => {
    const { calls, run } = gatedRun();
    const batcher = new MicroBatcher(run, { concurrency: 1, maxBatch: 10, stall: stallAfter });

    const answers = [1, 2, 3].map((item) => batcher.submit(item));
    await vi.advanceTimersByTimeAsync(30);
    calls[0]!.release();
    await vi.advanceTimersByTimeAsync(0);
    const later = batcher.submit(4);
    await vi.advanceTimersByTimeAsync(30);
    expect(calls.map((call) => call.items)).toEqual([[1], [2, 3]]);
    calls[1]!.release();
    await vi.advanceTimersByTimeAsync(0);
    calls[2]!.release();
    await expect(Promise.all([...answers, later])).resolves.toEqual(['out-1', 'out-2', 'out-3', 'out-4']);
  });

  it('runs the items of a failed batch one by one in the batch’s own slot: calls behind it still wait', async () => {
    const seen: number[][] = [];
    const reruns: Array<() => void> = [];
    const batcher = new MicroBatcher(
      async (items: readonly number[]) => {
        seen.push([...items]);
        if (items.length > 1) throw new Error('one of them is bad');
        // Each item alone waits for the test, so the slot stays taken while they run.
        await new Promise<void>((resolve) => reruns.push(resolve));
        if (items[0] === 2) throw new Error('item 2 is bad');
        return items.map((item) => item * 10);
      },
      { concurrency: 1, maxBatch: 10, stall: stallAfter },
    );

    const first = batcher.submit(0);
    const batch = [1, 2].map((item) => batcher.submit(item));
    reruns.shift()!();
    await expect(first).resolves.toBe(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([[0], [1, 2], [1]]);
    const behind = batcher.submit(3);
    await vi.advanceTimersByTimeAsync(10);
    expect(seen).toEqual([[0], [1, 2], [1]]);

    reruns.shift()!();
    await vi.advanceTimersByTimeAsync(0);
    reruns.shift()!();
    const settled = await Promise.allSettled(batch);
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected']);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([[0], [1, 2], [1], [2], [3]]);
    reruns.shift()!();
    await expect(behind).resolves.toBe(30);
  });

  it('refuses a stall of no time or a negative maximum', () => {
    const options = { concurrency: 1, maxBatch: 1 };
    expect(
      () => new MicroBatcher(async () => [], { ...options, stall: { afterMs: 0, maxStalled: 1 } }),
    ).toThrow(/stall/);
    expect(
      () => new MicroBatcher(async () => [], { ...options, stall: { afterMs: 5, maxStalled: -1 } }),
    ).toThrow(/stall/);
  });
});
