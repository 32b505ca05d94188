/**
 * How a refused request is classified; each transport maps the kind once
 * (HTTP status, or retry / dead-letter decision). No transport types here.
 */
export type DomainErrorKind =
  'bad-request' | 'unauthenticated' | 'forbidden' | 'precondition-failed' | 'too-many-requests';

export const ErrorCode = {
  MissingParameter: 'MISSING_PARAMETER',
  InvalidParameter: 'INVALID_PARAMETER',
  ConflictingParameters: 'CONFLICTING_PARAMETERS',
  InvalidCallerToken: 'INVALID_CALLER_TOKEN',
  InvalidToken: 'INVALID_TOKEN',
  InvalidRefreshToken: 'INVALID_REFRESH_TOKEN',
  InvalidClientCredentials: 'INVALID_CLIENT_CREDENTIALS',
  ClientRequirementNotMet: 'CLIENT_REQUIREMENT_NOT_MET',
  NotTheTokenClient: 'NOT_THE_TOKEN_CLIENT',
  ApplicationTokenRequired: 'APPLICATION_TOKEN_REQUIRED',
  SessionNotFound: 'SESSION_NOT_FOUND',
  SessionRevoked: 'SESSION_REVOKED',
  SessionExpired: 'SESSION_EXPIRED',
  UserLocked: 'USER_LOCKED',
  NotABusinessMember: 'NOT_A_BUSINESS_MEMBER',
  RefreshTokenReused: 'REFRESH_TOKEN_REUSED',
  ConcurrentRenewal: 'CONCURRENT_RENEWAL',
  TooManyFailedLogins: 'TOO_MANY_FAILED_LOGINS',
} as const;

export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: ErrorCodeName,
    message: string,
    /** Seconds after which a too-many-requests refusal lifts. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badRequest = (code: ErrorCodeName, message: string) =>
  new DomainError('bad-request', code, message);
export const unauthenticated = (code: ErrorCodeName, message: string) =>
  new DomainError('unauthenticated', code, message);
export const forbidden = (code: ErrorCodeName, message: string) =>
  new DomainError('forbidden', code, message);
export const preconditionFailed = (code: ErrorCodeName, message: string) =>
  new DomainError('precondition-failed', code, message);
