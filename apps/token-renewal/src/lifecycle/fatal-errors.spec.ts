import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { FatalErrors } from './fatal-errors';

function fatalErrors() {
  const logger = { fatal: vi.fn(), error: vi.fn() };
  return { errors: new FatalErrors(logger as unknown as Logger), logger };
}

describe('FatalErrors', () => {
  it('logs and passes on the first report only: the shutdown it starts takes a while, and others add nothing', () => {
    const { errors, logger } = fatalErrors();
    const heard: unknown[] = [];
    errors.onFatal((error) => heard.push(error));
    const first = new Error('the signing key file is gone');

    errors.report(first, { kid: 'key-1' });
    errors.report(new Error('a consume loop broke while stopping'), {});

    expect(heard).toEqual([first]);
    expect(logger.fatal).toHaveBeenCalledTimes(1);
    expect(logger.fatal).toHaveBeenCalledWith(
      { err: first, kid: 'key-1' },
      'unrecoverable failure; stopping the service',
    );
  });

  it('tells a listener set after the report (one made during start-up, say)', () => {
    const { errors } = fatalErrors();
    const early = new Error('broken at start');
    errors.report(early, {});

    const heard: unknown[] = [];
    errors.onFatal((error) => heard.push(error));

    expect(heard).toEqual([early]);
  });

  it('fails work raced against untilFatal with the report, and leaves work that ends first alone', async () => {
    const { errors } = fatalErrors();
    const done = await Promise.race([Promise.resolve('done'), errors.untilFatal()]);
    expect(done).toBe('done');

    const stalled = new Promise<string>(() => {});
    const raced = Promise.race([stalled, errors.untilFatal()]);
    const broken = new Error('a consume loop broke');
    errors.report(broken, {});

    await expect(raced).rejects.toBe(broken);
  });

  it('tells every listener even when one before it throws, and logs what it threw', () => {
    const { errors, logger } = fatalErrors();
    const listenerFault = new Error('a listener broke');
    const heard: unknown[] = [];
    errors.onFatal(() => {
      throw listenerFault;
    });
    errors.onFatal((error) => heard.push(error));
    const broken = new Error('a consume loop broke');

    errors.report(broken, {});
    errors.onFatal(() => {
      throw listenerFault;
    });

    expect(heard).toEqual([broken]);
    expect(logger.error).toHaveBeenCalledTimes(2);
    expect(logger.error).toHaveBeenCalledWith({ err: listenerFault }, 'a fatal-error listener failed');
  });
});
