import {
  EMPTY_SCOPE,
  EventType,
  type AppliedChange,
  type Change,
  type ChangeEvent,
  type ChangeScope,
  type ChangeStore,
} from '@iam/domain';
import { MicroBatcher } from '../database/micro-batcher';
import type { Sql } from '../database/sql';
import { isDatabaseUnavailable } from '../errors/transient-database-error';
import { memberScope, normalizeScope, scopeOfGroups } from './change-scope.sql';
import {
  BUSINESS_MEMBER_ROLES,
  BUSINESS_MEMBERSHIPS,
  BUSINESS_ROLES,
  BUSINESS_STATUS,
  CLIENT_ROLES,
  GROUP_DEPENDENCIES,
  GROUP_MEMBERS,
  GROUP_ROLES,
  USER_LOCK,
  USER_ROLES,
  compareText,
  GROUP_DELETION,
  MEMBERSHIP_REMOVAL,
  newerThanStamp,
  raiseWatermark,
  tombstoneOlderFacts,
  writeEntityRegister,
  writeFact,
  type Stamp,
} from './lww-facts.sql';
import { claimEvent, completeEvents, recordScope, type NamedEntities } from './processed-events.sql';
import { applyUserRoleEvents, isUserRoleEvent, type UserRoleEvent } from './user-role-run.sql';

/** What a change did: null when nothing visible changed, else who it can affect. */
type Effect = Partial<ChangeScope> | null;

type ChangeOf<T extends Change['type']> = Extract<Change, { type: T }>;

/**
 * Locks the groups against a concurrent deletion (FOR SHARE conflicts with the
 * deletion's UPDATE, not with other facts about the group) and says whether the
 * event is older than a deletion of any of them: such an event is stale, so a
 * replayed fact cannot come back into a deleted group.
 */
const LOCK_GROUPS = `
SELECT deleted_at IS NOT NULL AND ${newerThanStamp('deleted_at', 'deleted_event_id', 2, 3)} AS deleted_later
FROM groups WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE`;

/**
 * Like LOCK_GROUPS, for a membership: a removal newer than the event makes its
 * role writes stale, whether or not a later addition followed it. The latest
 * change of an absent membership counts as a removal too: a removal applied by
 * the previous version (during a rolling deploy) records no `removed_at`.
 */
const LOCK_MEMBERSHIP = `
SELECT present,
       (NOT present AND ${newerThanStamp('changed_at', 'event_id', 3, 4)})
       OR (removed_at IS NOT NULL AND ${newerThanStamp('removed_at', 'removed_event_id', 3, 4)}) AS removed_later
FROM business_memberships WHERE business_id = $1 AND user_id = $2 FOR SHARE`;

/**
 * The role tables behind the Kafka consumer: each event is claimed and applied
 * last-writer-wins in one transaction, and when it changed something visible
 * the scope of sessions to re-issue is stored with it until `complete`.
 */
export class PgChangeStore implements ChangeStore {
  /**
   * Completions of concurrently processed events share one statement and one
   * commit: samples of pg_stat_activity during bench:events showed commits
   * waiting on the WAL flush as the largest wait, and a completion is the last
   * of three commits per event (bench:events throughput did not measurably move).
   */
  private readonly completions: MicroBatcher<readonly string[], void>;

  constructor(private readonly sql: Sql) {
    this.completions = new MicroBatcher<readonly string[], void>(
      async (calls) => {
        await completeEvents(this.sql, calls.flat());
        return calls.map(() => undefined);
      },
      { concurrency: 1, maxBatch: 256, weigh: (ids) => ids.length, sharedFailure: isDatabaseUnavailable },
    );
  }

  /** One event in a transaction of its own. */
  async apply(event: ChangeEvent): Promise<AppliedChange> {
    const [applied] = await this.applyAll([event]);
    return applied!;
  }

  /**
   * The events one after the other in one transaction: a run of independent
   * events (independentRuns) commits once. Rows are locked per event, in the
   * order the events come, so two runs that meet on a row can deadlock;
   * PostgreSQL then aborts one, which is retried whole like any transient failure.
   */
  applyAll(events: readonly ChangeEvent[]): Promise<AppliedChange[]> {
    return this.sql.transaction(async (sql) => {
      // The common run, user-role changes of different users, claims and writes in one statement.
      if (events.length > 1 && allUserRoleEventsOfDistinctUsers(events))
        return applyUserRoleEvents(sql, events);
      const applied: AppliedChange[] = [];
      for (const event of events) applied.push(await applyEvent(sql, event));
      return applied;
    });
  }

  complete(eventId: string): Promise<void> {
    return this.completeAll([eventId]);
  }

  completeAll(eventIds: readonly string[]): Promise<void> {
    return eventIds.length === 0 ? Promise.resolve() : this.completions.submit(eventIds);
  }
}

/** True when every event changes a user role, no two name the same user and no two share an id. */
function allUserRoleEventsOfDistinctUsers(events: readonly ChangeEvent[]): events is UserRoleEvent[] {
  const userRoleEvents = events.filter(isUserRoleEvent);
  return (
    userRoleEvents.length === events.length &&
    new Set(userRoleEvents.map((event) => event.change.data.userId)).size === events.length &&
    new Set(events.map((event) => event.id)).size === events.length
  );
}

/** Claims the event and applies its change, inside the caller's transaction. */
async function applyEvent(sql: Sql, event: ChangeEvent): Promise<AppliedChange> {
  const claimedScope = scopeNamedByEvent(event.change);
  const earlier = await claimEvent(sql, event, claimedScope, entitiesNamedByEvent(event.change));
  if (earlier) return earlier;

  const effect = await applyChange(sql, event.change, { at: event.timestamp, eventId: event.id });
  if (effect === null) {
    await completeEvents(sql, [event.id]);
    return { kind: 'no-effect' };
  }
  const scope = normalizeScope(effect);
  if (!sameScope(scope, claimedScope)) await recordScope(sql, event.id, scope);
  return { kind: 'fan-out', scope };
}

/**
 * The scope an event has if it changes anything, when the event alone says
 * it; null when it must be worked out from the role tables (group changes
 * reach the members of every dependent group). Must agree with what
 * `applyChange` returns as the effect; where it does not, the effect is
 * recorded after all.
 */
function scopeNamedByEvent(change: Change): ChangeScope | null {
  switch (change.type) {
    case EventType.UserRoleGranted:
    case EventType.UserRoleRevoked:
    case EventType.UserLocked:
      return normalizeScope({ userIds: [change.data.userId] });
    case EventType.UserUnlocked:
      return EMPTY_SCOPE;
    case EventType.ClientRoleGranted:
    case EventType.ClientRoleRevoked:
      return normalizeScope({ clientIds: [change.data.clientId] });
    case EventType.BusinessRoleGranted:
    case EventType.BusinessRoleRevoked:
    case EventType.BusinessDeactivated:
      return normalizeScope({ businessIds: [change.data.businessId] });
    case EventType.BusinessMemberAdded:
    case EventType.BusinessMemberRemoved:
    case EventType.BusinessMemberRoleGranted:
    case EventType.BusinessMemberRoleRevoked:
      return normalizeScope({ memberships: [change.data] });
    case EventType.GroupMemberAdded:
    case EventType.GroupMemberRemoved:
      return normalizeScope(memberScope(change.data.memberType, change.data.memberId));
    default:
      return null;
  }
}

/** The entity rows an event needs (its facts reference them); services have no table. */
function entitiesNamedByEvent(change: Change): NamedEntities {
  switch (change.type) {
    case EventType.UserRoleGranted:
    case EventType.UserRoleRevoked:
    case EventType.UserLocked:
    case EventType.UserUnlocked:
      return { user: [change.data.userId] };
    case EventType.ClientRoleGranted:
    case EventType.ClientRoleRevoked:
      return { client: [change.data.clientId] };
    case EventType.GroupRoleGranted:
    case EventType.GroupRoleRevoked:
    case EventType.GroupDeleted:
      return { group: [change.data.groupId] };
    case EventType.GroupMemberAdded:
    case EventType.GroupMemberRemoved: {
      const { groupId, memberType, memberId } = change.data;
      if (memberType === 'USER') return { group: [groupId], user: [memberId] };
      if (memberType === 'BUSINESS') return { group: [groupId], business: [memberId] };
      return { group: [groupId] };
    }
    case EventType.GroupDependencyAdded:
    case EventType.GroupDependencyRemoved:
      return { group: [change.data.groupId, change.data.dependsOnGroupId] };
    case EventType.BusinessRoleGranted:
    case EventType.BusinessRoleRevoked:
    case EventType.BusinessDeactivated:
      return { business: [change.data.businessId] };
    case EventType.BusinessMemberAdded:
    case EventType.BusinessMemberRemoved:
    case EventType.BusinessMemberRoleGranted:
    case EventType.BusinessMemberRoleRevoked:
      return { business: [change.data.businessId], user: [change.data.userId] };
  }
}

/** Normalized scopes list their members in one order, so equal scopes serialize alike. */
function sameScope(scope: ChangeScope, other: ChangeScope | null): boolean {
  return other !== null && JSON.stringify(scope) === JSON.stringify(other);
}

function applyChange(sql: Sql, change: Change, stamp: Stamp): Promise<Effect> {
  switch (change.type) {
    case EventType.UserRoleGranted:
    case EventType.UserRoleRevoked:
      return userRole(sql, change, stamp);
    case EventType.UserLocked:
    case EventType.UserUnlocked:
      return userLock(sql, change, stamp);
    case EventType.ClientRoleGranted:
    case EventType.ClientRoleRevoked:
      return clientRole(sql, change, stamp);
    case EventType.GroupRoleGranted:
    case EventType.GroupRoleRevoked:
      return groupRole(sql, change, stamp);
    case EventType.GroupMemberAdded:
    case EventType.GroupMemberRemoved:
      return groupMember(sql, change, stamp);
    case EventType.GroupDependencyAdded:
    case EventType.GroupDependencyRemoved:
      return groupDependency(sql, change, stamp);
    case EventType.GroupDeleted:
      return groupDeleted(sql, change, stamp);
    case EventType.BusinessRoleGranted:
    case EventType.BusinessRoleRevoked:
      return businessRole(sql, change, stamp);
    case EventType.BusinessMemberAdded:
      return businessMemberAdded(sql, change, stamp);
    case EventType.BusinessMemberRemoved:
      return businessMemberRemoved(sql, change, stamp);
    case EventType.BusinessMemberRoleGranted:
    case EventType.BusinessMemberRoleRevoked:
      return businessMemberRole(sql, change, stamp);
    case EventType.BusinessDeactivated:
      return businessDeactivated(sql, change, stamp);
  }
}

async function userRole(
  sql: Sql,
  change: ChangeOf<typeof EventType.UserRoleGranted | typeof EventType.UserRoleRevoked>,
  stamp: Stamp,
): Promise<Effect> {
  const { userId, role } = change.data;
  const write = await writeFact(
    sql,
    USER_ROLES,
    [userId, role],
    change.type === EventType.UserRoleGranted,
    stamp,
  );
  return write.flipped ? { userIds: [userId] } : null;
}

async function userLock(
  sql: Sql,
  change: ChangeOf<typeof EventType.UserLocked | typeof EventType.UserUnlocked>,
  stamp: Stamp,
): Promise<Effect> {
  const { userId } = change.data;
  const locked = change.type === EventType.UserLocked;
  if (!(await writeEntityRegister(sql, USER_LOCK, userId, locked, stamp))) return null;
  // Locking ends the user's sessions (the caller revokes them); an unlock finds
  // none left to re-issue, so its scope is empty and the caller just completes it.
  return locked ? { userIds: [userId] } : EMPTY_SCOPE;
}

async function clientRole(
  sql: Sql,
  change: ChangeOf<typeof EventType.ClientRoleGranted | typeof EventType.ClientRoleRevoked>,
  stamp: Stamp,
): Promise<Effect> {
  const { clientId, role } = change.data;
  const write = await writeFact(
    sql,
    CLIENT_ROLES,
    [clientId, role],
    change.type === EventType.ClientRoleGranted,
    stamp,
  );
  return write.flipped ? { clientIds: [clientId] } : null;
}

/** Share-locks the groups (the claim created them); true when a deletion newer than the event makes it stale. */
async function lockGroups(sql: Sql, groupIds: readonly string[], stamp: Stamp): Promise<boolean> {
  const rows = await sql.query<{ deleted_later: boolean }>('change-lock-groups', LOCK_GROUPS, [
    groupIds,
    stamp.at,
    stamp.eventId,
  ]);
  return rows.some((row) => row.deleted_later);
}

async function groupRole(
  sql: Sql,
  change: ChangeOf<typeof EventType.GroupRoleGranted | typeof EventType.GroupRoleRevoked>,
  stamp: Stamp,
): Promise<Effect> {
  const { groupId, role } = change.data;
  if (await lockGroups(sql, [groupId], stamp)) return null;
  const write = await writeFact(
    sql,
    GROUP_ROLES,
    [groupId, role],
    change.type === EventType.GroupRoleGranted,
    stamp,
  );
  return write.flipped ? scopeOfGroups(sql, [groupId]) : null;
}

async function groupMember(
  sql: Sql,
  change: ChangeOf<typeof EventType.GroupMemberAdded | typeof EventType.GroupMemberRemoved>,
  stamp: Stamp,
): Promise<Effect> {
  const { groupId, memberType, memberId } = change.data;
  if (await lockGroups(sql, [groupId], stamp)) return null;
  const write = await writeFact(
    sql,
    GROUP_MEMBERS,
    [groupId, memberType, memberId],
    change.type === EventType.GroupMemberAdded,
    stamp,
  );
  return write.flipped ? memberScope(memberType, memberId) : null;
}

async function groupDependency(
  sql: Sql,
  change: ChangeOf<typeof EventType.GroupDependencyAdded | typeof EventType.GroupDependencyRemoved>,
  stamp: Stamp,
): Promise<Effect> {
  const { groupId, dependsOnGroupId } = change.data;
  // The dependency is a fact about both groups: deleting either one ends it.
  if (await lockGroups(sql, [groupId, dependsOnGroupId], stamp)) return null;
  const write = await writeFact(
    sql,
    GROUP_DEPENDENCIES,
    [groupId, dependsOnGroupId],
    change.type === EventType.GroupDependencyAdded,
    stamp,
  );
  // The dependent group and everything depending on it gain or lose the other group's roles.
  return write.flipped ? scopeOfGroups(sql, [groupId]) : null;
}

async function groupDeleted(
  sql: Sql,
  change: ChangeOf<typeof EventType.GroupDeleted>,
  stamp: Stamp,
): Promise<Effect> {
  const { groupId } = change.data;
  // Raising the watermark takes the group's row lock, which waits for every
  // transaction writing a fact about the group (they hold it FOR SHARE) and
  // keeps new ones out until this one commits.
  // A later deletion already tombstoned everything this one would.
  if (!(await raiseWatermark(sql, GROUP_DELETION, [groupId], stamp))) return null;

  // Before tombstoning: afterwards the dependents are no longer linked to the group.
  const scope = await scopeOfGroups(sql, [groupId]);

  // Another group's deletion also tombstones the dependencies between the two:
  // locking them in key order first means the two never wait for each other crosswise.
  await sql.query(
    'change-group-delete-lock-dependencies',
    `SELECT 1 FROM group_dependencies WHERE group_id = $1 OR depends_on_group_id = $1
     ORDER BY group_id, depends_on_group_id FOR NO KEY UPDATE`,
    [groupId],
  );
  const roles = await tombstoneOlderFacts(
    sql,
    'change-group-delete-roles',
    GROUP_ROLES,
    'f.group_id = $3',
    [groupId],
    stamp,
  );
  const members = await tombstoneOlderFacts(
    sql,
    'change-group-delete-members',
    GROUP_MEMBERS,
    'f.group_id = $3',
    [groupId],
    stamp,
  );
  const dependencies = await tombstoneOlderFacts(
    sql,
    'change-group-delete-dependencies',
    GROUP_DEPENDENCIES,
    'f.group_id = $3 OR f.depends_on_group_id = $3',
    [groupId],
    stamp,
  );
  return roles + members + dependencies > 0 ? scope : null;
}

async function businessRole(
  sql: Sql,
  change: ChangeOf<typeof EventType.BusinessRoleGranted | typeof EventType.BusinessRoleRevoked>,
  stamp: Stamp,
): Promise<Effect> {
  const { businessId, role } = change.data;
  const write = await writeFact(
    sql,
    BUSINESS_ROLES,
    [businessId, role],
    change.type === EventType.BusinessRoleGranted,
    stamp,
  );
  return write.flipped ? { businessIds: [businessId] } : null;
}

async function businessMemberAdded(
  sql: Sql,
  change: ChangeOf<typeof EventType.BusinessMemberAdded>,
  stamp: Stamp,
): Promise<Effect> {
  const { businessId, userId, roles } = change.data;
  const membership = await writeFact(sql, BUSINESS_MEMBERSHIPS, [businessId, userId], true, stamp);
  // A later removal outranks this addition and, in order, would have revoked
  // the roles it grants: granting them now would resurrect them.
  if (!membership.won && membership.before === false) return null;

  let rolesFlipped = false;
  // Key order, so concurrent writers of the same roles queue instead of deadlocking.
  for (const role of [...new Set(roles)].sort(compareText)) {
    const write = await writeFact(sql, BUSINESS_MEMBER_ROLES, [businessId, userId, role], true, stamp);
    rolesFlipped ||= write.flipped;
  }
  const member = membership.won || membership.before === true;
  return membership.flipped || (member && rolesFlipped) ? { memberships: [{ businessId, userId }] } : null;
}

async function businessMemberRemoved(
  sql: Sql,
  change: ChangeOf<typeof EventType.BusinessMemberRemoved>,
  stamp: Stamp,
): Promise<Effect> {
  const { businessId, userId } = change.data;
  // Writing the membership locks it, which keeps role writers (FOR SHARE on it) out.
  const membership = await writeFact(sql, BUSINESS_MEMBERSHIPS, [businessId, userId], false, stamp);
  // Kept whichever order removals arrive in: role events older than the latest one are stale.
  await raiseWatermark(sql, MEMBERSHIP_REMOVAL, [businessId, userId], stamp);
  // Roles granted before the removal end with it, even when a later addition
  // already outranks the removal itself; roles granted after it stay.
  const rolesRevoked = await tombstoneOlderFacts(
    sql,
    'change-member-remove-roles',
    BUSINESS_MEMBER_ROLES,
    'f.business_id = $3 AND f.user_id = $4',
    [businessId, userId],
    stamp,
  );
  const stillMember = !membership.won && membership.before === true;
  return membership.flipped || (stillMember && rolesRevoked > 0)
    ? { memberships: [{ businessId, userId }] }
    : null;
}

async function businessMemberRole(
  sql: Sql,
  change: ChangeOf<typeof EventType.BusinessMemberRoleGranted | typeof EventType.BusinessMemberRoleRevoked>,
  stamp: Stamp,
): Promise<Effect> {
  const { businessId, userId, role } = change.data;
  // The role row needs its membership (foreign key). A role on a non-member is
  // kept but invisible until an addition; the placeholder's register
  // (-infinity, '') loses to any real event, so it never outranks one.
  await sql.query(
    'change-membership-placeholder',
    `INSERT INTO business_memberships (business_id, user_id, present, changed_at, event_id)
     VALUES ($1, $2, false, '-infinity', '')
     ON CONFLICT (business_id, user_id) DO NOTHING`,
    [businessId, userId],
  );
  const [membership] = await sql.query<{ present: boolean; removed_later: boolean }>(
    'change-lock-membership',
    LOCK_MEMBERSHIP,
    [businessId, userId, stamp.at, stamp.eventId],
  );
  if (!membership) throw new Error(`membership ${businessId}/${userId} is missing`);
  if (membership.removed_later) return null;
  const write = await writeFact(
    sql,
    BUSINESS_MEMBER_ROLES,
    [businessId, userId, role],
    change.type === EventType.BusinessMemberRoleGranted,
    stamp,
  );
  return write.flipped && membership.present ? { memberships: [{ businessId, userId }] } : null;
}

async function businessDeactivated(
  sql: Sql,
  change: ChangeOf<typeof EventType.BusinessDeactivated>,
  stamp: Stamp,
): Promise<Effect> {
  const { businessId } = change.data;
  const flipped = await writeEntityRegister(sql, BUSINESS_STATUS, businessId, false, stamp);
  return flipped ? { businessIds: [businessId] } : null;
}
