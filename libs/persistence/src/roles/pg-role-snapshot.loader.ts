import {
  RoleSnapshot,
  memberKey,
  membershipKey,
  type GroupMemberType,
  type RoleSnapshotLoader,
  type Subject,
} from '@iam/domain';
import { batchStatementName } from '../database/batch-statement';
import type { Sql } from '../database/sql';
import { LOAD_ROLE_SNAPSHOT, LOAD_SUBJECT_ROLE_SNAPSHOT } from './role-snapshot.sql';

export interface SnapshotRow {
  users: Array<{ id: string; locked: boolean; roles: string[] }>;
  clients: Array<{ id: string; service_id: string; scopes: string[]; roles: string[] }>;
  businesses: Array<{ id: string; active: boolean; roles: string[] }>;
  memberships: Array<{ business_id: string; user_id: string; roles: string[] }>;
  direct: Array<{ group_id: string; member_type: GroupMemberType; member_id: string }>;
  groups: Array<{ id: string; roles: string[]; depends_on: string[] }>;
}

const unique = (values: Iterable<string>): string[] => [...new Set(values)];

/** Turns the snapshot query's row into the domain's RoleSnapshot. */
export function toRoleSnapshot(row: SnapshotRow): RoleSnapshot {
  const groupsOfMember = new Map<string, string[]>();
  for (const member of row.direct) {
    const key = memberKey(member.member_type, member.member_id);
    groupsOfMember.set(key, [...(groupsOfMember.get(key) ?? []), member.group_id]);
  }
  return new RoleSnapshot({
    users: new Map(row.users.map((user) => [user.id, { locked: user.locked, roles: user.roles }])),
    clients: new Map(
      row.clients.map((client) => [
        client.id,
        { roles: client.roles, serviceId: client.service_id, scopes: client.scopes },
      ]),
    ),
    businesses: new Map(
      row.businesses.map((business) => [business.id, { active: business.active, roles: business.roles }]),
    ),
    memberships: new Map(
      row.memberships.map((membership) => [
        membershipKey(membership.business_id, membership.user_id),
        membership.roles,
      ]),
    ),
    groupsOfMember,
    groups: new Map(
      row.groups.map((group) => [group.id, { roles: group.roles, dependsOn: group.depends_on }]),
    ),
  });
}

/** The query's parameters for a batch of subjects ($1–$5). */
export function snapshotParameters(subjects: readonly Subject[]): unknown[] {
  const acting = subjects.filter((subject) => subject.businessId !== null);
  const pairs = unique(acting.map((subject) => membershipKey(subject.businessId!, subject.userId))).map(
    (key) => key.split('\u0000'),
  );
  return [
    unique(subjects.map((subject) => subject.userId)),
    unique(subjects.map((subject) => subject.clientId)),
    unique(acting.map((subject) => subject.businessId!)),
    pairs.map(([businessId]) => businessId),
    pairs.map(([, userId]) => userId),
  ];
}

/** The one-subject statement's parameters ($1–$3). */
export function subjectParameters(subject: Subject): unknown[] {
  return [subject.userId, subject.clientId, subject.businessId];
}

/** Loads the role facts of a batch of principals with one statement. */
export class PgRoleSnapshotLoader implements RoleSnapshotLoader {
  constructor(private readonly sql: Sql) {}

  async load(subjects: readonly Subject[]): Promise<RoleSnapshot> {
    // A single subject (a renewal, a change that touches one session) takes the statement
    // PostgreSQL plans once; a batch takes the one with array parameters, unnamed when large
    // (a fan-out's page; see batchStatementName).
    const [row] =
      subjects.length === 1
        ? await this.sql.query<SnapshotRow>(
            'subject-role-snapshot',
            LOAD_SUBJECT_ROLE_SNAPSHOT,
            subjectParameters(subjects[0]!),
          )
        : await this.sql.query<SnapshotRow>(
            batchStatementName('role-snapshot', subjects.length),
            LOAD_ROLE_SNAPSHOT,
            snapshotParameters(subjects),
          );
    if (!row) throw new Error('the role snapshot query returned no row');
    return toRoleSnapshot(row);
  }
}
