/**
 * An independent classification of input-topic records, written from the
 * published contract (events.md, README "Dead letters", docs/asyncapi.yaml)
 * rather than from the service's code: what `dlq-reason` a record must be
 * dead-lettered with, or that it is a valid event. Nothing here imports the
 * service's schemas.
 *
 * Order of the checks (each reason names the first thing wrong with a record):
 * no value → `empty-record`; above 64 KiB → `too-large` (refused unread); not
 * UTF-8 JSON → `not-json`; not an object, or no `specversion` → `not-a-cloudevent`;
 * `specversion` other than "1.0" → `unknown-schema-version`; a required
 * CloudEvents attribute missing or malformed → `not-a-cloudevent`; a type the
 * topic does not carry → `unknown-type`; `data` failing the type's schema, or a
 * subject other than the entity the data names → `invalid-payload`.
 */

export const MAX_RECORD_BYTES = 64 * 1024;

export type DlqReason =
  | 'empty-record'
  | 'too-large'
  | 'not-json'
  | 'not-a-cloudevent'
  | 'unknown-schema-version'
  | 'unknown-type'
  | 'invalid-payload';

export type TopicKind = 'role' | 'business';

export interface Classification {
  /** null: a valid event of the topic. */
  readonly reason: DlqReason | null;
  /** The CloudEvents id the dead letter names (`dlq-event-id`), when the record is a JSON object with a string id. */
  readonly eventId?: string;
  /** Why, for failure messages. */
  readonly why: string;
}

type FieldKind = 'id' | 'role' | 'roles' | 'memberType';

interface TypeSpec {
  readonly topic: TopicKind;
  readonly subjectField: string;
  readonly fields: Readonly<Record<string, FieldKind>>;
}

const userRole = { userId: 'id', role: 'role' } as const;
const groupMember = { groupId: 'id', memberType: 'memberType', memberId: 'id' } as const;
const groupDependency = { groupId: 'id', dependsOnGroupId: 'id' } as const;
const businessMemberRole = { businessId: 'id', userId: 'id', role: 'role' } as const;

/** events.md, both input topics: type → topic, subject field and `data` fields. */
export const TYPE_SPECS: Readonly<Record<string, TypeSpec>> = {
  'iam.user.role.granted': { topic: 'role', subjectField: 'userId', fields: userRole },
  'iam.user.role.revoked': { topic: 'role', subjectField: 'userId', fields: userRole },
  'iam.user.locked': { topic: 'role', subjectField: 'userId', fields: { userId: 'id' } },
  'iam.user.unlocked': { topic: 'role', subjectField: 'userId', fields: { userId: 'id' } },
  'iam.client.role.granted': {
    topic: 'role',
    subjectField: 'clientId',
    fields: { clientId: 'id', role: 'role' },
  },
  'iam.client.role.revoked': {
    topic: 'role',
    subjectField: 'clientId',
    fields: { clientId: 'id', role: 'role' },
  },
  'iam.group.role.granted': {
    topic: 'role',
    subjectField: 'groupId',
    fields: { groupId: 'id', role: 'role' },
  },
  'iam.group.role.revoked': {
    topic: 'role',
    subjectField: 'groupId',
    fields: { groupId: 'id', role: 'role' },
  },
  'iam.group.member.added': { topic: 'role', subjectField: 'groupId', fields: groupMember },
  'iam.group.member.removed': { topic: 'role', subjectField: 'groupId', fields: groupMember },
  'iam.group.dependency.added': { topic: 'role', subjectField: 'groupId', fields: groupDependency },
  'iam.group.dependency.removed': { topic: 'role', subjectField: 'groupId', fields: groupDependency },
  'iam.group.deleted': { topic: 'role', subjectField: 'groupId', fields: { groupId: 'id' } },
  'iam.business.role.granted': {
    topic: 'business',
    subjectField: 'businessId',
    fields: { businessId: 'id', role: 'role' },
  },
  'iam.business.role.revoked': {
    topic: 'business',
    subjectField: 'businessId',
    fields: { businessId: 'id', role: 'role' },
  },
  'iam.business.member.added': {
    topic: 'business',
    subjectField: 'businessId',
    fields: { businessId: 'id', userId: 'id', roles: 'roles' },
  },
  'iam.business.member.removed': {
    topic: 'business',
    subjectField: 'businessId',
    fields: { businessId: 'id', userId: 'id' },
  },
  'iam.business.member.role.granted': {
    topic: 'business',
    subjectField: 'businessId',
    fields: businessMemberRole,
  },
  'iam.business.member.role.revoked': {
    topic: 'business',
    subjectField: 'businessId',
    fields: businessMemberRole,
  },
  'iam.business.deactivated': { topic: 'business', subjectField: 'businessId', fields: { businessId: 'id' } },
};

export const TYPES_OF: Readonly<Record<TopicKind, readonly string[]>> = {
  role: Object.keys(TYPE_SPECS).filter((type) => TYPE_SPECS[type]!.topic === 'role'),
  business: Object.keys(TYPE_SPECS).filter((type) => TYPE_SPECS[type]!.topic === 'business'),
};

/** JSON Schema `maxLength`/`minLength` count code points (not UTF-16 units). */
const codePoints = (value: string): number => [...value].length;

const ID_PATTERN = /^[^\s\p{Cc}]+$/u;
const ROLE_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

export function isValidId(value: unknown): boolean {
  return (
    typeof value === 'string' && codePoints(value) >= 1 && codePoints(value) <= 256 && ID_PATTERN.test(value)
  );
}

export function isValidRole(value: unknown): boolean {
  return (
    typeof value === 'string' &&
    codePoints(value) >= 1 &&
    codePoints(value) <= 128 &&
    ROLE_PATTERN.test(value)
  );
}

/** An RFC 3339 date-time that names a real instant (month, day of that month, hours, minutes, seconds). */
export function isRfc3339(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const match = RFC3339.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  if (match[9] !== undefined && (Number(match[10]) > 23 || Number(match[11]) > 59)) return false;
  return true;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function fieldValid(kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case 'id':
      return isValidId(value);
    case 'role':
      return isValidRole(value);
    case 'memberType':
      return value === 'USER' || value === 'BUSINESS' || value === 'SERVICE';
    case 'roles':
      return Array.isArray(value) && value.length <= 64 && value.every(isValidRole);
  }
}

/** Classifies one record of an input topic. */
export function classifyRecord(value: Buffer | null, topic: TopicKind): Classification {
  if (value === null || value.length === 0) return { reason: 'empty-record', why: 'no value' };
  if (value.length > MAX_RECORD_BYTES) return { reason: 'too-large', why: `${value.length} bytes` };

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value));
  } catch {
    return { reason: 'not-json', why: 'not UTF-8 JSON' };
  }
  if (!isPlainObject(json)) return { reason: 'not-a-cloudevent', why: 'JSON but not an object' };
  // The dead letter names the event id only when it is a usable id (events.md ids; HTTP ids alike).
  const id = isValidId(json.id) ? (json.id as string) : undefined;
  const result = (reason: DlqReason | null, why: string): Classification =>
    id === undefined ? { reason, why } : { reason, why, eventId: id };

  if (!('specversion' in json)) return result('not-a-cloudevent', 'no specversion');
  if (json.specversion !== '1.0') return result('unknown-schema-version', 'specversion is not "1.0"');

  const { source, type, time, subject, data } = json;
  if (!isValidId(json.id)) return result('not-a-cloudevent', 'id');
  if (typeof source !== 'string' || codePoints(source) < 1 || codePoints(source) > 1024) {
    return result('not-a-cloudevent', 'source');
  }
  if (typeof type !== 'string' || codePoints(type) < 1 || codePoints(type) > 256) {
    return result('not-a-cloudevent', 'type');
  }
  if (!isRfc3339(time)) return result('not-a-cloudevent', 'time');
  if (!isValidId(subject)) return result('not-a-cloudevent', 'subject');
  if ('datacontenttype' in json && json.datacontenttype !== 'application/json') {
    return result('not-a-cloudevent', 'datacontenttype');
  }
  if (!isPlainObject(data)) return result('not-a-cloudevent', 'data is not an object');

  const spec = TYPE_SPECS[type];
  if (!spec || spec.topic !== topic) return result('unknown-type', `type ${type} on the ${topic} topic`);
  for (const [field, kind] of Object.entries(spec.fields)) {
    if (!fieldValid(kind, data[field])) return result('invalid-payload', `data.${field}`);
  }
  if (data[spec.subjectField] !== subject) return result('invalid-payload', 'subject is not the data entity');
  return result(null, 'valid');
}
