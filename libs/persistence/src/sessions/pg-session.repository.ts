import {
  assertMovesRevision,
  type RefreshTokenRecord,
  type Session,
  type SessionRepository,
  type SessionWrite,
} from '@iam/domain';
import type { OutboxSignal, SessionUpdateEncoder, ValuedOutboxMessage } from '@iam/messaging';
import { batchStatementName } from '../database/batch-statement';
import { MicroBatcher, type MicroBatcherOptions } from '../database/micro-batcher';
import type { Sql } from '../database/sql';
import { isDatabaseUnavailable } from '../errors/transient-database-error';
import { encodeHeaders } from '../outbox/outbox-rows';
import { SELECT_CONTINUABLE_SESSION, SELECT_REFRESH_TOKEN_BY_HASH } from './session-read.sql';
import { SESSION_COLUMNS, isSessionId, toSession, type SessionRow } from './session-rows';
import { INSERT_SESSION, UPDATE_SESSIONS } from './session-write.sql';

/**
 * Concurrent writers share statements, up to 500 writes in one (a fan-out
 * page, FANOUT_BATCH_SIZE; a write is about 5 kB of statement input), with one
 * statement in flight: fewer, larger statements cost the event loop and
 * PostgreSQL less than the waits they add (bench:http closed loop +8 to +12 %
 * against two in flight, in alternated pairs; docs/benchmarks-history.md,
 * seventeenth and eighteenth sessions).
 *
 * A statement still in flight after 50 ms is taken to wait for a row lock (a
 * replay's dry run holds the rows it writes; a fan-out page meets a session
 * another instance is writing) and makes room for the next, with at most four
 * in flight: otherwise one held row would hold back every write of the
 * instance (`exactly-once.e2e-spec.ts`, a long fan-out holds back no other
 * partition).
 */
export function sessionWriteBatching(
  onSentBesideStalled?: () => void,
): MicroBatcherOptions<readonly SessionWrite[]> {
  return {
    concurrency: 1,
    stall: { afterMs: 50, maxStalled: 3, onSentBesideStalled },
    maxBatch: 500,
    weigh: (writes) => writes.length,
    sharedFailure: isDatabaseUnavailable,
  };
}

/** Sessions, their refresh tokens and their outbox messages, over raw SQL (the renewal hot path). */
export class PgSessionRepository implements SessionRepository {
  /**
   * Writes from concurrent renewals and fan-outs, gathered into one statement
   * and one commit (each call's writes stay together in one statement).
   */
  private readonly updates: MicroBatcher<readonly SessionWrite[], boolean[]>;

  constructor(
    private readonly sql: Sql,
    private readonly encoder: SessionUpdateEncoder,
    /** Told when messages were committed to the outbox, so this process's relay sends them at once. */
    private readonly outbox?: OutboxSignal,
    batching: MicroBatcherOptions<readonly SessionWrite[]> = sessionWriteBatching(),
  ) {
    this.updates = new MicroBatcher((calls) => this.updateCalls(calls), batching);
  }

  async findById(sessionId: string): Promise<Session | null> {
    if (!isSessionId(sessionId)) return null;
    const [row] = await this.sql.query<SessionRow>(
      'session-by-id',
      `SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = $1::uuid`,
      [sessionId],
    );
    return row ? toSession(row) : null;
  }

  async findByIds(sessionIds: readonly string[]): Promise<Session[]> {
    const ids = sessionIds.filter(isSessionId);
    if (ids.length === 0) return [];
    const rows = await this.sql.query<SessionRow>(
      'sessions-by-ids',
      `SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = ANY($1::uuid[]) ORDER BY s.id`,
      [ids],
    );
    return rows.map(toSession);
  }

  async findByRefreshTokenHash(hash: string): Promise<RefreshTokenRecord | null> {
    const [row] = await this.sql.query<{
      session_id: string;
      rotated_at: Date | null;
      latest_rotated: boolean;
    }>('refresh-token-by-hash', SELECT_REFRESH_TOKEN_BY_HASH, [hash]);
    return row
      ? { sessionId: row.session_id, rotatedAt: row.rotated_at, latestRotated: row.latest_rotated }
      : null;
  }

  async findContinuable(userId: string, clientId: string, now: Date): Promise<Session | null> {
    const [row] = await this.sql.query<SessionRow>('session-continuable', SELECT_CONTINUABLE_SESSION, [
      userId,
      clientId,
      now,
    ]);
    return row ? toSession(row) : null;
  }

  async write(write: SessionWrite): Promise<boolean> {
    assertMovesRevision(write);
    if (write.expectedRevision === null) return this.insert(write);
    const [written] = await this.updates.submit([write]);
    return written!;
  }

  async writeMany(writes: readonly SessionWrite[]): Promise<Set<string>> {
    if (writes.length === 0) return new Set();
    writes.forEach(assertMovesRevision);
    const written = await this.updates.submit(writes);
    return new Set(writes.filter((_, index) => !written[index]).map((write) => write.session.id));
  }

  /** The writes of several calls in one statement; each call gets its own outcomes back. */
  private async updateCalls(calls: readonly (readonly SessionWrite[])[]): Promise<boolean[][]> {
    const written = await this.update(calls.flat());
    let offset = 0;
    return calls.map((writes) => written.slice(offset, (offset += writes.length)));
  }

  /**
   * One statement for many writes; says of each whether it was written. Of two
   * writes to one session expecting the same revision, one wins and the other
   * is reported lost, as if they had come in two statements.
   */
  private async update(writes: readonly SessionWrite[]): Promise<boolean[]> {
    if (writes.length === 0) return [];
    const messages = await Promise.all(
      writes.map((write) => (write.update === null ? null : this.encoder.encode(write.update))),
    );
    // In session id order: statements that share sessions (several callers' writes merged,
    // overlapping fan-outs) then meet, and lock, them in the same order rather than opposite ones.
    const input = writes
      .map((write, ord) => updateInput(write, messages[ord]!, ord))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.ord - b.ord));
    const name = batchStatementName('sessions-update', input.length);
    const rows = await this.sql.query<{ ord: number }>(name, UPDATE_SESSIONS, [JSON.stringify(input)]);
    const written = new Set(rows.map((row) => row.ord));
    if (messages.some((message, ord) => message !== null && written.has(ord))) this.outbox?.notify();
    return writes.map((_, ord) => written.has(ord));
  }

  private async insert(write: SessionWrite): Promise<boolean> {
    const { session, update } = write;
    if (update === null) throw new Error('a new session is always published: its write needs an update');
    const message = await this.encoder.encode(update);
    const rows = await this.sql.query('session-insert', INSERT_SESSION, [
      session.id,
      session.userId,
      session.clientId,
      session.businessId,
      session.authLevel,
      session.rememberMe,
      session.createdAt,
      session.expiresAt,
      session.claimsVersion,
      session.revision,
      session.authorities,
      session.scope,
      session.tokenId,
      session.tokenExpiresAt,
      write.refreshToken?.issueHash ?? null,
      message.topic,
      message.key,
      message.value,
      JSON.stringify(encodeHeaders(message.headers)),
    ]);
    if (rows.length === 1) this.outbox?.notify();
    return rows.length === 1;
  }
}

/** One write as a row of the statement's input; `message` is null for a confirmation (nothing published). */
function updateInput(write: SessionWrite, message: ValuedOutboxMessage | null, ord: number) {
  const { session, refreshToken } = write;
  return {
    ord,
    id: session.id,
    expected: write.expectedRevision,
    revision: session.revision,
    claims_version: session.claimsVersion,
    business_id: session.businessId,
    status: session.status,
    revoked_reason: session.revokedReason,
    revoked_at: session.revokedAt?.toISOString() ?? null,
    remember_me: session.rememberMe,
    expires_at: session.expiresAt.toISOString(),
    authorities: session.authorities,
    scope: session.scope,
    token_id: session.tokenId,
    token_expires_at: session.tokenExpiresAt.toISOString(),
    refresh_change: refreshToken !== null,
    refresh_issue_hash: refreshToken?.issueHash ?? null,
    refresh_at: refreshToken ? refreshToken.at.toISOString() : null,
    topic: message?.topic ?? null,
    message_key: message?.key?.toString('base64') ?? null,
    value: message?.value.toString('base64') ?? null,
    headers: message ? encodeHeaders(message.headers) : null,
  };
}
