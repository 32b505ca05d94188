import { describe, expect, it } from 'vitest';
import { groupClosure } from './group-closure';

const graph =
  (edges: Record<string, readonly string[]>) =>
  (groupId: string): readonly string[] =>
    edges[groupId] ?? [];

const sorted = (set: Set<string>) => [...set].sort();

describe('groupClosure', () => {
  it('is empty without start groups', () => {
    expect(groupClosure([], graph({ g1: ['g2'] })).size).toBe(0);
  });

  it('holds the start groups themselves when they depend on nothing', () => {
    expect(sorted(groupClosure(['g1', 'g2'], graph({})))).toEqual(['g1', 'g2']);
  });

  it('follows a direct dependency', () => {
    expect(sorted(groupClosure(['g1'], graph({ g1: ['g2'] })))).toEqual(['g1', 'g2']);
  });

  it('follows dependencies transitively', () => {
    expect(sorted(groupClosure(['g1'], graph({ g1: ['g2'], g2: ['g3'], g3: ['g4'] })))).toEqual([
      'g1',
      'g2',
      'g3',
      'g4',
    ]);
  });

  it('follows every branch of a diamond once', () => {
    const visits: string[] = [];
    const edges = graph({ top: ['left', 'right'], left: ['bottom'], right: ['bottom'] });
    const reached = groupClosure(['top'], (id) => {
      visits.push(id);
      return edges(id);
    });
    expect(sorted(reached)).toEqual(['bottom', 'left', 'right', 'top']);
    expect(visits.sort()).toEqual(['bottom', 'left', 'right', 'top']);
  });

  it('terminates on a cycle g1 → g2 → g3 → g1 and reaches all three, asking each once', () => {
    const visits: string[] = [];
    const edges = graph({ g1: ['g2'], g2: ['g3'], g3: ['g1'] });
    const reached = groupClosure(['g1'], (id) => {
      visits.push(id);
      return edges(id);
    });
    expect(sorted(reached)).toEqual(['g1', 'g2', 'g3']);
    expect(visits.sort()).toEqual(['g1', 'g2', 'g3']);
  });

  it('reaches the whole cycle from any of its groups', () => {
    const edges = graph({ g1: ['g2'], g2: ['g3'], g3: ['g1'] });
    expect(sorted(groupClosure(['g3'], edges))).toEqual(['g1', 'g2', 'g3']);
  });

  it('terminates on a self-dependency', () => {
    expect(sorted(groupClosure(['g1'], graph({ g1: ['g1'] })))).toEqual(['g1']);
  });

  it('does not reach groups that only depend on the start groups', () => {
    expect(sorted(groupClosure(['g2'], graph({ g1: ['g2'], g2: ['g3'] })))).toEqual(['g2', 'g3']);
  });

  it('deduplicates repeated start groups and asks their dependencies once', () => {
    const visits: string[] = [];
    const reached = groupClosure(['g1', 'g1', 'g1'], (id) => {
      visits.push(id);
      return [];
    });
    expect(sorted(reached)).toEqual(['g1']);
    expect(visits).toEqual(['g1']);
  });

  it('asks a group reached along two pending paths for its dependencies once', () => {
    // top → c and top → a → c: c is pending twice before it is visited.
    const visits: string[] = [];
    const edges = graph({ top: ['c', 'a'], a: ['c'], c: ['d'] });
    const reached = groupClosure(['top'], (id) => {
      visits.push(id);
      return edges(id);
    });
    expect(sorted(reached)).toEqual(['a', 'c', 'd', 'top']);
    expect(visits.sort()).toEqual(['a', 'c', 'd', 'top']);
  });

  it('walks a chain of 10,000 groups without overflowing the stack', () => {
    const count = 10_000;
    const reached = groupClosure(['g0'], (id) => {
      const n = Number(id.slice(1));
      return n + 1 < count ? [`g${n + 1}`] : [];
    });
    expect(reached.size).toBe(count);
    expect(reached.has('g0')).toBe(true);
    expect(reached.has('g9999')).toBe(true);
    expect(reached.has('g10000')).toBe(false);
  });

  it('walks a chain of 10,000 groups that closes into a cycle', () => {
    const count = 10_000;
    const reached = groupClosure(['g0'], (id) => [`g${(Number(id.slice(1)) + 1) % count}`]);
    expect(reached.size).toBe(count);
  });

  it('accepts any iterable as start groups', () => {
    expect(sorted(groupClosure(new Set(['g1']), graph({ g1: ['g2'] })))).toEqual(['g1', 'g2']);
  });
});
