import {
  Catch,
  HttpException,
  HttpStatus,
  Inject,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { DomainError } from '@iam/domain';
import { isTransientDatabaseError } from '@iam/persistence';
import { SigningKeysStaleError } from '@iam/tokens';
import { ROOT_LOGGER } from '../infrastructure/tokens';
import {
  authMeError,
  CODE_BY_STATUS,
  INTERNAL_ERROR,
  SERVICE_UNAVAILABLE,
  STATUS_BY_KIND,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  type AuthMeErrorBody,
} from './authme-error';

/**
 * Every HTTP failure leaves as an AuthMe error body. Domain refusals map by
 * kind; framework errors (unknown route, body too large, bad media type) keep
 * their 4xx status; the database unreachable, or a transaction it aborted
 * (deadlock, serialization failure), or signing keys not read for too long
 * (SigningKeysStaleError), is a 503 the caller may retry (README, Errors: with
 * a refresh token, within its grace window); anything else is a 500 that says
 * nothing about internals.
 */
@Catch()
export class AuthMeExceptionFilter implements ExceptionFilter {
  private readonly logger: Logger;

  constructor(@Inject(ROOT_LOGGER) rootLogger: Logger) {
    this.logger = rootLogger.child({ component: 'http' });
  }

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const { status, body, retryAfter } = this.render(error, http.getRequest<FastifyRequest>().id);
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    void reply.status(status).header('cache-control', 'no-store').send(body);
  }

  private render(
    error: unknown,
    requestId: string,
  ): { status: number; body: AuthMeErrorBody; retryAfter?: number } {
    if (error instanceof DomainError) {
      return {
        status: STATUS_BY_KIND[error.kind],
        body: authMeError(error.code, error.message),
        ...(error.retryAfterSeconds !== undefined ? { retryAfter: error.retryAfterSeconds } : {}),
      };
    }
    const status = statusOf(error);
    if (status !== undefined && status >= 400 && status < 500) {
      return { status, body: authMeError(CODE_BY_STATUS[status] ?? 'BAD_REQUEST', messageOf(error, status)) };
    }
    // The request id joins these lines to the request's access line (`reqId` in both).
    const unavailable = isTransientDatabaseError(error)
      ? 'database unavailable'
      : error instanceof SigningKeysStaleError
        ? 'signing keys not read for too long'
        : undefined;
    if (unavailable) {
      this.logger.warn({ reqId: requestId, err: error }, `request failed: ${unavailable}`);
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        body: SERVICE_UNAVAILABLE,
        retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS,
      };
    }
    this.logger.error({ reqId: requestId, err: error }, 'request failed unexpectedly');
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, body: INTERNAL_ERROR };
  }
}

/** The status of a Nest HttpException or of a Fastify error (`statusCode`). */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof HttpException) return error.getStatus();
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

function messageOf(error: unknown, status: number): string {
  if (status === HttpStatus.NOT_FOUND) return 'No such resource.';
  const message = (error as { message?: unknown }).message;
  // Framework messages are short and describe the request, never internals; cap them anyway.
  return typeof message === 'string' && message.length > 0
    ? message.slice(0, 200)
    : 'The request is not valid.';
}
