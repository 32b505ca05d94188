import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServiceLifecycle, type StartableApp } from './service-lifecycle';

/** An app whose start-up steps and close are recorded in order, and whose init is held open until released. */
function fakeApp() {
  const steps: string[] = [];
  let releaseInit: () => void = () => {};
  let failInit: (error: Error) => void = () => {};
  const held = new Promise<void>((resolve, reject) => {
    releaseInit = resolve;
    failInit = reject;
  });
  const app: StartableApp & { close: ReturnType<typeof vi.fn> } = {
    init: async () => {
      steps.push('init');
      await held;
      steps.push('init done');
    },
    startAllMicroservices: async () => void steps.push('microservices'),
    listen: async (port: number, host: string) => void steps.push(`listen ${host}:${port}`),
    close: vi.fn(async () => void steps.push('close')),
  };
  return { app, steps, releaseInit, failInit };
}

function lifecycleOf(app: StartableApp) {
  const logger = { info: vi.fn(), error: vi.fn() };
  const exit = vi.fn();
  const lifecycle = new ServiceLifecycle(app, { logger, exit, shutdownTimeoutMs: 25_000 });
  return { lifecycle, logger, exit };
}

/** Starts, and once init is under way, stops for `reason`. */
async function stopDuringInit(reason: string, exitCode: number) {
  const held = fakeApp();
  const { lifecycle, logger, exit } = lifecycleOf(held.app);
  const started = lifecycle.start(8080, '127.0.0.1');
  await vi.waitFor(() => expect(held.steps).toEqual(['init']));
  const stopped = lifecycle.stop(reason, exitCode);
  return { ...held, logger, exit, started, stopped };
}

describe('ServiceLifecycle', () => {
  afterEach(() => void vi.useRealTimers());

  it('initialises, then starts consuming, then listens', async () => {
    const { app, steps, releaseInit } = fakeApp();
    const { lifecycle, exit } = lifecycleOf(app);
    releaseInit();

    await expect(lifecycle.start(8080, '127.0.0.1')).resolves.toBe(true);

    expect(steps).toEqual(['init', 'init done', 'microservices', 'listen 127.0.0.1:8080']);
    expect(exit).not.toHaveBeenCalled();
  });

  it('stopped during initialisation, closes once it is done and takes no further start-up step', async () => {
    const { app, steps, releaseInit, logger, exit, started, stopped } = await stopDuringInit(
      'fatal error',
      1,
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(app.close).not.toHaveBeenCalled();
    releaseInit();

    await expect(started).resolves.toBe(false);
    await stopped;
    expect(steps).toEqual(['init', 'init done', 'close']);
    expect(logger.info.mock.calls).toEqual([[{ reason: 'fatal error' }, 'shutting down'], ['stopped']]);
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('tells a start-up step that fails during a stop, and exits non-zero even when the stop was asked for', async () => {
    const { app, failInit, logger, exit, started, stopped } = await stopDuringInit('SIGTERM', 0);
    const missingKey = new Error('signing key file missing');
    failInit(missingKey);

    await expect(started).resolves.toBe(false);
    await stopped;
    expect(logger.error).toHaveBeenCalledWith({ err: missingKey }, 'start-up failed while stopping');
    expect(app.close).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('passes on a start-up step that fails with no stop begun', async () => {
    const { app, failInit } = fakeApp();
    const { lifecycle } = lifecycleOf(app);
    const missingKey = new Error('signing key file missing');
    failInit(missingKey);

    await expect(lifecycle.start(8080, '127.0.0.1')).rejects.toBe(missingKey);
  });

  it('stops once however many reasons arrive, exits non-zero when closing fails, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const { app } = fakeApp();
    app.close.mockRejectedValueOnce(new Error('broker gone'));
    const { lifecycle, logger, exit } = lifecycleOf(app);

    await Promise.all([lifecycle.stop('SIGTERM', 0), lifecycle.stop('fatal error', 1)]);
    await vi.advanceTimersByTimeAsync(30_000);

    expect(app.close).toHaveBeenCalledTimes(1);
    expect(logger.error).toHaveBeenCalledWith({ err: expect.any(Error) }, 'error during shutdown');
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('exits non-zero when closing outlasts the shutdown timeout', async () => {
    vi.useFakeTimers();
    const { app } = fakeApp();
    app.close.mockReturnValueOnce(new Promise<void>(() => {}));
    const { lifecycle, logger, exit } = lifecycleOf(app);

    void lifecycle.stop('SIGTERM', 0);
    await vi.advanceTimersByTimeAsync(24_999);
    expect(exit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);

    expect(logger.error).toHaveBeenCalledWith('graceful shutdown timed out');
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
  });
});
