import { describe, expect, it, vi } from 'vitest';
import { lazyChild } from './lazy-child-logger';
import { capturingRootLogger as capture } from './log-capture';

describe('lazyChild', () => {
  it('creates no child while nothing is written', () => {
    const { logger } = capture('info');
    const child = vi.spyOn(logger, 'child');
    const lazy = lazyChild(logger, { topic: 't', partition: 1 });
    lazy.debug({ outcome: 'applied' }, 'event applied');
    expect(child).not.toHaveBeenCalled();
  });

  it('creates the child once, on the first line, with its bindings (redacted like any other)', () => {
    const { logger, lines } = capture('debug');
    const child = vi.spyOn(logger, 'child');
    const lazy = lazyChild(logger, { topic: 't', partition: 1, token: 'secret-token-value' });
    lazy.warn({ attempt: 1 }, 'dependency unavailable; retrying');
    lazy.debug({ outcome: 'applied' }, 'event applied');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines.map((line) => [line.msg, line.topic, line.partition])).toEqual([
      ['dependency unavailable; retrying', 't', 1],
      ['event applied', 't', 1],
    ]);
    expect(JSON.stringify(lines)).not.toContain('secret-token-value');
  });
});
