import { NotFoundException } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logAccess, requestIdOf } from '@iam/observability';
import { capturingRootLogger, type LogLine } from '../../../../libs/observability/src/logging/log-capture';
import { AuthMeExceptionFilter } from './authme-exception.filter';

describe('AuthMeExceptionFilter, as it logs', () => {
  let app: FastifyInstance;
  let lines: LogLine[];

  beforeEach(() => {
    const captured = capturingRootLogger('info');
    lines = captured.lines;
    const filter = new AuthMeExceptionFilter(captured.logger);
    app = fastify({ logger: false, requestIdHeader: false, genReqId: requestIdOf });
    logAccess(app, captured.logger);
    // Nest hands its filters the request and reply in an ArgumentsHost, as here.
    app.setErrorHandler((error, request, reply) =>
      filter.catch(error, new ExecutionContextHost([request, reply])),
    );
    app.get('/unexpected', async () => {
      throw new Error('connection refused');
    });
    app.get('/missing', async () => {
      throw new NotFoundException();
    });
  });
  afterEach(() => app.close());

  it('writes an unexpected failure with the request id its access line carries', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/unexpected',
      headers: { 'x-request-id': 'r-1' },
    });
    expect(response.statusCode).toBe(500);
    expect(lines).toMatchObject([
      {
        level: 'error',
        component: 'http',
        reqId: 'r-1',
        msg: 'request failed unexpectedly',
        err: { message: 'connection refused' },
      },
      { level: 'error', reqId: 'r-1', msg: 'request errored', res: { statusCode: 500 } },
    ]);
  });

  it('writes nothing of its own for a refusal (the access line says it)', async () => {
    await app.inject({ method: 'GET', url: '/missing' });
    expect(lines).toMatchObject([{ level: 'warn', msg: 'request completed', res: { statusCode: 404 } }]);
  });
});
