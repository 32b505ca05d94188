import { DryRunAbandonedError } from './dry-run-abandoned.error';

// SQLSTATE classes and codes that mean "the database is unavailable or busy right now".
const TRANSIENT_SQLSTATE_CLASSES = ['08', '53', '57'];
// In those classes but about what the client sent or did: a bug to report, not an outage to wait out.
const NOT_TRANSIENT_SQLSTATES = new Set(['08P01', '57014']);
// Contention: a serialization failure, a deadlock, a lock not available. About this work, retry it.
const CONTENTION_SQLSTATES = new Set(['40001', '40P01', '55P03']);
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const isSqlState = (code: string): boolean => /^[0-9A-Z]{5}$/.test(code);

// Prisma's own codes for an unreachable server, a closed connection, a timeout; and a write conflict.
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const CONTENTION_PRISMA_CODES = new Set(['P2034']);
const TRANSIENT_MESSAGES = [
  /connection terminated/i,
  /terminating connection/i,
  /connection (?:is )?(?:closed|lost|refused|reset)/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /the database system is (?:starting up|shutting down|in recovery mode)/i,
];

function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth += 1) {
    const candidate = current as { code?: unknown; originalCode?: unknown; cause?: unknown };
    for (const code of [candidate.code, candidate.originalCode])
      if (typeof code === 'string') codes.push(code);
    current = candidate.cause;
  }
  return codes;
}

function messagesOf(error: unknown): string[] {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth += 1) {
    const candidate = current as { message?: unknown; cause?: unknown };
    if (typeof candidate.message === 'string') messages.push(candidate.message);
    current = candidate.cause;
  }
  return messages;
}

/** Whether the database is unreachable or not taking work: nothing about the statement that failed. */
export function isDatabaseUnavailable(error: unknown): boolean {
  // Its message repeats the failure's, which may read as an outage; retrying it only fails again.
  if (error instanceof DryRunAbandonedError) return false;
  const codes = codesOf(error);
  if (
    codes.some(
      (code) =>
        TRANSIENT_SOCKET_CODES.has(code) ||
        UNAVAILABLE_PRISMA_CODES.has(code) ||
        (isSqlState(code) &&
          TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2)) &&
          !NOT_TRANSIENT_SQLSTATES.has(code)),
    )
  ) {
    return true;
  }
  // An error the server classified (a SQLSTATE) is judged by its code alone: "terminating
  // connection" is also how an idle-in-transaction timeout (25P03), a bug of ours, reads.
  if (codes.some(isSqlState)) return false;
  // Only the driver's own connection errors carry no code.
  return messagesOf(error).some((message) => TRANSIENT_MESSAGES.some((pattern) => pattern.test(message)));
}

/** Whether a database failure is about availability or contention (retry later) rather than about the request. */
export function isTransientDatabaseError(error: unknown): boolean {
  if (codesOf(error).some((code) => CONTENTION_SQLSTATES.has(code) || CONTENTION_PRISMA_CODES.has(code))) {
    return true;
  }
  return isDatabaseUnavailable(error);
}
