import { EventType, type AppliedChange, type Change, type ChangeEvent } from '@iam/domain';
import type { Sql } from '../database/sql';
import { normalizeScope } from './change-scope.sql';
import { factWriteOutcome, USER_ROLES, writeFact, type FactWriteRow } from './lww-facts.sql';
import { completeEvents, earlierRun } from './processed-events.sql';

type UserRoleChange = Extract<
  Change,
  { type: typeof EventType.UserRoleGranted | typeof EventType.UserRoleRevoked }
>;

export type UserRoleEvent = ChangeEvent & { readonly change: UserRoleChange };

export function isUserRoleEvent(event: ChangeEvent): event is UserRoleEvent {
  return event.change.type === EventType.UserRoleGranted || event.change.type === EventType.UserRoleRevoked;
}

/**
 * Claims every event of the input and writes its user-role fact
 * last-writer-wins, all in one statement: per event what CLAIM_EVENT and the
 * fact write (lww-facts.sql.ts) do in two. The events name pairwise different
 * users (a run, see independentRuns), so each fact has at most one writer here.
 * A fact is written only for an event this statement claimed; `held` locks the
 * existing rows (in key order) as the single write does, and a row a
 * concurrent transaction inserted after this statement's snapshot shows as
 * neither held nor inserted, for the caller to write again on its own. Each
 * row is compared with its own event's (time, id): `olderThanStamp` for columns.
 */
const CLAIM_AND_WRITE_USER_ROLES = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::int[],
                       $7::bigint[], $8::jsonb[], $9::text[], $10::text[], $11::boolean[])
    AS i(event_id, type, subject, event_time, topic, partition, "offset", scope, user_id, role, present)
), claimed AS (
  INSERT INTO processed_events (event_id, type, subject, event_time, topic, partition, "offset", status, scope)
  SELECT event_id, type, subject, event_time, topic, partition, "offset", 'APPLIED', scope
  FROM input ORDER BY event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), ensured_users AS (
  INSERT INTO users (id) SELECT DISTINCT user_id FROM input ORDER BY 1
  ON CONFLICT (id) DO NOTHING
), held AS MATERIALIZED (
  SELECT f.user_id, f.role, f.present,
         (f.changed_at, f.event_id COLLATE "C") < (i.event_time, i.event_id COLLATE "C") AS older
  FROM user_roles f JOIN input i ON f.user_id = i.user_id AND f.role = i.role
  ORDER BY f.user_id, f.role
  FOR NO KEY UPDATE OF f
), inserted AS (
  INSERT INTO user_roles (user_id, role, present, changed_at, event_id)
  SELECT i.user_id, i.role, i.present, i.event_time, i.event_id
  FROM input i JOIN claimed c ON c.event_id = i.event_id
  WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.user_id = i.user_id AND h.role = i.role)
  ORDER BY i.user_id, i.role
  ON CONFLICT (user_id, role) DO NOTHING
  RETURNING user_id, role
), updated AS (
  UPDATE user_roles f SET present = i.present, changed_at = i.event_time, event_id = i.event_id
  FROM input i
  JOIN claimed c ON c.event_id = i.event_id
  JOIN held h ON h.user_id = i.user_id AND h.role = i.role
  WHERE f.user_id = i.user_id AND f.role = i.role AND h.older
  RETURNING f.user_id, f.role
)
SELECT i.event_id,
       EXISTS (SELECT 1 FROM claimed c WHERE c.event_id = i.event_id) AS claimed,
       h.present AS before,
       COALESCE(h.older, false) AS older,
       EXISTS (SELECT 1 FROM inserted x WHERE x.user_id = i.user_id AND x.role = i.role) AS inserted,
       EXISTS (SELECT 1 FROM updated u WHERE u.user_id = i.user_id AND u.role = i.role) AS updated
FROM input i LEFT JOIN held h ON h.user_id = i.user_id AND h.role = i.role`;

type ClaimAndWriteRow = FactWriteRow & { readonly event_id: string; readonly claimed: boolean };

/**
 * Applies user-role events of pairwise different users, inside the caller's
 * transaction, with the outcome one `claimEvent` and one `writeFact` each
 * would have had: one statement for all of them, plus one to complete those
 * that changed nothing, and one more for each event delivered before or whose
 * fact appeared concurrently (rare).
 */
export async function applyUserRoleEvents(
  sql: Sql,
  events: readonly UserRoleEvent[],
): Promise<AppliedChange[]> {
  const scopes = events.map((event) => normalizeScope({ userIds: [event.change.data.userId] }));
  const rows = await sql.query<ClaimAndWriteRow>(
    'change-claim-and-write-user-roles',
    CLAIM_AND_WRITE_USER_ROLES,
    [
      events.map((event) => event.id),
      events.map((event) => event.change.type),
      events.map((event) => event.subject),
      events.map((event) => event.timestamp),
      events.map((event) => event.origin.topic),
      events.map((event) => event.origin.partition),
      events.map((event) => event.origin.offset),
      scopes.map((scope) => JSON.stringify(scope)),
      events.map((event) => event.change.data.userId),
      events.map((event) => event.change.data.role),
      events.map((event) => event.change.type === EventType.UserRoleGranted),
    ],
  );
  const byEvent = new Map(rows.map((row) => [row.event_id, row]));
  const applied: AppliedChange[] = [];
  const unchanged: string[] = [];
  for (const [index, event] of events.entries()) {
    const row = byEvent.get(event.id);
    if (!row) throw new Error(`the user-role claim returned no row for event ${event.id}`);
    if (!row.claimed) {
      applied.push(await earlierRun(sql, event.id));
      continue;
    }
    const { userId, role } = event.change.data;
    const present = event.change.type === EventType.UserRoleGranted;
    const write =
      factWriteOutcome(row, present) ??
      (await writeFact(sql, USER_ROLES, [userId, role], present, { at: event.timestamp, eventId: event.id }));
    if (write.flipped) {
      applied.push({ kind: 'fan-out', scope: scopes[index]! });
    } else {
      unchanged.push(event.id);
      applied.push({ kind: 'no-effect' });
    }
  }
  if (unchanged.length > 0) await completeEvents(sql, unchanged);
  return applied;
}
