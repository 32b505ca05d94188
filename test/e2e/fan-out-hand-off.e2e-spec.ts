import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, authorities } from '../support/applications';
import { events, publish } from '../support/events';
import { closeTestProducer, groupAssignments, testKafka } from '../support/kafka';
import { createDeployment, destroyDeployment, ServiceInstance, type Deployment } from '../support/service';
import { SessionUpdateLog, waitUntilConsumed, type TokenRenewedData } from '../support/session-updates';

const BASE_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC'];
const BUSINESS = 'handoff-biz';
const SESSIONS = 300;
const PAGE = 50;
/** The fan-out's fourth page holds this session (in id order): the test keeps its row locked. */
const HELD_SESSION_INDEX = 3 * PAGE + 25;

/** Until the consumer group is stable with this many members, each holding a share of the business topic. */
async function waitForMembers(deployment: Deployment, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const group = await groupAssignments(testKafka, deployment.groupId);
    const shares = group.members.map((member) => member.partitions[deployment.topics.businessChanges] ?? []);
    if (group.state === 'Stable' && shares.length === count && shares.every((share) => share.length > 0))
      return;
    if (Date.now() > deadline)
      throw new Error(`the group never had ${count} members: ${JSON.stringify(group)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A fan-out handed off (PartitionHandOffs) goes on beside kafkajs' fetches,
 * so the group can rebalance under it. It must then stop at its next batch
 * and leave the rest to whoever holds its partition: every session still gets
 * exactly one token for the change.
 */
describe('a handed-off fan-out across a rebalance (e2e)', () => {
  let deployment: Deployment;
  let first: ServiceInstance;
  let second: ServiceInstance | undefined;
  let updates: SessionUpdateLog;

  beforeAll(async () => {
    deployment = await createDeployment('handoff', {
      SESSION_UPDATE_PLAINTEXT: 'true',
      FANOUT_BATCH_SIZE: String(PAGE),
    });
    first = await ServiceInstance.start(deployment);
    updates = await SessionUpdateLog.open(deployment);
  });
  afterAll(async () => {
    await updates?.close();
    await closeTestProducer();
    await first?.stop();
    await second?.stop();
    await destroyDeployment(deployment);
  });

  it('stops at its next batch when the group rebalances, and every session gets one token', async () => {
    const app = await Application.register(first, 'handoff-app');
    const users = Array.from({ length: SESSIONS }, (_, i) => `handoff-user-${String(i).padStart(3, '0')}`);
    await publish(
      deployment.topics.businessChanges,
      users.map((user) => events.businessMemberAdded(BUSINESS, user, ['BUSINESSUSER'])),
    );
    await waitUntilConsumed(deployment, 60_000);
    const sessions = new Map<string, string>();
    for (let i = 0; i < users.length; i += 25) {
      const started = await Promise.all(
        users.slice(i, i + 25).map((user) => app.session(user, { businessId: BUSINESS })),
      );
      for (const token of started) sessions.set(token.claims.sid, token.claims.user_id);
    }

    const blocker = new Client({ connectionString: deployment.databaseUrl });
    await blocker.connect();
    const granted = events.businessRoleGranted(BUSINESS, 'REBALANCED');
    try {
      await blocker.query('BEGIN');
      // Found first, then locked: FOR UPDATE with OFFSET would lock every row the OFFSET skips.
      await blocker.query(
        `SELECT id FROM sessions WHERE id = (
           SELECT id FROM sessions WHERE business_id = $1 ORDER BY id OFFSET $2 LIMIT 1) FOR UPDATE`,
        [BUSINESS, HELD_SESSION_INDEX],
      );
      await publish(deployment.topics.businessChanges, [granted]);
      // Three pages out: the fan-out is handed off and waits on the held row in its fourth.
      await updates.waitForCause(granted.id, 3 * PAGE, 30_000);

      second = await ServiceInstance.start(deployment);
      await waitForMembers(deployment, 2);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }

    await updates.waitForCause(granted.id, SESSIONS, 60_000);
    await waitUntilConsumed(deployment, 60_000);
    while ((await updates.reader.countArrivingWithin(2_000)) > 0) {
      // Still publishing.
    }

    // The first instance's fan-out learnt of the rebalance from its own generation check (its
    // heartbeat would have succeeded: kafkajs had already rejoined) and stopped; the rest was done once.
    expect(
      first.logs.some((line) =>
        line.includes('the consumer group has rebalanced since this batch was fetched'),
      ),
    ).toBe(true);
    expect(first.logs.some((line) => line.includes('a handed-off batch stopped early'))).toBe(true);
    const tokens = updates.causedBy(granted.id);
    expect(tokens).toHaveLength(SESSIONS);
    expect(new Set(tokens.map((update) => update.event.data.sessionId))).toEqual(new Set(sessions.keys()));
    for (const { event } of tokens) {
      expect(event.data as TokenRenewedData).toMatchObject({
        authorities: authorities(...BASE_ROLES, 'BUSINESS', 'BUSINESSUSER', 'REBALANCED'),
        added: ['ROLE_REBALANCED'],
        claimsVersion: 2,
      });
    }
    const client = new Client({ connectionString: deployment.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ status: string }>(
        'SELECT status::text AS status FROM processed_events WHERE event_id = $1',
        [granted.id],
      );
      expect(rows).toEqual([{ status: 'COMPLETED' }]);
    } finally {
      await client.end();
    }
  });
});
