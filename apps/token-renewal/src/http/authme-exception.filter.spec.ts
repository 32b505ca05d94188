import { NotFoundException } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logAccess, requestIdOf } from '@iam/observability';
import { SigningKeysStaleError } from '@iam/tokens';
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
      throw new TypeError("Cannot read properties of undefined (reading 'roles')");
    });
    app.get('/database-down', async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    });
    app.get('/deadlock', async () => {
      throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
    });
    app.get('/keys-stale', async () => {
      throw new SigningKeysStaleError(new Date('2026-11-30T12:00:00Z'));
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
        err: { message: "Cannot read properties of undefined (reading 'roles')" },
      },
      { level: 'error', reqId: 'r-1', msg: 'request errored', res: { statusCode: 500 } },
    ]);
    expect(response.json()).toEqual([
      { code: 'INTERNAL_ERROR', message: 'The server could not complete the request.' },
    ]);
  });

  it.each([
    ['the database unreachable', '/database-down', 'database unavailable'],
    ['a transaction the database aborted to break a deadlock', '/deadlock', 'database unavailable'],
    ['signing keys it could not read for too long', '/keys-stale', 'signing keys not read for too long'],
  ])('answers %s with a 503 to retry, logged as a warning', async (_, url, cause) => {
    const response = await app.inject({ method: 'GET', url, headers: { 'x-request-id': 'r-2' } });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('2');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.json()).toEqual([
      {
        code: 'SERVICE_UNAVAILABLE',
        message: 'The service cannot reach its database right now; retry shortly.',
      },
    ]);
    // Nothing at error level: an outage is not a bug.
    expect(lines).toMatchObject([
      { level: 'warn', component: 'http', reqId: 'r-2', msg: `request failed: ${cause}` },
      { level: 'warn', reqId: 'r-2', msg: 'request errored', res: { statusCode: 503 } },
    ]);
    expect(lines).toHaveLength(2);
  });

  it('writes nothing of its own for a refusal (the access line says it)', async () => {
    await app.inject({ method: 'GET', url: '/missing' });
    expect(lines).toMatchObject([{ level: 'warn', msg: 'request completed', res: { statusCode: 404 } }]);
  });
});
