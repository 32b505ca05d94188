import { describe, expect, it } from 'vitest';
import { ConsumerState } from './consumer-state';

describe('ConsumerState', () => {
  it('reads a lag source when the lags are read, a number as it was recorded', () => {
    const state = new ConsumerState();
    const source = { lag: 5 };
    state.recordLag('t', 0, source);
    state.recordLag('t', 1, 2);

    source.lag = 3;

    expect(state.lags()).toEqual([
      { topic: 't', partition: 0, lag: 3 },
      { topic: 't', partition: 1, lag: 2 },
    ]);
  });

  it('keeps after a rebalance only the lags of the partitions still assigned', () => {
    const state = new ConsumerState();
    state.recordLag('a', 0, 1);
    state.recordLag('a', 1, 1);
    state.recordLag('b', 0, 1);

    state.retainLags({ a: [1], c: [0] });

    expect(state.lags()).toEqual([{ topic: 'a', partition: 1, lag: 1 }]);
  });

  it('reports the batches handed off as their owner counts them', () => {
    const state = new ConsumerState();
    expect(state.batchesHandedOff).toBe(0);

    const handOffs = { running: 2 };
    state.reportHandOffs(handOffs);

    expect(state.batchesHandedOff).toBe(2);
  });
});
