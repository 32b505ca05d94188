import type { Sql } from '../database/sql';

/**
 * Last-writer-wins registers (prisma/schema.prisma): every fact row keeps the
 * (time, event id) of the event that set it, and only a strictly greater
 * (time, id) may overwrite it. Times are compared as timestamptz parsed from the
 * event's own RFC 3339 string, so microseconds a JavaScript Date would drop
 * still order events; ids compare byte-wise (COLLATE "C") so the tie-break does
 * not depend on the database's collation.
 */

/** The event writing a register. */
export interface Stamp {
  /** The event time exactly as sent (RFC 3339). */
  readonly at: string;
  readonly eventId: string;
}

/** `(time, id) < stamp` for the stamp passed as `$atParam`, `$idParam`. */
export function olderThanStamp(
  timeColumn: string,
  idColumn: string,
  atParam: number,
  idParam: number,
): string {
  return `(${timeColumn}, ${idColumn} COLLATE "C") < ($${atParam}::timestamptz, $${idParam}::text COLLATE "C")`;
}

/** `(time, id) > stamp`: the register was written by a later event. */
export function newerThanStamp(
  timeColumn: string,
  idColumn: string,
  atParam: number,
  idParam: number,
): string {
  return `(${timeColumn}, ${idColumn} COLLATE "C") > ($${atParam}::timestamptz, $${idParam}::text COLLATE "C")`;
}

/** A fact table: one register per key. */
export interface FactTable {
  readonly name: string;
  /** Key columns, each with the SQL type its parameter is cast to. */
  readonly keys: ReadonlyArray<{ readonly column: string; readonly type: string }>;
}

const text = (column: string) => ({ column, type: 'text' });

export const USER_ROLES: FactTable = { name: 'user_roles', keys: [text('user_id'), text('role')] };
export const CLIENT_ROLES: FactTable = { name: 'client_roles', keys: [text('client_id'), text('role')] };
export const BUSINESS_ROLES: FactTable = {
  name: 'business_roles',
  keys: [text('business_id'), text('role')],
};
export const BUSINESS_MEMBERSHIPS: FactTable = {
  name: 'business_memberships',
  keys: [text('business_id'), text('user_id')],
};
export const BUSINESS_MEMBER_ROLES: FactTable = {
  name: 'business_member_roles',
  keys: [text('business_id'), text('user_id'), text('role')],
};
export const GROUP_ROLES: FactTable = { name: 'group_roles', keys: [text('group_id'), text('role')] };
export const GROUP_MEMBERS: FactTable = {
  name: 'group_members',
  keys: [text('group_id'), { column: 'member_type', type: 'group_member_type' }, text('member_id')],
};
export const GROUP_DEPENDENCIES: FactTable = {
  name: 'group_dependencies',
  keys: [text('group_id'), text('depends_on_group_id')],
};

/** What writing one fact did. */
export interface FactWrite {
  /** The event was newer than the register (or the first to name the fact) and was stored. */
  readonly won: boolean;
  /** The fact's state before, null when no row existed (which reads as absent). */
  readonly before: boolean | null;
  /** The visible state changed: absent became present or the reverse. */
  readonly flipped: boolean;
}

/**
 * The whole last-writer-wins write of one fact as one statement (each round
 * trip costs this VM more than the statement itself). `held` locks the row
 * if it exists: FOR NO KEY UPDATE serializes writers of this fact without
 * blocking the foreign-key checks of rows that reference it, and after waiting
 * for a concurrent writer it reads the version that writer committed.
 * `inserted` creates the row when there was none; `updated` overwrites it when
 * the event is newer. Data-modifying CTEs run exactly once whether or not the
 * outer query reads them. When neither held nor inserted (a concurrent
 * transaction inserted the row after this statement's snapshot: the insert
 * waited for it and then did nothing), the caller runs it again with a fresh
 * snapshot.
 */
const factWriteStatements = new Map<string, string>();

function factWriteStatement(table: FactTable): string {
  const cached = factWriteStatements.get(table.name);
  if (cached) return cached;
  const n = table.keys.length;
  const columns = table.keys.map((key) => key.column).join(', ');
  const params = table.keys.map((key, index) => `$${index + 1}::${key.type}`).join(', ');
  const match = table.keys.map((key, index) => `${key.column} = $${index + 1}::${key.type}`).join(' AND ');
  const statement = `
WITH held AS MATERIALIZED (
  SELECT present, ${olderThanStamp('changed_at', 'event_id', n + 2, n + 3)} AS older
  FROM ${table.name} WHERE ${match} FOR NO KEY UPDATE
), inserted AS (
  INSERT INTO ${table.name} (${columns}, present, changed_at, event_id)
  SELECT ${params}, $${n + 1}, $${n + 2}::timestamptz, $${n + 3}
  WHERE NOT EXISTS (SELECT 1 FROM held)
  ON CONFLICT (${columns}) DO NOTHING
  RETURNING present
), updated AS (
  UPDATE ${table.name} SET present = $${n + 1}, changed_at = $${n + 2}::timestamptz, event_id = $${n + 3}
  WHERE ${match} AND COALESCE((SELECT older FROM held), false)
  RETURNING present
)
SELECT (SELECT present FROM held) AS before,
       COALESCE((SELECT older FROM held), false) AS older,
       EXISTS (SELECT 1 FROM inserted) AS inserted,
       EXISTS (SELECT 1 FROM updated) AS updated`;
  factWriteStatements.set(table.name, statement);
  return statement;
}

/** Attempts before giving up on a row that keeps appearing under the write. */
const MAX_FACT_ATTEMPTS = 3;

export interface FactWriteRow {
  readonly before: boolean | null;
  readonly older: boolean;
  readonly inserted: boolean;
  readonly updated: boolean;
}

/**
 * Sets a fact to `present` if the event is newer than its register. The first
 * event that names a fact creates it (a revocation too: its register then
 * outranks an older grant replayed later); otherwise the row is locked, so
 * concurrent writers of the same fact apply one after the other and each sees
 * the state the other left.
 */
export async function writeFact(
  sql: Sql,
  table: FactTable,
  keys: readonly string[],
  present: boolean,
  stamp: Stamp,
): Promise<FactWrite> {
  const statement = factWriteStatement(table);
  for (let attempt = 1; attempt <= MAX_FACT_ATTEMPTS; attempt += 1) {
    const [row] = await sql.query<FactWriteRow>(`change-fact-write:${table.name}`, statement, [
      ...keys,
      present,
      stamp.at,
      stamp.eventId,
    ]);
    if (!row) throw new Error(`the ${table.name} fact write returned no row`);
    const write = factWriteOutcome(row, present);
    if (write) return write;
  }
  throw new Error(`the ${table.name} fact ${keys.join('/')} kept changing while being written`);
}

/**
 * What a fact write's row says it did; null when the row appeared under the
 * write (a concurrent transaction inserted it after the statement's snapshot)
 * and the write must run again with a fresh one.
 */
export function factWriteOutcome(row: FactWriteRow, present: boolean): FactWrite | null {
  if (row.inserted) return { won: true, before: null, flipped: present };
  if (row.before === null) return null;
  if (!row.older) return { won: false, before: row.before, flipped: false };
  if (row.updated) return { won: true, before: row.before, flipped: row.before !== present };
  return null;
}

/**
 * Sets every fact of `table` matching `filter` (on alias `f`, parameters from
 * $3) and older than the stamp to absent, with the stamp as its register.
 * Returns how many of them were present. The caller holds the lock that keeps
 * other writers away from these rows, so the self-join reads their current state.
 */
export async function tombstoneOlderFacts(
  sql: Sql,
  name: string,
  table: FactTable,
  filter: string,
  filterValues: readonly unknown[],
  stamp: Stamp,
): Promise<number> {
  const join = table.keys.map((key) => `o.${key.column} = f.${key.column}`).join(' AND ');
  const rows = await sql.query<{ was: boolean }>(
    name,
    `UPDATE ${table.name} f SET present = false, changed_at = $1::timestamptz, event_id = $2
     FROM ${table.name} o
     WHERE ${join} AND (${filter}) AND ${olderThanStamp('f.changed_at', 'f.event_id', 1, 2)}
     RETURNING o.present AS was`,
    [stamp.at, stamp.eventId, ...filterValues],
  );
  return rows.filter((row) => row.was).length;
}

/** A flag on an entity row kept as a register of its own (users.locked, businesses.active). */
export interface EntityRegister {
  readonly table: string;
  readonly value: string;
  readonly changedAt: string;
  readonly eventId: string;
}

export const USER_LOCK: EntityRegister = {
  table: 'users',
  value: 'locked',
  changedAt: 'lock_changed_at',
  eventId: 'lock_event_id',
};

export const BUSINESS_STATUS: EntityRegister = {
  table: 'businesses',
  value: 'active',
  changedAt: 'status_changed_at',
  eventId: 'status_event_id',
};

/**
 * Sets an entity flag if the event is newer than its register (a register never
 * written, NULL, is older than any event). The entity row must exist. Returns
 * whether the flag flipped.
 */
export async function writeEntityRegister(
  sql: Sql,
  register: EntityRegister,
  id: string,
  value: boolean,
  stamp: Stamp,
): Promise<boolean> {
  const older = olderThanStamp(register.changedAt, register.eventId, 2, 3);
  const [held] = await sql.query<{ before: boolean; older: boolean }>(
    `change-register-lock:${register.table}`,
    `SELECT ${register.value} AS before, (${register.changedAt} IS NULL OR ${older}) AS older
     FROM ${register.table} WHERE id = $1 FOR NO KEY UPDATE`,
    [id, stamp.at, stamp.eventId],
  );
  if (!held) throw new Error(`${register.table} row ${id} is missing`);
  if (!held.older) return false;
  await sql.query(
    `change-register-update:${register.table}`,
    `UPDATE ${register.table} SET ${register.value} = $2, ${register.changedAt} = $3::timestamptz,
       ${register.eventId} = $4
     WHERE id = $1`,
    [id, value, stamp.at, stamp.eventId],
  );
  return held.before !== value;
}

/**
 * The stamp of the latest event of one kind kept on a row, as a floor for
 * facts about it: a group's deletion, a membership's removal. Facts older than
 * the watermark are stale.
 */
export interface Watermark {
  readonly table: string;
  /** The row's key columns, matched with the first parameters in this order. */
  readonly key: readonly string[];
  readonly at: string;
  readonly eventId: string;
}

export const GROUP_DELETION: Watermark = {
  table: 'groups',
  key: ['id'],
  at: 'deleted_at',
  eventId: 'deleted_event_id',
};

export const MEMBERSHIP_REMOVAL: Watermark = {
  table: 'business_memberships',
  key: ['business_id', 'user_id'],
  at: 'removed_at',
  eventId: 'removed_event_id',
};

/**
 * Raises the row's watermark to the event's stamp unless it holds a later one
 * (NULL, never raised, is older than any event); takes the row's lock either
 * way the row exists. Says whether it rose.
 */
export async function raiseWatermark(
  sql: Sql,
  watermark: Watermark,
  key: readonly string[],
  stamp: Stamp,
): Promise<boolean> {
  const at = watermark.key.length + 1;
  const matchesKey = watermark.key.map((column, index) => `${column} = $${index + 1}`).join(' AND ');
  const raised = await sql.query(
    `change-watermark:${watermark.table}`,
    `UPDATE ${watermark.table} SET ${watermark.at} = $${at}::timestamptz, ${watermark.eventId} = $${at + 1}
     WHERE ${matchesKey}
       AND (${watermark.at} IS NULL OR ${olderThanStamp(watermark.at, watermark.eventId, at, at + 1)})
     RETURNING 1`,
    [...key, stamp.at, stamp.eventId],
  );
  return raised.length > 0;
}

/** The tables of the entities an event can name. */
export const ENTITY_TABLES = {
  user: 'users',
  business: 'businesses',
  client: 'clients',
  group: 'groups',
} as const;

export type EntityKind = keyof typeof ENTITY_TABLES;

/** Code-unit order: the same everywhere, unlike localeCompare. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
