import type { GroupMemberType } from '../events/change';
import type { RoleSnapshotLoader } from '../roles/role-snapshot-loader';
import {
  memberKey,
  membershipKey,
  RoleSnapshot,
  type BusinessFacts,
  type ClientFacts,
  type GroupFacts,
  type UserFacts,
} from '../roles/role-snapshot';

export interface GroupSpec {
  readonly roles?: readonly string[];
  readonly dependsOn?: readonly string[];
  readonly members?: ReadonlyArray<{ readonly type: GroupMemberType; readonly id: string }>;
}

/** Role facts written as plain data; whatever is left out is simply absent. */
export interface RoleFacts {
  readonly users?: Readonly<
    Record<string, { readonly locked?: boolean; readonly roles?: readonly string[] }>
  >;
  readonly clients?: Readonly<
    Record<
      string,
      { readonly roles?: readonly string[]; readonly serviceId?: string; readonly scopes?: readonly string[] }
    >
  >;
  readonly businesses?: Readonly<
    Record<string, { readonly active?: boolean; readonly roles?: readonly string[] }>
  >;
  readonly memberships?: ReadonlyArray<{
    readonly businessId: string;
    readonly userId: string;
    readonly roles: readonly string[];
  }>;
  readonly groups?: Readonly<Record<string, GroupSpec>>;
}

/** Builds a RoleSnapshot from plain data (a client without serviceId is its own service). */
export function buildRoleSnapshot(facts: RoleFacts): RoleSnapshot {
  const users = new Map<string, UserFacts>();
  for (const [id, user] of Object.entries(facts.users ?? {})) {
    users.set(id, { locked: user.locked ?? false, roles: [...(user.roles ?? [])] });
  }
  const clients = new Map<string, ClientFacts>();
  for (const [id, client] of Object.entries(facts.clients ?? {})) {
    clients.set(id, {
      roles: [...(client.roles ?? [])],
      serviceId: client.serviceId ?? id,
      scopes: [...(client.scopes ?? [])],
    });
  }
  const businesses = new Map<string, BusinessFacts>();
  for (const [id, business] of Object.entries(facts.businesses ?? {})) {
    businesses.set(id, { active: business.active ?? true, roles: [...(business.roles ?? [])] });
  }
  const memberships = new Map<string, readonly string[]>();
  for (const membership of facts.memberships ?? []) {
    memberships.set(membershipKey(membership.businessId, membership.userId), [...membership.roles]);
  }
  const groups = new Map<string, GroupFacts>();
  const groupsOfMember = new Map<string, string[]>();
  for (const [id, group] of Object.entries(facts.groups ?? {})) {
    groups.set(id, { roles: [...(group.roles ?? [])], dependsOn: [...(group.dependsOn ?? [])] });
    for (const member of group.members ?? []) {
      const key = memberKey(member.type, member.id);
      const list = groupsOfMember.get(key) ?? [];
      list.push(id);
      groupsOfMember.set(key, list);
    }
  }
  return new RoleSnapshot({ users, clients, businesses, memberships, groupsOfMember, groups });
}

type Subjects = Parameters<RoleSnapshotLoader['load']>[0];

/** Serves snapshots of facts the test can change between calls; remembers what was asked. */
export class FakeRoleSnapshotLoader implements RoleSnapshotLoader {
  readonly loads: Subjects[] = [];

  constructor(private facts: RoleFacts = {}) {}

  private next: RoleFacts | undefined;

  setFacts(facts: RoleFacts): void {
    this.facts = facts;
  }

  /** The next load still sees the current facts; every load after it sees these (a change committed meanwhile). */
  changeAfterNextLoad(facts: RoleFacts): void {
    this.next = facts;
  }

  async load(subjects: Subjects): Promise<RoleSnapshot> {
    this.loads.push(subjects.map(({ userId, clientId, businessId }) => ({ userId, clientId, businessId })));
    const snapshot = buildRoleSnapshot(this.facts);
    if (this.next) {
      this.facts = this.next;
      this.next = undefined;
    }
    return snapshot;
  }
}
