import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Level, Logger } from 'pino';
import { redactUrl } from './redaction';
import type { RootLogger } from './root-logger';

const UNLOGGED_PREFIX = '/health/';

/** 503 is the database away (the exception filter's warning says so): an outage to watch, not a bug. */
function levelOf(statusCode: number): Level {
  if (statusCode === 503) return 'warn';
  return statusCode >= 500 ? 'error' : statusCode >= 400 ? 'warn' : 'info';
}

/** Health probes would drown everything else. */
const isLogged = (request: FastifyRequest): boolean => !request.url.startsWith(UNLOGGED_PREFIX);

/** An allowlist: no headers, no body, and the URL without the values of sensitive query parameters. */
function requestFields(request: FastifyRequest) {
  return {
    reqId: request.id,
    req: { id: request.id, method: request.method, url: redactUrl(request.url) },
  };
}

/**
 * One line per answered request, with the fields and messages pino-http wrote
 * (`reqId`, `req`, `res`, `responseTime`; "request completed", "request errored"
 * with `err` for a 5xx), so that queries over the logs keep working.
 */
function writeAccessLine(logger: Logger, request: FastifyRequest, reply: FastifyReply): void {
  const statusCode = reply.statusCode;
  const level = levelOf(statusCode);
  if (!logger.isLevelEnabled(level)) return;
  const line = {
    ...requestFields(request),
    res: { statusCode },
    responseTime: Math.round(reply.elapsedTime),
  };
  if (statusCode >= 500) {
    // What failed is logged where it failed (the HTTP exception filter, with this reqId).
    const err = { type: 'Error', message: `failed with status code ${statusCode}` };
    logger[level]({ ...line, err }, 'request errored');
  } else {
    logger[level](line, 'request completed');
  }
}

/**
 * The access log: one `onResponse` hook and one child logger for the whole
 * process. A child logger per request, pino-http's middleware and an
 * AsyncLocalStorage per request cost ~12 % of the main thread under load.
 */
export function logAccess(fastify: FastifyInstance, rootLogger: RootLogger): void {
  // Built without the root logger's key-path redaction: every field of the line
  // is chosen above and the URL goes through redactUrl, so the wildcard paths
  // (`*.token`, `*.*.token`, …) would walk every line and never find anything.
  // Every other line keeps them. A child shares the root's destination, level
  // and formatters: lines of both stay whole and in order on one stream.
  const logger = rootLogger.child({ component: 'http' }, { redact: [] });
  fastify.addHook('onResponse', (request, reply, done) => {
    if (isLogged(request)) writeAccessLine(logger, request, reply);
    done();
  });
  // The caller went away before its answer: no onResponse follows, and a renewal
  // may still have committed (its token is then on the session-update topic only).
  fastify.addHook('onRequestAbort', (request, done) => {
    if (isLogged(request)) logger.warn(requestFields(request), 'request aborted');
    done();
  });
}
