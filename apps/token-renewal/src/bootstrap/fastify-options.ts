import type { Socket } from 'node:net';
import { parse as parseQueryString } from 'node:querystring';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { requestIdOf } from '@iam/observability';
import { authMeError, CODE_BY_STATUS } from '../http/authme-error';

/** Answers a request Node's HTTP parser refused (bad syntax, headers too large) in AuthMe's format. */
function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'HPE_URI_TOO_LONG' ? 414 : 400;
  const body = JSON.stringify(
    authMeError(CODE_BY_STATUS[status] ?? 'BAD_REQUEST', 'The request could not be parsed.'),
  );
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      'cache-control: no-store\r\n' +
      `connection: close\r\n\r\n${body}`,
  );
}

export function fastifyOptions(bodyLimit: number): FastifyServerOptions {
  return {
    bodyLimit,
    // The access log is ours (logAccess: one line per request, its URL redacted); Fastify's own stays off.
    logger: false,
    routerOptions: { maxParamLength: 256 },
    requestIdHeader: false,
    genReqId: requestIdOf,
    clientErrorHandler,
    return503OnClosing: true,
  };
}

/**
 * The body parsers (Nest's own are turned off). Renew Token takes its input
 * from the query string; a caller that sends an empty body labelled JSON or
 * form data (common among HTTP clients) must not be refused for it. Non-empty
 * JSON is still parsed, and malformed JSON is a 400; other media types are 415.
 */
export function registerBodyParsers(fastify: FastifyInstance): void {
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) =>
      done(null, parseQueryString(typeof body === 'string' ? body : body.toString('utf8'))),
  );
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim().length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      const error = Object.assign(new Error('The body is not valid JSON.'), { statusCode: 400 });
      done(error, undefined);
    }
  });
}

/** Every response says which request id its log lines carry. */
export function echoRequestIds(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
}
