import type { AffectedSessionFinder, ChangeScope, Session } from '@iam/domain';
import { groupClosureCtes } from '../changes/change-scope.sql';
import type { Sql } from '../database/sql';
import { SESSION_COLUMNS, toSession, type SessionRow } from './session-rows';

/** One way a session can be in a scope: an index lookup on sessions. */
interface ScopeBranch {
  readonly key: string;
  readonly applies: (scope: ChangeScope) => boolean;
  /** Its placeholders are numbered from `first`; `values` gives one value for each. */
  readonly sql: (first: number) => string;
  /** Common table expressions the lookup reads, placed before the statement. */
  readonly ctes?: (first: number) => string;
  readonly values: (scope: ChangeScope) => unknown[];
  readonly arity: number;
}

/** Sessions whose user, business or client's service is one of the group closure's members. */
const SESSIONS_OF_GROUP_MEMBERS = `SELECT id FROM sessions WHERE user_id IN
                   (SELECT member_id FROM group_closure_members WHERE member_type = 'USER')
                 UNION SELECT id FROM sessions WHERE business_id IN
                   (SELECT member_id FROM group_closure_members WHERE member_type = 'BUSINESS')
                 UNION SELECT x.id FROM sessions x JOIN clients c ON c.id = x.client_id
                 WHERE COALESCE(c.service_id, c.id) IN
                   (SELECT member_id FROM group_closure_members WHERE member_type = 'SERVICE')`;

const BRANCHES: readonly ScopeBranch[] = [
  {
    key: 'u',
    applies: (scope) => scope.userIds.length > 0,
    sql: (n) => `SELECT id FROM sessions WHERE user_id = ANY($${n}::text[])`,
    values: (scope) => [scope.userIds],
    arity: 1,
  },
  {
    key: 'b',
    applies: (scope) => scope.businessIds.length > 0,
    sql: (n) => `SELECT id FROM sessions WHERE business_id = ANY($${n}::text[])`,
    values: (scope) => [scope.businessIds],
    arity: 1,
  },
  {
    key: 'c',
    applies: (scope) => scope.clientIds.length > 0,
    sql: (n) => `SELECT id FROM sessions WHERE client_id = ANY($${n}::text[])`,
    values: (scope) => [scope.clientIds],
    arity: 1,
  },
  {
    key: 's',
    applies: (scope) => scope.serviceIds.length > 0,
    sql: (n) => `SELECT x.id FROM sessions x JOIN clients c ON c.id = x.client_id
                 WHERE COALESCE(c.service_id, c.id) = ANY($${n}::text[])`,
    values: (scope) => [scope.serviceIds],
    arity: 1,
  },
  {
    key: 'm',
    applies: (scope) => scope.memberships.length > 0,
    sql: (n) => `SELECT x.id FROM sessions x
                 JOIN unnest($${n}::text[], $${n + 1}::text[]) AS m(business_id, user_id)
                   ON x.business_id = m.business_id AND x.user_id = m.user_id`,
    values: (scope) => [
      scope.memberships.map((membership) => membership.businessId),
      scope.memberships.map((membership) => membership.userId),
    ],
    arity: 2,
  },
  {
    key: 'g',
    applies: (scope) => scope.groupIds.length > 0,
    sql: () => SESSIONS_OF_GROUP_MEMBERS,
    ctes: (n) => groupClosureCtes(n),
    values: (scope) => [scope.groupIds],
    arity: 1,
  },
];

interface Statement {
  readonly text: string;
  readonly branches: readonly ScopeBranch[];
}

/**
 * Live sessions in the scope, a page at a time in id order. The statement
 * holds only the branches the scope uses: with all of them, the planner priced
 * the unused ones (a service's clients → every session of them) as thousands
 * of rows and walked the whole sessions table in id order to merge with them —
 * 50 ms for one user's sessions among 50,000, against well under 1 ms now.
 *
 * The ids in scope are collected first, into an array (an InitPlan, which the
 * planner cannot reorder), the sessions then read by primary key, and only
 * then filtered. Without statistics the planner prices every range condition
 * as a third of the table, so it used them as indexes: written as
 * `s.id IN (lookups) AND s.expires_at > $now …`, it started from every live
 * session and tested each against the lookups (29 ms for 3 users' sessions
 * among 11,000, against 0.09–0.25 ms now; in bench:events (b) over half of
 * PostgreSQL's time); with the ids in an array, it still ANDed the array with
 * all of the expiry index and `id > $after` with a range of the primary key.
 * `OFFSET 0` keeps those filters out of the subqueries (PostgreSQL does not
 * push conditions into a subquery with a LIMIT or OFFSET). Joining the
 * lookups to sessions instead of the array let the planner hash-join a
 * sequential scan of a small, bloated sessions table (PostgreSQL at 0.8–1.0
 * cores in bench:events (b)). The array's price is on huge scopes: a page of
 * a 100,000-session scope took ~0.6 s, against 0.3–0.5 s before (on two
 * parallel workers) and ~0.4 s with the join; every page looks the whole
 * scope up again, as it did before.
 */
function statementFor(branches: readonly ScopeBranch[]): Statement {
  let next = 1;
  const ctes: string[] = [];
  const lookups = branches.map((branch) => {
    const sql = branch.sql(next);
    if (branch.ctes) ctes.push(branch.ctes(next));
    next += branch.arity;
    return sql;
  });
  const text = `${ctes.length > 0 ? `WITH RECURSIVE ${ctes.join(',\n')}` : ''}
SELECT ${SESSION_COLUMNS}
FROM (
  SELECT * FROM sessions
  WHERE id = ANY (ARRAY(
    SELECT l.id FROM (${lookups.join('\n      UNION ')}
      OFFSET 0) AS l
    WHERE $${next + 1}::uuid IS NULL OR l.id > $${next + 1}::uuid))
  OFFSET 0) AS s
WHERE s.status = 'ACTIVE' AND s.expires_at > $${next}
ORDER BY s.id
LIMIT $${next + 2}`;
  return { text, branches };
}

/** One statement text per combination of branches (at most 63), built on first use. */
const statements = new Map<string, Statement>();

function statementForScope(scope: ChangeScope): Statement | null {
  const branches = BRANCHES.filter((branch) => branch.applies(scope));
  if (branches.length === 0) return null;
  const key = branches.map((branch) => branch.key).join('');
  let statement = statements.get(key);
  if (!statement) {
    statement = statementFor(branches);
    statements.set(key, statement);
  }
  return statement;
}

export class PgAffectedSessionFinder implements AffectedSessionFinder {
  constructor(private readonly sql: Sql) {}

  async findAffected(
    scope: ChangeScope,
    afterSessionId: string | null,
    limit: number,
    now: Date,
  ): Promise<Session[]> {
    const statement = statementForScope(scope);
    if (!statement) return [];
    // Unnamed, so planned with this scope's values every time: a cached generic plan
    // cannot know how few sessions the ids name, and walked every session in id order
    // (about 1,000 tuples read per event among 1,000 sessions in bench:events).
    const rows = await this.sql.query<SessionRow>(null, statement.text, [
      ...statement.branches.flatMap((branch) => branch.values(scope)),
      now,
      afterSessionId,
      limit,
    ]);
    return rows.map(toSession);
  }
}
