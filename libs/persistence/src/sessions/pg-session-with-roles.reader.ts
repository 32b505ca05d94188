import type { Session, SessionWithRoles, SessionWithRolesReader, Subject } from '@iam/domain';
import type { Sql } from '../database/sql';
import { subjectParameters, toRoleSnapshot, type SnapshotRow } from '../roles/pg-role-snapshot.loader';
import { LOAD_SESSION_WITH_ROLE_SNAPSHOT } from '../roles/role-snapshot.sql';
import { SESSION_COLUMNS, isSessionId, toSession, type SessionRow } from './session-rows';

const QUERY = LOAD_SESSION_WITH_ROLE_SNAPSHOT(SESSION_COLUMNS);

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

/**
 * A session and its subject's role facts in one statement: each statement is
 * a socket write and read, and on these machines system calls, not SQL, are
 * what a renewal spends most on.
 */
export class PgSessionWithRolesReader implements SessionWithRolesReader {
  constructor(private readonly sql: Sql) {}

  async read(sessionId: string, subject: Subject): Promise<SessionWithRoles> {
    const id = isSessionId(sessionId) ? sessionId : null;
    const [row] = await this.sql.query<SnapshotRow & { session: JsonSessionRow | null }>(
      'session-with-role-snapshot',
      QUERY,
      [...subjectParameters(subject), id],
    );
    if (!row) throw new Error('the session and role snapshot query returned no row');
    return { session: row.session ? sessionFromJson(row.session) : null, snapshot: toRoleSnapshot(row) };
  }
}
