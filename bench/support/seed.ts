import { testKafka } from '../../test/support/kafka';
import { events, publish, type InboundCloudEvent } from '../../test/support/events';
import type { Deployment } from '../../test/support/service';

/**
 * The benchmark's role model, published as AuthMe's services would: every user
 * has 5 roles and acts for a business with 3 roles (as its owner), and belongs
 * to a group that depends on a second, which depends on a third (a role each).
 */
export function roleModelEvents(
  userIds: readonly string[],
  businessId: string,
): {
  roleChanges: InboundCloudEvent[];
  businessChanges: InboundCloudEvent[];
} {
  const roleChanges: InboundCloudEvent[] = [
    events.groupRoleGranted('bench-g1', 'GROUP-ONE'),
    events.groupRoleGranted('bench-g2', 'GROUP-TWO'),
    events.groupRoleGranted('bench-g3', 'GROUP-THREE'),
    events.groupDependencyAdded('bench-g1', 'bench-g2'),
    events.groupDependencyAdded('bench-g2', 'bench-g3'),
  ];
  const businessChanges: InboundCloudEvent[] = ['PREMIUM', 'INVOICING', 'PAYROLL'].map((role) =>
    events.businessRoleGranted(businessId, role),
  );
  for (const userId of userIds) {
    for (const role of ['USER', 'PERSON', 'READER', 'WRITER', 'REVIEWER']) {
      roleChanges.push(events.userRoleGranted(userId, role));
    }
    roleChanges.push(events.groupMemberAdded('bench-g1', 'USER', userId));
    businessChanges.push(events.businessMemberAdded(businessId, userId, ['BUSINESSOWNER']));
  }
  return { roleChanges, businessChanges };
}

export async function publishRoleModel(
  deployment: Deployment,
  userIds: readonly string[],
  businessId: string,
) {
  const { roleChanges, businessChanges } = roleModelEvents(userIds, businessId);
  for (let i = 0; i < roleChanges.length; i += 500) {
    await publish(deployment.topics.roleChanges, roleChanges.slice(i, i + 500));
  }
  for (let i = 0; i < businessChanges.length; i += 500) {
    await publish(deployment.topics.businessChanges, businessChanges.slice(i, i + 500));
  }
}

/** Waits until the service's consumer group has committed every record of the topics. */
export async function waitForConsumer(
  groupId: string,
  topics: readonly string[],
  timeoutMs = 120_000,
): Promise<void> {
  const admin = testKafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let lag = 0;
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const end of ends) {
          const done = committed?.partitions.find(
            (partition) => partition.partition === end.partition,
          )?.offset;
          lag += Number(end.offset) - Math.max(0, Number(done ?? 0));
        }
      }
      if (lag === 0) return;
      if (Date.now() > deadline)
        throw new Error(`consumer still ${lag} records behind after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await admin.disconnect();
  }
}
