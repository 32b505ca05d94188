import { isLive, type Session } from '../sessions/session';
import {
  assertMovesRevision,
  type RefreshTokenRecord,
  type SessionRepository,
  type SessionWrite,
} from '../sessions/session-repository';

export interface StoredRefreshToken {
  readonly hash: string;
  readonly sessionId: string;
  readonly issuedAt: Date;
  readonly rotatedAt: Date | null;
}

interface Interference {
  remaining: number;
  readonly concurrentWrite: (stored: Session) => Session;
}

const bumpVersion = (stored: Session): Session => ({ ...stored, claimsVersion: stored.claimsVersion + 1 });

/**
 * SessionRepository in memory, with the documented semantics: a write succeeds
 * only when the stored revision is the expected one (or, for a create,
 * when no session has that id); a refresh-token change rotates out every
 * current token of the session (rotatedAt = change.at) and makes `issueHash`
 * the only current one. `latestRotated` is true for the tokens carrying the
 * session's most recent rotation instant.
 */
export class InMemorySessionRepository implements SessionRepository {
  private readonly sessions = new Map<string, Session>();
  private readonly refreshTokens = new Map<string, StoredRefreshToken>();
  private readonly interference = new Map<string, Interference>();
  /** Every write attempted (through write or writeMany), in order. */
  readonly attempted: SessionWrite[] = [];
  /** The writes that took effect, in order. */
  readonly committed: SessionWrite[] = [];
  /** The batches handed to writeMany. */
  readonly batches: SessionWrite[][] = [];
  findByIdsCalls: string[][] = [];

  seed(session: Session, refreshTokens: ReadonlyArray<{ hash: string; rotatedAt?: Date | null }> = []): this {
    this.sessions.set(session.id, session);
    for (const token of refreshTokens) {
      this.refreshTokens.set(token.hash, {
        hash: token.hash,
        sessionId: session.id,
        issuedAt: session.createdAt,
        rotatedAt: token.rotatedAt ?? null,
      });
    }
    return this;
  }

  get(sessionId: string): Session | undefined {
    return this.sessions.get(sessionId);
  }

  all(): Session[] {
    return [...this.sessions.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  refreshTokensOf(sessionId: string): StoredRefreshToken[] {
    return [...this.refreshTokens.values()].filter((token) => token.sessionId === sessionId);
  }

  /**
   * The next `times` writes of this session lose to a concurrent writer, which
   * first changes the stored session (by default: gives it another token) and
   * thereby its revision.
   */
  interfere(sessionId: string, times = 1, concurrentWrite: (stored: Session) => Session = bumpVersion): void {
    this.interference.set(sessionId, { remaining: times, concurrentWrite });
  }

  async findById(sessionId: string): Promise<Session | null> {
    return this.sessions.get(sessionId) ?? null;
  }

  async findByRefreshTokenHash(hash: string): Promise<RefreshTokenRecord | null> {
    const token = this.refreshTokens.get(hash);
    if (!token) return null;
    const latest = Math.max(
      ...this.refreshTokensOf(token.sessionId).map((other) => other.rotatedAt?.getTime() ?? -Infinity),
    );
    return {
      sessionId: token.sessionId,
      rotatedAt: token.rotatedAt,
      latestRotated: token.rotatedAt !== null && token.rotatedAt.getTime() === latest,
    };
  }

  async findContinuable(userId: string, clientId: string, now: Date): Promise<Session | null> {
    const candidates = [...this.sessions.values()]
      .filter((s) => s.userId === userId && s.clientId === clientId && isLive(s, now))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    return candidates[0] ?? null;
  }

  async findByIds(sessionIds: readonly string[]): Promise<Session[]> {
    this.findByIdsCalls.push([...sessionIds]);
    return this.all().filter((session) => sessionIds.includes(session.id));
  }

  async write(write: SessionWrite): Promise<boolean> {
    return this.apply(write);
  }

  async writeMany(writes: readonly SessionWrite[]): Promise<Set<string>> {
    this.batches.push([...writes]);
    const lost = new Set<string>();
    for (const write of writes) {
      if (!this.apply(write)) lost.add(write.session.id);
    }
    return lost;
  }

  private apply(write: SessionWrite): boolean {
    assertMovesRevision(write);
    this.attempted.push(write);
    const id = write.session.id;
    const interference = this.interference.get(id);
    const before = this.sessions.get(id);
    if (interference && interference.remaining > 0 && before) {
      interference.remaining -= 1;
      // Whatever the concurrent writer changed, its write moved the revision.
      this.sessions.set(id, { ...interference.concurrentWrite(before), revision: before.revision + 1 });
    }
    const stored = this.sessions.get(id);
    if (write.expectedRevision === null) {
      if (stored) return false;
    } else if (!stored || stored.revision !== write.expectedRevision) {
      return false;
    }
    this.sessions.set(id, write.session);
    if (write.refreshToken) {
      const { issueHash, at } = write.refreshToken;
      for (const token of this.refreshTokensOf(id)) {
        if (token.rotatedAt === null) this.refreshTokens.set(token.hash, { ...token, rotatedAt: at });
      }
      if (issueHash !== null) {
        this.refreshTokens.set(issueHash, { hash: issueHash, sessionId: id, issuedAt: at, rotatedAt: null });
      }
    }
    this.committed.push(write);
    return true;
  }
}
