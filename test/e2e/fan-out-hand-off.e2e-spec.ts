import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, authorities } from '../support/applications';
import { events, publish } from '../support/events';
import { waitForSharedTopic } from '../support/kafka';
import { createDeployment, ServiceInstance, type Deployment } from '../support/service';
import { tearDownSuite } from '../support/suite';
import { holdBusinessSession, openBusinessSessions } from '../support/fan-outs';
import { SessionUpdateLog, waitUntilConsumed, type TokenRenewedData } from '../support/session-updates';

const BASE_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC'];
const BUSINESS = 'handoff-biz';
const SESSIONS = 300;
const PAGE = 50;
/** The fan-out's fourth page holds this session (in id order): the test keeps its row locked. */
const HELD_SESSION_INDEX = 3 * PAGE + 25;

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
  afterAll(() => tearDownSuite({ deployment, services: [first, second], readers: [updates] }));

  it('stops at its next batch when the group rebalances, and every session gets one token', async () => {
    const app = await Application.register(first, 'handoff-app');
    const users = Array.from({ length: SESSIONS }, (_, i) => `handoff-user-${String(i).padStart(3, '0')}`);
    const opened = await openBusinessSessions(deployment, app, BUSINESS, users);
    const sessions = new Map(opened.map((token) => [token.claims.sid, token.claims.user_id]));

    const held = await holdBusinessSession(deployment, BUSINESS, HELD_SESSION_INDEX);
    const granted = events.businessRoleGranted(BUSINESS, 'REBALANCED');
    try {
      await publish(deployment.topics.businessChanges, [granted]);
      // Three pages out: the fan-out is handed off and waits on the held row in its fourth.
      await updates.waitForCause(granted.id, 3 * PAGE, 30_000);

      second = await ServiceInstance.start(deployment);
      await waitForSharedTopic(deployment.groupId, deployment.topics.businessChanges, 2);
    } finally {
      await held.release();
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
    // A batch handed back at a rebalance is expected, not an error; nor are the broker's answers
    // that kafkajs logs on the way (at warn: pinoLogCreator).
    expect(first.logs.filter((line) => /"level":"(error|fatal)"/.test(line))).toEqual([]);
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
