import type { RoleSnapshot } from '../roles/role-snapshot';
import type { RoleSnapshotLoader, Subject } from '../roles/role-snapshot-loader';
import type { Session } from '../sessions/session';
import type { SessionRepository } from '../sessions/session-repository';

export interface SessionWithRoles {
  readonly session: Session | null;
  readonly snapshot: RoleSnapshot;
}

/**
 * A session and the role facts of a subject, read together: a renewal with an
 * access token knows its subject from the token, so one read can serve both.
 */
export interface SessionWithRolesReader {
  read(sessionId: string, subject: Subject): Promise<SessionWithRoles>;
}

/**
 * The reader made of the two ports, for adapters without a combined one. The
 * session is read first: facts read before the revision a write is checked
 * against could miss a change whose fan-out then confirmed the session
 * unnoticed (see ApplyChangeUseCase.settle).
 */
export function sessionWithRolesFrom(
  sessions: SessionRepository,
  roles: RoleSnapshotLoader,
): SessionWithRolesReader {
  return {
    async read(sessionId, subject) {
      const session = await sessions.findById(sessionId);
      return { session, snapshot: await roles.load([subject]) };
    },
  };
}
