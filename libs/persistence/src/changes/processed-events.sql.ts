import type { AppliedChange, ChangeEvent, ChangeScope } from '@iam/domain';
import type { Sql } from '../database/sql';
import { ENTITY_TABLES, type EntityKind } from './lww-facts.sql';
import { parseStoredScope } from './change-scope.sql';

/** The entities an event names, by kind: they exist from the first event that names them (events.md). */
export type NamedEntities = Readonly<Partial<Record<EntityKind, readonly string[]>>>;

/** The entity kinds, in the order of their parameters ($9–$12) in the claim. */
const ENTITY_KINDS: readonly EntityKind[] = ['business', 'client', 'group', 'user'];

const CLAIM_EVENT = `
WITH claimed AS (
  INSERT INTO processed_events (event_id, type, subject, event_time, topic, partition, "offset", status, scope)
  VALUES ($1, $2, $3, $4::timestamptz, $5, $6, $7::bigint, 'APPLIED', $8::jsonb)
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
)${ENTITY_KINDS.map(
  (kind, index) => `, ensured_${kind} AS (
  INSERT INTO ${ENTITY_TABLES[kind]} (id) SELECT DISTINCT unnest($${9 + index}::text[]) ORDER BY 1
  ON CONFLICT (id) DO NOTHING
)`,
).join('')}
SELECT event_id FROM claimed`;

/**
 * Claims the event id and creates the entities it names. Every claim is this
 * one statement, so all of them create rows table by table in the same order
 * (the executor's order for sibling CTEs, whatever it is) and each table's
 * rows in key order: two transactions creating the same entities queue
 * instead of deadlocking.
 * Returns null when this call claimed it (the change is to be applied),
 * otherwise what the earlier run left: a completed event is a duplicate, an
 * applied one crashed before its fan-out finished and gets the scope it
 * stored. A concurrent claim of the same id waits on the primary key until
 * the first transaction ends, so only one run applies the change. `scope` is
 * stored with the claim when the event alone determines it, which spares
 * `recordScope` its round trip (the transaction commits both or neither).
 */
export async function claimEvent(
  sql: Sql,
  event: ChangeEvent,
  scope: ChangeScope | null,
  entities: NamedEntities,
): Promise<AppliedChange | null> {
  const claimed = await sql.query('change-claim-event', CLAIM_EVENT, [
    event.id,
    event.change.type,
    event.subject,
    event.timestamp,
    event.origin.topic,
    event.origin.partition,
    event.origin.offset,
    scope === null ? null : JSON.stringify(scope),
    ...ENTITY_KINDS.map((kind) => entities[kind] ?? []),
  ]);
  return claimed.length > 0 ? null : earlierRun(sql, event.id);
}

/** What an earlier run of a claimed event left: done (a duplicate), or its fan-out to resume. */
export async function earlierRun(sql: Sql, eventId: string): Promise<AppliedChange> {
  const [earlier] = await sql.query<{ status: 'APPLIED' | 'COMPLETED'; scope: unknown }>(
    'change-earlier-run',
    'SELECT status::text AS status, scope FROM processed_events WHERE event_id = $1',
    [eventId],
  );
  // The claim conflicted with a record that is gone now: housekeeping deleted it in between, and
  // it deletes only completed events' records, so this is a duplicate.
  if (!earlier || earlier.status === 'COMPLETED') return { kind: 'duplicate' };
  return { kind: 'fan-out', scope: parseStoredScope(earlier.scope) };
}

/** Keeps the scope with the event until its fan-out completes. */
export async function recordScope(sql: Sql, eventId: string, scope: ChangeScope): Promise<void> {
  await sql.query(
    'change-record-scope',
    'UPDATE processed_events SET scope = $2::jsonb WHERE event_id = $1',
    [eventId, JSON.stringify(scope)],
  );
}

/** Nothing is left to do for these events: their scopes are no longer needed. */
export async function completeEvents(sql: Sql, eventIds: readonly string[]): Promise<void> {
  await sql.query(
    'change-complete-events',
    `UPDATE processed_events SET status = 'COMPLETED', completed_at = now(), scope = NULL
     WHERE event_id = ANY($1::text[])`,
    [eventIds],
  );
}
