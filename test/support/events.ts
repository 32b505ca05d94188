import { randomUUID } from 'node:crypto';
import type { Message } from 'kafkajs';
import { EventType } from '@iam/domain';
import { testProducer } from './kafka';

/** A CloudEvent in structured JSON mode, as AuthMe's services publish them (events.md). */
export interface InboundCloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  subject: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

let clock = Date.parse('2026-01-01T00:00:00.000Z');

/** Strictly increasing source times, so events built in order are also ordered in time. */
function nextTime(): string {
  clock += 1;
  return new Date(clock).toISOString();
}

export function event(
  type: string,
  subject: string,
  data: Record<string, unknown>,
  overrides: Partial<InboundCloudEvent> = {},
): InboundCloudEvent {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/authme/test',
    type,
    time: nextTime(),
    subject,
    datacontenttype: 'application/json',
    data,
    ...overrides,
  };
}

export const events = {
  userRoleGranted: (userId: string, role: string) =>
    event(EventType.UserRoleGranted, userId, { userId, role }),
  userRoleRevoked: (userId: string, role: string) =>
    event(EventType.UserRoleRevoked, userId, { userId, role }),
  userLocked: (userId: string) => event(EventType.UserLocked, userId, { userId }),
  userUnlocked: (userId: string) => event(EventType.UserUnlocked, userId, { userId }),
  clientRoleGranted: (clientId: string, role: string) =>
    event(EventType.ClientRoleGranted, clientId, { clientId, role }),
  clientRoleRevoked: (clientId: string, role: string) =>
    event(EventType.ClientRoleRevoked, clientId, { clientId, role }),
  groupRoleGranted: (groupId: string, role: string) =>
    event(EventType.GroupRoleGranted, groupId, { groupId, role }),
  groupRoleRevoked: (groupId: string, role: string) =>
    event(EventType.GroupRoleRevoked, groupId, { groupId, role }),
  groupMemberAdded: (groupId: string, memberType: 'USER' | 'BUSINESS' | 'SERVICE', memberId: string) =>
    event(EventType.GroupMemberAdded, groupId, { groupId, memberType, memberId }),
  groupMemberRemoved: (groupId: string, memberType: 'USER' | 'BUSINESS' | 'SERVICE', memberId: string) =>
    event(EventType.GroupMemberRemoved, groupId, { groupId, memberType, memberId }),
  groupDependencyAdded: (groupId: string, dependsOnGroupId: string) =>
    event(EventType.GroupDependencyAdded, groupId, { groupId, dependsOnGroupId }),
  groupDependencyRemoved: (groupId: string, dependsOnGroupId: string) =>
    event(EventType.GroupDependencyRemoved, groupId, { groupId, dependsOnGroupId }),
  groupDeleted: (groupId: string) => event(EventType.GroupDeleted, groupId, { groupId }),
  businessRoleGranted: (businessId: string, role: string) =>
    event(EventType.BusinessRoleGranted, businessId, { businessId, role }),
  businessRoleRevoked: (businessId: string, role: string) =>
    event(EventType.BusinessRoleRevoked, businessId, { businessId, role }),
  businessMemberAdded: (businessId: string, userId: string, roles: string[]) =>
    event(EventType.BusinessMemberAdded, businessId, { businessId, userId, roles }),
  businessMemberRemoved: (businessId: string, userId: string) =>
    event(EventType.BusinessMemberRemoved, businessId, { businessId, userId }),
  businessMemberRoleGranted: (businessId: string, userId: string, role: string) =>
    event(EventType.BusinessMemberRoleGranted, businessId, { businessId, userId, role }),
  businessMemberRoleRevoked: (businessId: string, userId: string, role: string) =>
    event(EventType.BusinessMemberRoleRevoked, businessId, { businessId, userId, role }),
  businessDeactivated: (businessId: string) =>
    event(EventType.BusinessDeactivated, businessId, { businessId }),
};

export function toMessage(cloudEvent: InboundCloudEvent): Message {
  return {
    key: cloudEvent.subject,
    value: JSON.stringify(cloudEvent),
    headers: { 'content-type': 'application/cloudevents+json' },
  };
}

/** Publishes events in order (same subject, same partition: they stay in order). */
export async function publish(topic: string, cloudEvents: readonly InboundCloudEvent[]): Promise<void> {
  const producer = await testProducer();
  await producer.send({ topic, messages: cloudEvents.map(toMessage) });
}

/** Publishes raw records (poison, fuzz). */
export async function publishRaw(topic: string, messages: Message[]): Promise<void> {
  const producer = await testProducer();
  await producer.send({ topic, messages });
}
