import type { Session, SessionWithRoles, SessionWithRolesReader, Subject } from '@iam/domain';
import { batchStatementName } from '../database/batch-statement';
import { MicroBatcher, type MicroBatcherOptions } from '../database/micro-batcher';
import type { Sql } from '../database/sql';
import { isDatabaseUnavailable } from '../errors/transient-database-error';
import {
  snapshotParameters,
  subjectParameters,
  toRoleSnapshot,
  type SnapshotRow,
} from '../roles/pg-role-snapshot.loader';
import {
  LOAD_SESSION_WITH_ROLE_SNAPSHOT,
  LOAD_SESSIONS_WITH_ROLE_SNAPSHOT,
} from '../roles/role-snapshot.sql';
import { SESSION_COLUMNS, isSessionId, toSession, type SessionRow } from './session-rows';

const ONE = LOAD_SESSION_WITH_ROLE_SNAPSHOT(SESSION_COLUMNS);
const MANY = LOAD_SESSIONS_WITH_ROLE_SNAPSHOT(SESSION_COLUMNS);

/**
 * Concurrent renewals' reads share statements, one in flight, like their
 * writes (sessionWriteBatching); a read waits for no row lock, so it needs
 * no room made for the reads behind it.
 */
export const SESSION_READ_BATCHING: MicroBatcherOptions = {
  concurrency: 1,
  maxBatch: 64,
  sharedFailure: isDatabaseUnavailable,
};

type JsonSessionRow = Omit<SessionRow, 'revoked_at' | 'created_at' | 'expires_at' | 'token_expires_at'> & {
  revoked_at: string | null;
  created_at: string;
  expires_at: string;
  token_expires_at: string;
};

/** The session as row_to_json renders it: timestamps arrive as text. */
function sessionFromJson(row: JsonSessionRow): Session {
  return toSession({
    ...row,
    revoked_at: row.revoked_at === null ? null : new Date(row.revoked_at),
    created_at: new Date(row.created_at),
    expires_at: new Date(row.expires_at),
    token_expires_at: new Date(row.token_expires_at),
  });
}

interface Read {
  readonly sessionId: string | null;
  readonly subject: Subject;
}

/**
 * A session and its subject's role facts in one statement: each statement is
 * a socket write and read, and on these machines system calls, not SQL, are
 * what a renewal spends most on. Concurrent reads go out together: their
 * subjects share one snapshot (each renewal resolves only its own subject's
 * facts from it) and their sessions come back as a list.
 */
export class PgSessionWithRolesReader implements SessionWithRolesReader {
  private readonly reads: MicroBatcher<Read, SessionWithRoles>;

  constructor(
    private readonly sql: Sql,
    batching: MicroBatcherOptions = SESSION_READ_BATCHING,
  ) {
    this.reads = new MicroBatcher<Read, SessionWithRoles>((reads) => this.readAll(reads), batching);
  }

  read(sessionId: string, subject: Subject): Promise<SessionWithRoles> {
    return this.reads.submit({ sessionId: isSessionId(sessionId) ? sessionId : null, subject });
  }

  private async readAll(reads: readonly Read[]): Promise<SessionWithRoles[]> {
    if (reads.length === 1) return [await this.readOne(reads[0]!)];
    const sessionIds = reads.flatMap((read) => (read.sessionId === null ? [] : [read.sessionId]));
    const [row] = await this.sql.query<SnapshotRow & { sessions: JsonSessionRow[] }>(
      batchStatementName('sessions-with-role-snapshot', reads.length),
      MANY,
      [...snapshotParameters(reads.map((read) => read.subject)), sessionIds],
    );
    if (!row) throw new Error('the sessions and role snapshot query returned no row');
    const snapshot = toRoleSnapshot(row);
    const sessions = new Map(row.sessions.map((session) => [session.id, sessionFromJson(session)]));
    return reads.map((read) => ({
      session: read.sessionId === null ? null : (sessions.get(read.sessionId) ?? null),
      snapshot,
    }));
  }

  private async readOne({ sessionId, subject }: Read): Promise<SessionWithRoles> {
    const [row] = await this.sql.query<SnapshotRow & { session: JsonSessionRow | null }>(
      'session-with-role-snapshot',
      ONE,
      [...subjectParameters(subject), sessionId],
    );
    if (!row) throw new Error('the session and role snapshot query returned no row');
    return { session: row.session ? sessionFromJson(row.session) : null, snapshot: toRoleSnapshot(row) };
  }
}
