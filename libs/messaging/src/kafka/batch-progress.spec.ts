import { describe, expect, it } from 'vitest';
import { BatchProgress } from './batch-progress';

/** A fetched batch as kafkajs describes it: offsets of its messages, its last offset, the partition's end. */
function batch(offsets: number[], highWatermark: number, lastOffset = offsets.at(-1)!) {
  return {
    highWatermark: String(highWatermark),
    messages: offsets.map((offset) => ({ offset: String(offset) })) as never,
    firstOffset: () => (offsets.length > 0 ? String(offsets[0]) : null),
    lastOffset: () => String(lastOffset),
  };
}

describe('BatchProgress', () => {
  it('counts every record of the batch and after it until the work resolves some', () => {
    const progress = new BatchProgress(batch([10, 11, 12], 15));

    expect(progress.lag).toBe(5);
    progress.resolved('10');
    expect(progress.lag).toBe(4);
    progress.resolved('12');
    expect(progress.lag).toBe(2);
  });

  it('takes a trailing transaction marker with the last message, as kafkajs resolves it', () => {
    // Messages 10 and 11, then the commit marker at 12: the partition ends at 13.
    const progress = new BatchProgress(batch([10, 11], 13, 12));

    progress.resolved('11');

    expect(progress.lag).toBe(0);
  });

  it('reads no lag from a batch of nothing but filtered records', () => {
    expect(new BatchProgress(batch([], 7, 6)).lag).toBe(0);
  });
});
