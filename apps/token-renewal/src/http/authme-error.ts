import { HttpStatus } from '@nestjs/common';
import type { DomainErrorKind } from '@iam/domain';

/** AuthMe's error body: a JSON array of `{ code, message }`. */
export type AuthMeErrorBody = Array<{ code: string; message: string }>;

export function authMeError(code: string, message: string): AuthMeErrorBody {
  return [{ code, message }];
}

/** The one place a refusal's kind becomes an HTTP status (README, "Errors"). */
export const STATUS_BY_KIND: Record<DomainErrorKind, HttpStatus> = {
  'bad-request': HttpStatus.BAD_REQUEST,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  'precondition-failed': HttpStatus.PRECONDITION_FAILED,
  'too-many-requests': HttpStatus.TOO_MANY_REQUESTS,
};

/** Codes for failures the framework reports before our handlers run. */
export const CODE_BY_STATUS: Partial<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  411: 'LENGTH_REQUIRED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  431: 'REQUEST_HEADER_FIELDS_TOO_LARGE',
};

export const INTERNAL_ERROR = authMeError('INTERNAL_ERROR', 'The server could not complete the request.');

export const SERVICE_UNAVAILABLE = authMeError(
  'SERVICE_UNAVAILABLE',
  'The service cannot reach its database right now; retry shortly.',
);

/**
 * What a 503 asks callers to wait (`retry-after`, seconds): long enough that
 * retries do not pile onto a database coming back, short next to a token's life.
 */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;
