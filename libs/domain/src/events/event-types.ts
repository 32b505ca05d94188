/** Every CloudEvents `type` of the Kafka contract (events.md), in one place. */
export const EventType = {
  UserRoleGranted: 'iam.user.role.granted',
  UserRoleRevoked: 'iam.user.role.revoked',
  UserLocked: 'iam.user.locked',
  UserUnlocked: 'iam.user.unlocked',
  ClientRoleGranted: 'iam.client.role.granted',
  ClientRoleRevoked: 'iam.client.role.revoked',
  GroupRoleGranted: 'iam.group.role.granted',
  GroupRoleRevoked: 'iam.group.role.revoked',
  GroupMemberAdded: 'iam.group.member.added',
  GroupMemberRemoved: 'iam.group.member.removed',
  GroupDependencyAdded: 'iam.group.dependency.added',
  GroupDependencyRemoved: 'iam.group.dependency.removed',
  GroupDeleted: 'iam.group.deleted',
  BusinessRoleGranted: 'iam.business.role.granted',
  BusinessRoleRevoked: 'iam.business.role.revoked',
  BusinessMemberAdded: 'iam.business.member.added',
  BusinessMemberRemoved: 'iam.business.member.removed',
  BusinessMemberRoleGranted: 'iam.business.member.role.granted',
  BusinessMemberRoleRevoked: 'iam.business.member.role.revoked',
  BusinessDeactivated: 'iam.business.deactivated',
  SessionTokenRenewed: 'iam.session.token-renewed',
  SessionRevoked: 'iam.session.revoked',
} as const;

export type EventTypeName = (typeof EventType)[keyof typeof EventType];

/** The types carried by `iam.role-changes.v1`. */
export const ROLE_CHANGE_TYPES = [
  EventType.UserRoleGranted,
  EventType.UserRoleRevoked,
  EventType.UserLocked,
  EventType.UserUnlocked,
  EventType.ClientRoleGranted,
  EventType.ClientRoleRevoked,
  EventType.GroupRoleGranted,
  EventType.GroupRoleRevoked,
  EventType.GroupMemberAdded,
  EventType.GroupMemberRemoved,
  EventType.GroupDependencyAdded,
  EventType.GroupDependencyRemoved,
  EventType.GroupDeleted,
] as const;

/** The types carried by `iam.business-changes.v1`. */
export const BUSINESS_CHANGE_TYPES = [
  EventType.BusinessRoleGranted,
  EventType.BusinessRoleRevoked,
  EventType.BusinessMemberAdded,
  EventType.BusinessMemberRemoved,
  EventType.BusinessMemberRoleGranted,
  EventType.BusinessMemberRoleRevoked,
  EventType.BusinessDeactivated,
] as const;

export type RoleChangeTypeName = (typeof ROLE_CHANGE_TYPES)[number];
export type BusinessChangeTypeName = (typeof BUSINESS_CHANGE_TYPES)[number];
export type InboundEventTypeName = RoleChangeTypeName | BusinessChangeTypeName;
