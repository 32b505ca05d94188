import { request as httpRequest } from 'node:http';
import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logAccess } from './access-log';
import { capturingRootLogger, type LogLine } from './log-capture';
import { REDACTED } from './redaction';
import { requestIdOf } from './request-id';

/** A Fastify server with the service's request ids and the access log, and routes answering any status. */
function server(level: string): { app: FastifyInstance; lines: LogLine[]; raw: string[]; root: () => void } {
  const { logger, lines, raw } = capturingRootLogger(level);
  const app = fastify({ logger: false, requestIdHeader: false, genReqId: requestIdOf });
  logAccess(app, logger);
  app.all('/status/:code', async (request, reply) => {
    const { code } = request.params as { code: string };
    return reply.code(Number(code)).send({ ok: true });
  });
  app.get('/health/live', async () => ({ status: 'live' }));
  app.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { ok: true };
  });
  app.get('/thrown', async () => {
    throw new Error('boom');
  });
  return { app, lines, raw, root: () => logger.info({ token: 'root-secret' }, 'a root line') };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('logAccess', () => {
  let app: FastifyInstance;
  let lines: LogLine[];
  let raw: string[];
  let writeRootLine: () => void;

  beforeEach(() => {
    ({ app, lines, raw, root: writeRootLine } = server('info'));
  });
  afterEach(() => app.close());

  it("writes one line per request with pino-http's fields and message", async () => {
    await app.inject({ method: 'GET', url: '/status/200' });
    expect(lines).toHaveLength(1);
    const id = lines[0]!.reqId;
    expect(lines[0]).toMatchObject({
      level: 'info',
      name: 'test',
      component: 'http',
      reqId: id,
      req: { id, method: 'GET', url: '/status/200' },
      res: { statusCode: 200 },
      msg: 'request completed',
    });
    expect(lines[0]!.reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines[0]!.responseTime).toEqual(expect.any(Number));
    expect(lines[0]!.time).toEqual(expect.any(String));
  });

  it.each([
    [200, 'info'],
    [204, 'info'],
    [302, 'info'],
    [399, 'info'],
    [400, 'warn'],
    [401, 'warn'],
    [404, 'warn'],
    [499, 'warn'],
    [500, 'error'],
    [502, 'error'],
    // The database away: an outage to watch, not a bug (AuthMeExceptionFilter warns with the cause).
    [503, 'warn'],
  ])('logs status %i at %s', async (status, level) => {
    await app.inject({ method: 'POST', url: `/status/${status}` });
    expect(lines.map((line) => [line.level, (line.res as { statusCode: number }).statusCode])).toEqual([
      [level, status],
    ]);
  });

  it('says a 5xx errored, as pino-http did, and a thrown error is its 500', async () => {
    await app.inject({ method: 'GET', url: '/status/503' });
    await app.inject({ method: 'GET', url: '/thrown' });
    expect(lines).toMatchObject([
      { level: 'warn', msg: 'request errored', err: { message: 'failed with status code 503' } },
      { level: 'error', msg: 'request errored', res: { statusCode: 500 } },
    ]);
  });

  it('logs unknown routes (404) too', async () => {
    await app.inject({ method: 'GET', url: '/nowhere' });
    expect(lines).toMatchObject([{ level: 'warn', req: { url: '/nowhere' }, res: { statusCode: 404 } }]);
  });

  it('skips health probes', async () => {
    await app.inject({ method: 'GET', url: '/health/live' });
    await app.inject({ method: 'GET', url: '/health/live?verbose=1' });
    expect(lines).toEqual([]);
  });

  it('carries the caller’s well-formed request id', async () => {
    await app.inject({ method: 'GET', url: '/status/200', headers: { 'x-request-id': 'trace-abc.123' } });
    expect(lines[0]).toMatchObject({ reqId: 'trace-abc.123', req: { id: 'trace-abc.123' } });
  });

  it('never writes a token from the query, a header or the body', async () => {
    await app.inject({
      method: 'POST',
      url: '/status/200?token=query-secret-value&x=1&%74oken=encoded-secret-value',
      headers: {
        authorization: 'Bearer header-secret-value',
        cookie: 'session=cookie-secret-value',
        'content-type': 'application/json',
      },
      payload: JSON.stringify({ token: 'body-secret-value', refreshToken: 'body-secret-value' }),
    });
    expect(lines).toHaveLength(1);
    expect((lines[0]!.req as { url: string }).url).toBe(
      `/status/200?token=${REDACTED}&x=1&%74oken=${REDACTED}`,
    );
    expect(Object.keys(lines[0]!.req as object).sort()).toEqual(['id', 'method', 'url']);
    expect(raw.join('')).not.toMatch(/secret-value|Bearer|authorization|cookie/i);
  });

  it('leaves the root logger’s redaction in place for every other line', async () => {
    await app.inject({ method: 'GET', url: '/status/200' });
    writeRootLine();
    expect(lines[1]).toMatchObject({ msg: 'a root line', token: REDACTED });
    expect(lines[1]).not.toHaveProperty('component');
  });

  it('says when the caller went away before its answer', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const request = httpRequest(`${address}/slow?token=abort-secret-value`);
    request.on('error', () => undefined);
    request.end();
    // Gone while the handler is still at work.
    await new Promise((resolve) => setTimeout(resolve, 100));
    request.destroy();
    await until(() => lines.length > 0, 2_000);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'request aborted',
      req: { method: 'GET', url: `/slow?token=${REDACTED}` },
    });
    expect(raw.join('')).not.toContain('abort-secret-value');
  });

  it('writes nothing below its level', async () => {
    await app.close();
    ({ app, lines } = server('warn'));
    await app.inject({ method: 'GET', url: '/status/200' });
    await app.inject({ method: 'GET', url: '/status/404' });
    expect(lines.map((line) => line.level)).toEqual(['warn']);
  });
});
