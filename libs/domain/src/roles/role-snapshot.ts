import type { GroupMemberType } from '../events/change';

export interface UserFacts {
  readonly locked: boolean;
  readonly roles: readonly string[];
}

export interface ClientFacts {
  readonly roles: readonly string[];
  /** The service the application belongs to; a client without one is its own service. */
  readonly serviceId: string;
  readonly scopes: readonly string[];
}

export interface BusinessFacts {
  readonly active: boolean;
  readonly roles: readonly string[];
}

export interface GroupFacts {
  readonly roles: readonly string[];
  readonly dependsOn: readonly string[];
}

/** The current role facts relevant to a set of sessions, read in one go. */
export interface RoleSnapshotData {
  readonly users: ReadonlyMap<string, UserFacts>;
  readonly clients: ReadonlyMap<string, ClientFacts>;
  readonly businesses: ReadonlyMap<string, BusinessFacts>;
  /** Present memberships only, keyed by `membershipKey(businessId, userId)`, with their roles. */
  readonly memberships: ReadonlyMap<string, readonly string[]>;
  /** Groups each member belongs to directly, keyed by `memberKey(type, id)`. */
  readonly groupsOfMember: ReadonlyMap<string, readonly string[]>;
  /** Live groups (not deleted) reachable from those memberships, with their present facts. */
  readonly groups: ReadonlyMap<string, GroupFacts>;
}

export function membershipKey(businessId: string, userId: string): string {
  return `${businessId}\u0000${userId}`;
}

export function memberKey(type: GroupMemberType, id: string): string {
  return `${type}\u0000${id}`;
}

const EMPTY: readonly string[] = [];

/** Read access to a snapshot; missing facts read as "none". */
export class RoleSnapshot {
  constructor(private readonly data: RoleSnapshotData) {}

  user(userId: string): UserFacts | undefined {
    return this.data.users.get(userId);
  }

  client(clientId: string): ClientFacts | undefined {
    return this.data.clients.get(clientId);
  }

  business(businessId: string): BusinessFacts | undefined {
    return this.data.businesses.get(businessId);
  }

  /** The membership roles, or undefined when the user does not belong to the business. */
  membershipRoles(businessId: string, userId: string): readonly string[] | undefined {
    return this.data.memberships.get(membershipKey(businessId, userId));
  }

  groupsOf(type: GroupMemberType, id: string): readonly string[] {
    return this.data.groupsOfMember.get(memberKey(type, id)) ?? EMPTY;
  }

  group(groupId: string): GroupFacts | undefined {
    return this.data.groups.get(groupId);
  }

  /** Whether the user may act for the business right now. */
  canActFor(businessId: string, userId: string): boolean {
    return (
      this.business(businessId)?.active === true && this.membershipRoles(businessId, userId) !== undefined
    );
  }
}
