import type { ChangeScope, GroupMemberType } from '@iam/domain';
import type { Sql } from '../database/sql';
import { compareText } from './lww-facts.sql';

type Membership = ChangeScope['memberships'][number];

const sortedUnique = (values: readonly string[]): string[] => [...new Set(values)].sort(compareText);

/**
 * A scope with every list present, deduplicated and sorted: the same change
 * always stores the same jsonb, and the fan-out pages through it predictably.
 */
export function normalizeScope(scope: Partial<ChangeScope>): ChangeScope {
  const memberships = new Map<string, Membership>();
  for (const membership of scope.memberships ?? []) {
    memberships.set(`${membership.businessId}\u0000${membership.userId}`, {
      businessId: membership.businessId,
      userId: membership.userId,
    });
  }
  return {
    userIds: sortedUnique(scope.userIds ?? []),
    businessIds: sortedUnique(scope.businessIds ?? []),
    clientIds: sortedUnique(scope.clientIds ?? []),
    serviceIds: sortedUnique(scope.serviceIds ?? []),
    memberships: [...memberships.values()].sort(
      (a, b) => compareText(a.businessId, b.businessId) || compareText(a.userId, b.userId),
    ),
    groupIds: sortedUnique(scope.groupIds ?? []),
  };
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw new Error(`stored change scope: ${field} is not a list of strings`);
  }
  return value;
}

/** Reads a scope back from processed_events.scope; a malformed one is a bug, not something to guess about. */
export function parseStoredScope(value: unknown): ChangeScope {
  if (typeof value !== 'object' || value === null) throw new Error('stored change scope is not an object');
  const stored = value as Record<string, unknown>;
  const memberships = stored.memberships;
  if (!Array.isArray(memberships)) throw new Error('stored change scope: memberships is not a list');
  return normalizeScope({
    userIds: stringList(stored.userIds, 'userIds'),
    businessIds: stringList(stored.businessIds, 'businessIds'),
    clientIds: stringList(stored.clientIds, 'clientIds'),
    serviceIds: stringList(stored.serviceIds, 'serviceIds'),
    memberships: memberships.map((membership: unknown) => {
      const pair = membership as { businessId?: unknown; userId?: unknown } | null;
      if (typeof pair?.businessId !== 'string' || typeof pair.userId !== 'string') {
        throw new Error('stored change scope: a membership is not { businessId, userId }');
      }
      return { businessId: pair.businessId, userId: pair.userId };
    }),
    // Scopes stored before groups were looked up again after the commit have none.
    groupIds: stored.groupIds === undefined ? [] : stringList(stored.groupIds, 'groupIds'),
  });
}

/** The scope of one group member: its kind says which list it belongs to. */
export function memberScope(memberType: GroupMemberType, memberId: string): Partial<ChangeScope> {
  switch (memberType) {
    case 'USER':
      return { userIds: [memberId] };
    case 'BUSINESS':
      return { businessIds: [memberId] };
    case 'SERVICE':
      return { serviceIds: [memberId] };
  }
}

/**
 * `group_closure`: the groups in `$<param>` and every group that depends on
 * them, directly or not, and `group_closure_members`: their present members.
 * UNION (not UNION ALL) drops groups already reached, so a dependency cycle
 * ends the recursion. Shared by the change's own scope and the fan-out's
 * lookup after the commit, so the two follow dependencies alike.
 */
export function groupClosureCtes(param: number): string {
  return `group_closure(group_id) AS (
  SELECT unnest($${param}::text[])
  UNION
  SELECT d.group_id
  FROM group_dependencies d JOIN group_closure a ON d.depends_on_group_id = a.group_id
  WHERE d.present
), group_closure_members AS (
  SELECT DISTINCT m.member_type::text AS member_type, m.member_id
  FROM group_members m JOIN group_closure a ON m.group_id = a.group_id
  WHERE m.present
)`;
}

const GROUPS_AND_MEMBERS = `
WITH RECURSIVE ${groupClosureCtes(1)}
SELECT 'GROUP' AS member_type, group_id AS member_id FROM group_closure
UNION ALL
SELECT member_type, member_id FROM group_closure_members`;

/**
 * Whoever gains or loses roles when these groups' roles change: the present
 * members of the groups and of every group depending on them, as this
 * transaction sees them, and those groups themselves, for the lookup after the
 * commit (a group deletion needs both: it tombstones the very links and
 * memberships the lookup would follow).
 */
export async function scopeOfGroups(sql: Sql, groupIds: readonly string[]): Promise<Partial<ChangeScope>> {
  const rows = await sql.query<{ member_type: GroupMemberType | 'GROUP'; member_id: string }>(
    'change-scope-group-dependents',
    GROUPS_AND_MEMBERS,
    [groupIds],
  );
  const scope = {
    userIds: [] as string[],
    businessIds: [] as string[],
    serviceIds: [] as string[],
    groupIds: [] as string[],
  };
  for (const row of rows) {
    if (row.member_type === 'GROUP') scope.groupIds.push(row.member_id);
    else if (row.member_type === 'USER') scope.userIds.push(row.member_id);
    else if (row.member_type === 'BUSINESS') scope.businessIds.push(row.member_id);
    else scope.serviceIds.push(row.member_id);
  }
  return scope;
}
