import type { AffectedSessionFinder, ChangeScope, Session } from '@iam/domain';
import type { Sql } from '../database/sql';
import { SESSION_COLUMNS, toSession, type SessionRow } from './session-rows';

/**
 * Live sessions in a change's scope, a page at a time in id order. Each branch
 * of the union is an index lookup, so a scope of a few users stays cheap however
 * many sessions the table holds.
 */
const FIND_AFFECTED = `
SELECT ${SESSION_COLUMNS}
FROM sessions s
WHERE s.id IN (
    SELECT id FROM sessions WHERE user_id = ANY($1::text[])
    UNION SELECT id FROM sessions WHERE business_id = ANY($2::text[])
    UNION SELECT id FROM sessions WHERE client_id = ANY($3::text[])
    UNION SELECT x.id FROM sessions x JOIN clients c ON c.id = x.client_id
          WHERE COALESCE(c.service_id, c.id) = ANY($4::text[])
    UNION SELECT x.id FROM sessions x
          JOIN unnest($5::text[], $6::text[]) AS m(business_id, user_id)
            ON x.business_id = m.business_id AND x.user_id = m.user_id)
  AND s.status = 'ACTIVE' AND s.expires_at > $7
  AND ($8::uuid IS NULL OR s.id > $8::uuid)
ORDER BY s.id
LIMIT $9`;

export class PgAffectedSessionFinder implements AffectedSessionFinder {
  constructor(private readonly sql: Sql) {}

  async findAffected(
    scope: ChangeScope,
    afterSessionId: string | null,
    limit: number,
    now: Date,
  ): Promise<Session[]> {
    const rows = await this.sql.query<SessionRow>('sessions-affected', FIND_AFFECTED, [
      scope.userIds,
      scope.businessIds,
      scope.clientIds,
      scope.serviceIds,
      scope.memberships.map((membership) => membership.businessId),
      scope.memberships.map((membership) => membership.userId),
      now,
      afterSessionId,
      limit,
    ]);
    return rows.map(toSession);
  }
}
