import { badRequest, ErrorCode, isValidId } from '@iam/domain';

export type RawQuery = Record<string, unknown>;

const MAX_LENGTHS: Record<string, number> = { token: 8_192 };
const DEFAULT_MAX_LENGTH = 256;

/**
 * Reads one optional query parameter strictly: given at most once, non-empty,
 * within its length limit. (Fastify turns a repeated parameter into an array.)
 */
export function optionalParameter(query: RawQuery, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw badRequest(ErrorCode.InvalidParameter, `${name} must be given once`);
  if (typeof value !== 'string' || value.length === 0) {
    throw badRequest(ErrorCode.InvalidParameter, `${name} must not be empty`);
  }
  const limit = MAX_LENGTHS[name] ?? DEFAULT_MAX_LENGTH;
  if (value.length > limit)
    throw badRequest(ErrorCode.InvalidParameter, `${name} is longer than ${limit} characters`);
  return value;
}

/** A token is printable ASCII (a JWT's base64url segments, or a UUID): nothing else can be one of ours. */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

export function optionalToken(query: RawQuery, name: string): string | undefined {
  const value = optionalParameter(query, name);
  if (value !== undefined && !TOKEN_CHARACTERS.test(value)) {
    throw badRequest(ErrorCode.InvalidParameter, `${name} contains characters no token has`);
  }
  return value;
}

/** An id parameter follows the same rule as ids in events (no whitespace, control characters or broken Unicode). */
export function optionalId(query: RawQuery, name: string): string | undefined {
  const value = optionalParameter(query, name);
  if (value !== undefined && !isValidId(value))
    throw badRequest(ErrorCode.InvalidParameter, `${name} is not a valid id`);
  return value;
}

export function requiredParameter(query: RawQuery, name: string): string {
  const value = optionalParameter(query, name);
  if (value === undefined) throw badRequest(ErrorCode.MissingParameter, `${name} is required`);
  return value;
}

export function booleanParameter(query: RawQuery, name: string): boolean {
  const value = requiredParameter(query, name).toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(ErrorCode.InvalidParameter, `${name} must be true or false`);
}

/** The credentials of `Authorization: Bearer <token>`; undefined when absent or of another scheme. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}
