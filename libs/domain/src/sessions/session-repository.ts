import type { Session } from './session';
import type { SessionUpdate } from './session-update';

export interface RefreshTokenRecord {
  readonly sessionId: string;
  /** Null while the token is the session's current one. */
  readonly rotatedAt: Date | null;
  /** Whether it is the token rotated most recently (the one a concurrent retry may still present). */
  readonly latestRotated: boolean;
}

/**
 * Every refresh token the session holds is rotated out (it then works only as
 * "the previous token" within the grace window); `issueHash` becomes the only
 * current one, or none.
 */
export interface RefreshTokenChange {
  readonly issueHash: string | null;
  /** When the rotation happens (the grace window for concurrent retries starts here). */
  readonly at: Date;
}

/**
 * A session's new state and what to publish about it, written atomically
 * (one transaction with the outbox). `expectedRevision` guards against a
 * concurrent writer: the write fails instead of overwriting what it wrote.
 */
export interface SessionWrite {
  /** Stored as it is; its revision is one more than the one the writer read. */
  readonly session: Session;
  /** The revision the writer read; null creates the session. */
  readonly expectedRevision: number | null;
  /** Null when the write leaves the refresh tokens alone (a re-issue caused by an event). */
  readonly refreshToken: RefreshTokenChange | null;
  /** Null for a confirmation: nothing is published (see `confirmation`). */
  readonly update: SessionUpdate | null;
}

export interface SessionRepository {
  findById(sessionId: string): Promise<Session | null>;
  findByRefreshTokenHash(hash: string): Promise<RefreshTokenRecord | null>;
  /** The user's most recent live session with the client, for the identity-provider case. */
  findContinuable(userId: string, clientId: string, now: Date): Promise<Session | null>;
  findByIds(sessionIds: readonly string[]): Promise<Session[]>;
  /** Creates (expectedRevision null) or updates a session; false when a concurrent write won. */
  write(write: SessionWrite): Promise<boolean>;
  /**
   * Writes many sessions in one transaction; each write stands alone. Returns
   * the ids of sessions whose write lost to a concurrent one (and was skipped).
   */
  writeMany(writes: readonly SessionWrite[]): Promise<Set<string>>;
}

/**
 * Throws unless the write moves the session's revision by exactly one (a new
 * session starts at 1), the number the store will hold: the writer's next
 * compare-and-set on this session expects it. (PostgreSQL moves the revision
 * of any update that does not, so there a wrong number costs a retry, not a
 * lost write; the in-memory store has no such net.) Repositories check this
 * before they write, which keeps every builder of a write honest in tests.
 */
export function assertMovesRevision(write: SessionWrite): void {
  const next = (write.expectedRevision ?? 0) + 1;
  if (write.session.revision !== next) {
    throw new Error(
      `a write of session ${write.session.id} carries revision ${write.session.revision}; after ` +
        `${write.expectedRevision ?? 'nothing'} it must be ${next}`,
    );
  }
}
