import type { EventType } from './event-types';

export type GroupMemberType = 'USER' | 'BUSINESS' | 'SERVICE';

type Granting<TGranted extends string, TRevoked extends string, TData> =
  { readonly type: TGranted; readonly data: TData } | { readonly type: TRevoked; readonly data: TData };

/** What an inbound event says changed, by type (events.md). */
export type Change =
  | Granting<
      typeof EventType.UserRoleGranted,
      typeof EventType.UserRoleRevoked,
      { readonly userId: string; readonly role: string }
    >
  | {
      readonly type: typeof EventType.UserLocked | typeof EventType.UserUnlocked;
      readonly data: { readonly userId: string };
    }
  | Granting<
      typeof EventType.ClientRoleGranted,
      typeof EventType.ClientRoleRevoked,
      { readonly clientId: string; readonly role: string }
    >
  | Granting<
      typeof EventType.GroupRoleGranted,
      typeof EventType.GroupRoleRevoked,
      { readonly groupId: string; readonly role: string }
    >
  | Granting<
      typeof EventType.GroupMemberAdded,
      typeof EventType.GroupMemberRemoved,
      { readonly groupId: string; readonly memberType: GroupMemberType; readonly memberId: string }
    >
  | Granting<
      typeof EventType.GroupDependencyAdded,
      typeof EventType.GroupDependencyRemoved,
      { readonly groupId: string; readonly dependsOnGroupId: string }
    >
  | { readonly type: typeof EventType.GroupDeleted; readonly data: { readonly groupId: string } }
  | Granting<
      typeof EventType.BusinessRoleGranted,
      typeof EventType.BusinessRoleRevoked,
      { readonly businessId: string; readonly role: string }
    >
  | {
      readonly type: typeof EventType.BusinessMemberAdded;
      readonly data: {
        readonly businessId: string;
        readonly userId: string;
        readonly roles: readonly string[];
      };
    }
  | {
      readonly type: typeof EventType.BusinessMemberRemoved;
      readonly data: { readonly businessId: string; readonly userId: string };
    }
  | Granting<
      typeof EventType.BusinessMemberRoleGranted,
      typeof EventType.BusinessMemberRoleRevoked,
      { readonly businessId: string; readonly userId: string; readonly role: string }
    >
  | { readonly type: typeof EventType.BusinessDeactivated; readonly data: { readonly businessId: string } };

/** Where a record came from; kept with the processed-event record and in dead letters. */
export interface RecordOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** A validated inbound event: the CloudEvents attributes this service uses, and the change. */
export interface ChangeEvent {
  readonly id: string;
  readonly source: string;
  readonly subject: string;
  /** The instant of the change at its source: orders competing facts (last writer wins). */
  readonly time: Date;
  /** `time` exactly as sent (RFC 3339, up to nanoseconds), stored at full microsecond precision. */
  readonly timestamp: string;
  readonly change: Change;
  readonly origin: RecordOrigin;
}
