import type { AffectedSessionFinder, ChangeScope, Session } from '@iam/domain';
import { groupClosureCtes } from '../changes/change-scope.sql';
import type { Sql } from '../database/sql';
import { SESSION_COLUMNS, toSession, type SessionRow } from './session-rows';

/** One way a session can be in a scope: an index lookup on sessions. */
interface ScopeBranch {
  readonly key: string;
  /** Its sessions are one user's (or a user's as a business member): few, whatever the table's size. */
  readonly perUser: boolean;
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
    perUser: true,
    applies: (scope) => scope.userIds.length > 0,
    sql: (n) => `SELECT id FROM sessions WHERE user_id = ANY($${n}::text[])`,
    values: (scope) => [scope.userIds],
    arity: 1,
  },
  {
    key: 'b',
    perUser: false,
    applies: (scope) => scope.businessIds.length > 0,
    sql: (n) => `SELECT id FROM sessions WHERE business_id = ANY($${n}::text[])`,
    values: (scope) => [scope.businessIds],
    arity: 1,
  },
  {
    key: 'c',
    perUser: false,
    applies: (scope) => scope.clientIds.length > 0,
    sql: (n) => `SELECT id FROM sessions WHERE client_id = ANY($${n}::text[])`,
    values: (scope) => [scope.clientIds],
    arity: 1,
  },
  {
    key: 's',
    perUser: false,
    applies: (scope) => scope.serviceIds.length > 0,
    sql: (n) => `SELECT x.id FROM sessions x JOIN clients c ON c.id = x.client_id
                 WHERE COALESCE(c.service_id, c.id) = ANY($${n}::text[])`,
    values: (scope) => [scope.serviceIds],
    arity: 1,
  },
  {
    key: 'm',
    perUser: true,
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
    perUser: false,
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
 * Two shapes, by how many sessions the scope can hold:
 *
 * - Per-user scopes (every role event of a user, and runs of them): the ids
 *   are collected into an array first (an InitPlan, which the planner cannot
 *   reorder), the sessions read by primary key, and only then filtered.
 *   Without statistics the planner prices a range condition at a third of the
 *   table, so with `s.id IN (lookups) AND s.expires_at > $now …` it started
 *   from every live session and tested each against the lookups: 29 ms for 3
 *   users' sessions among 11,000, against 0.09–0.25 ms this way, and over half
 *   of PostgreSQL's time in bench:events (b). `OFFSET 0` keeps the filters out
 *   of the subqueries (PostgreSQL pushes no condition into a subquery with a
 *   LIMIT or OFFSET); without it the planner still ANDed the array with the
 *   whole expiry index. A join with the lookups instead of the array was
 *   planned as a sequential scan of a small, bloated sessions table.
 * - Scopes that can hold a large share of all sessions (businesses, clients,
 *   services, groups) keep the semi-join. An array of 100,000 ids is searched
 *   id by id, and linearly wherever the bitmap over it goes lossy (107 s for
 *   one page at a 64 kB `work_mem`, against 0.47 s at 4 MB); with
 *   statistics the semi-join's first page of such a scope took 16 ms against
 *   the array's 504 ms (the review of 8eac632).
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
  const [now, after, limit] = [`$${next}`, `$${next + 1}::uuid`, `$${next + 2}`];
  const perUser = branches.every((branch) => branch.perUser);
  // The sessions to page through, and the condition that puts them in scope.
  const [source, inScope] = perUser
    ? [
        `(
  SELECT * FROM sessions
  WHERE id = ANY (ARRAY(
    SELECT l.id FROM (${lookups.join('\n      UNION ')}
      OFFSET 0) AS l
    WHERE ${after} IS NULL OR l.id > ${after}))
  OFFSET 0) AS s`,
        'true',
      ]
    : [
        'sessions s',
        `s.id IN (${lookups.join('\n    UNION ')})
  AND (${after} IS NULL OR s.id > ${after})`,
      ];
  const text = `${ctes.length > 0 ? `WITH RECURSIVE ${ctes.join(',\n')}` : ''}
SELECT ${SESSION_COLUMNS}
FROM ${source}
WHERE ${inScope}
  AND s.status = 'ACTIVE' AND s.expires_at > ${now}
ORDER BY s.id
LIMIT ${limit}`;
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
