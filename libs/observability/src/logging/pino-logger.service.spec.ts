import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { capturingRootLogger } from './log-capture';
import { PinoLoggerService } from './pino-logger.service';
import { REDACTED } from './redaction';

@Module({})
class EmptyModule {}

/** Nest's Logger writes through the service under test, as it does once `app.useLogger` ran. */
function nestLogger(level: string) {
  const captured = capturingRootLogger(level);
  Logger.overrideLogger(new PinoLoggerService(captured.logger));
  return captured;
}

describe('PinoLoggerService', () => {
  afterEach(() => Logger.overrideLogger(false));

  it("writes Nest's lines as JSON with Nest's context as a field", () => {
    const { lines } = nestLogger('info');
    new Logger('RouterExplorer').log('Mapped {/keys, GET} route');
    new Logger('ServerKafka').warn('consumer rebalancing');
    expect(lines).toMatchObject([
      { level: 'info', name: 'test', context: 'RouterExplorer', msg: 'Mapped {/keys, GET} route' },
      { level: 'warn', context: 'ServerKafka', msg: 'consumer rebalancing' },
    ]);
  });

  it('maps every Nest level to its pino level, verbose to trace, and writes nothing below its level', () => {
    const { lines } = nestLogger('trace');
    const logger = new Logger('Ctx');
    logger.verbose('v');
    logger.debug('d');
    logger.log('l');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(lines.map((line) => [line.level, line.msg, line.context])).toEqual([
      ['trace', 'v', 'Ctx'],
      ['debug', 'd', 'Ctx'],
      ['info', 'l', 'Ctx'],
      ['warn', 'w', 'Ctx'],
      ['error', 'e', 'Ctx'],
      ['fatal', 'f', 'Ctx'],
    ]);
    const quiet = nestLogger('warn').lines;
    new Logger('Ctx').log('not written');
    new Logger('Ctx').debug('not written');
    expect(quiet).toEqual([]);
  });

  it('writes a line without context as it is', () => {
    const { lines } = nestLogger('info');
    Logger.log('no context');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'no context' });
    expect(lines[0]).not.toHaveProperty('context');
  });

  it('keeps an error’s type, message and stack (ExceptionHandler passes the error itself)', () => {
    const { lines } = nestLogger('info');
    new Logger('ExceptionHandler').error(new TypeError('bad wiring'));
    expect(lines).toMatchObject([
      {
        level: 'error',
        context: 'ExceptionHandler',
        msg: 'bad wiring',
        err: {
          type: 'TypeError',
          message: 'bad wiring',
          stack: expect.stringContaining('TypeError: bad wiring'),
        },
      },
    ]);
  });

  it('reads `error(message, stack, context)` as an error with that stack, not as the context', () => {
    const { lines } = nestLogger('info');
    const stack = 'Error: failed\n    at somewhere (file.ts:1:1)';
    new Logger('ExceptionsHandler').error('failed', stack);
    Logger.error('failed without context', stack);
    expect(lines).toMatchObject([
      { context: 'ExceptionsHandler', msg: 'failed', err: { message: 'failed', stack } },
      { msg: 'failed without context', err: { stack } },
    ]);
    expect(lines[1]).not.toHaveProperty('context');
  });

  it('merges an object message into the line, and the root logger still redacts it', () => {
    const { lines, raw } = nestLogger('info');
    new Logger('Ctx').log({ token: 'object-secret-value', partitions: 3 });
    expect(lines).toMatchObject([{ context: 'Ctx', token: REDACTED, partitions: 3 }]);
    expect(raw.join('')).not.toContain('object-secret-value');
  });

  describe('as the logger of a Nest application created with bufferLogs', () => {
    let app: NestFastifyApplication | undefined;
    afterEach(() => app?.close());

    it('writes the buffered bootstrap lines through it once the application listens', async () => {
      const { logger, lines } = capturingRootLogger('info');
      app = await NestFactory.create<NestFastifyApplication>(EmptyModule, new FastifyAdapter(), {
        bufferLogs: true,
        abortOnError: false,
      });
      expect(lines).toEqual([]);
      app.useLogger(new PinoLoggerService(logger));
      // As the service starts: Nest writes what it buffered once it listens.
      await app.listen(0, '127.0.0.1');
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            level: 'info',
            context: 'NestFactory',
            msg: 'Starting Nest application...',
          }),
          expect.objectContaining({
            context: 'NestApplication',
            msg: 'Nest application successfully started',
          }),
        ]),
      );
    });
  });
});
