import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, authorities, userClaimsOf } from '../support/applications';
import { events, publish, type InboundCloudEvent } from '../support/events';
import { testKafka } from '../support/kafka';
import { parseExposition, samplesOf, valueOf, type Exposition } from '../support/prometheus';
import { holdBusinessSession, openBusinessSessions } from '../support/fan-outs';
import { createDeployment, runCli, ServiceInstance, type Deployment } from '../support/service';
import { waitUntil } from '../support/renewal';
import { tearDownSuite } from '../support/suite';
import {
  consumerLag,
  SessionUpdateLog,
  waitUntilConsumed,
  type TokenRenewedData,
} from '../support/session-updates';

const BASE_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC'];
const withRoles = (...roles: string[]) => authorities(...BASE_ROLES, ...roles);
const FANOUT_SESSIONS = 300;

/**
 * Exactly-once effects of the event path: a redelivered event, a replay of the
 * whole input from the earliest offsets, and a large fan-out each leave every
 * session with one token per change, versions in sequence.
 */
describe('exactly-once processing of change events (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let updates: SessionUpdateLog;
  let app: Application;

  const roleTopic = () => deployment.topics.roleChanges;
  const businessTopic = () => deployment.topics.businessChanges;
  const inputTopics = () => [roleTopic(), businessTopic()];

  /** Waits until the consumer committed everything and the session-update topic stopped growing. */
  async function settled(quietMs = 1_500): Promise<void> {
    await waitUntilConsumed(deployment, 60_000);
    while ((await updates.reader.countArrivingWithin(quietMs)) > 0) {
      // Still publishing.
    }
  }

  /**
   * Delivers events of one user again, then a grant of `sentinelRole` to that user: same key,
   * same partition, so once the sentinel's token is out the events before it were processed.
   */
  async function deliverAgain(user: string, again: InboundCloudEvent[], sentinelRole: string): Promise<void> {
    await publish(roleTopic(), again);
    const sentinel = events.userRoleGranted(user, sentinelRole);
    await publish(roleTopic(), [sentinel]);
    await updates.waitForCause(sentinel.id);
    await settled();
  }

  async function scrapeMetrics() {
    const response = await service.fetch('/metrics');
    expect(response.status).toBe(200);
    return parseExposition(await response.text());
  }

  /** The consumer lag summed over the business-change topic's partitions. */
  const businessLag = (exposition: Exposition) =>
    samplesOf(exposition, 'iam_kafka_consumer_lag', { topic: businessTopic() }).reduce(
      (sum, sample) => sum + sample.value,
      0,
    );
  const lagsOf = (exposition: Exposition) => JSON.stringify(samplesOf(exposition, 'iam_kafka_consumer_lag'));

  /** How many of these events have a completed record in the service's database. */
  async function completedRecords(eventIds: readonly string[]): Promise<number> {
    const client = new Client({ connectionString: deployment.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM processed_events WHERE event_id = ANY($1) AND status = 'COMPLETED'",
        [eventIds],
      );
      return rows[0]!.n;
    } finally {
      await client.end();
    }
  }

  async function inputRecordCount(): Promise<number> {
    const admin = testKafka.admin();
    await admin.connect();
    try {
      let total = 0;
      for (const topic of inputTopics()) {
        for (const partition of await admin.fetchTopicOffsets(topic)) total += Number(partition.high);
      }
      return total;
    } finally {
      await admin.disconnect();
    }
  }

  beforeAll(async () => {
    // Plain tokens on the topic (claims are what these tests compare); small fan-out batches.
    deployment = await createDeployment('exactlyonce', {
      SESSION_UPDATE_PLAINTEXT: 'true',
      FANOUT_BATCH_SIZE: '64',
    });
    service = await ServiceInstance.start(deployment);
    updates = await SessionUpdateLog.open(deployment);
    app = await Application.register(service, 'web-app');
  });
  afterAll(() => tearDownSuite({ deployment, service, readers: [updates] }));

  it('a duplicate delivery (same event id) changes nothing the second time and publishes nothing', async () => {
    const user = 'duplicate-user';
    const start = await app.session(user);
    const grant = events.userRoleGranted(user, 'DUP');
    await publish(roleTopic(), [grant]);
    await updates.waitForCause(grant.id);

    // Delivered again right away, and again after the fact was revoked: neither counts.
    await publish(roleTopic(), [grant]);
    const revoke = events.userRoleRevoked(user, 'DUP');
    await publish(roleTopic(), [revoke]);
    await updates.waitForCause(revoke.id);
    await deliverAgain(user, [grant, revoke], 'AFTER');

    expect(updates.causedBy(grant.id)).toHaveLength(1);
    expect(updates.causedBy(revoke.id)).toHaveLength(1);
    const sequence = updates.forSession(start.claims.sid).map((update) => {
      const data = update.event.data as TokenRenewedData;
      return { version: data.claimsVersion, added: data.added, removed: data.removed, kind: data.cause.kind };
    });
    expect(sequence).toEqual([
      { version: 1, added: withRoles(), removed: [], kind: 'http' },
      { version: 2, added: ['ROLE_DUP'], removed: [], kind: 'event' },
      { version: 3, added: [], removed: ['ROLE_DUP'], kind: 'event' },
      { version: 4, added: ['ROLE_AFTER'], removed: [], kind: 'event' },
    ]);
    const next = await app.session(user);
    expect(next.claims).toMatchObject({ authorities: withRoles('AFTER'), claims_version: 5 });
  });

  it(`a fan-out: one business role change re-issues ${FANOUT_SESSIONS} sessions acting for the business, each exactly once`, async () => {
    const business = 'fanout-biz';
    const users = Array.from(
      { length: FANOUT_SESSIONS },
      (_, i) => `fanout-user-${String(i).padStart(3, '0')}`,
    );
    const sessions = new Map<string, string>();
    for (const token of await openBusinessSessions(deployment, app, business, users)) {
      expect(token.claims).toMatchObject({
        business_id: business,
        claims_version: 1,
        authorities: withRoles('BUSINESS', 'BUSINESSUSER'),
      });
      sessions.set(token.claims.sid, token.claims.user_id);
    }
    expect(sessions.size).toBe(FANOUT_SESSIONS);

    const granted = events.businessRoleGranted(business, 'FANOUT');
    await publish(businessTopic(), [granted]);
    await updates.waitForCause(granted.id, FANOUT_SESSIONS, 60_000);
    await settled();

    const fannedOut = updates.causedBy(granted.id);
    expect(fannedOut).toHaveLength(FANOUT_SESSIONS);
    expect(new Set(fannedOut.map((update) => update.event.data.sessionId))).toEqual(new Set(sessions.keys()));
    for (const { record, event } of fannedOut) {
      const data = event.data as TokenRenewedData;
      expect(record.key).toBe(sessions.get(data.sessionId));
      expect(data).toMatchObject({
        userId: sessions.get(data.sessionId),
        businessId: business,
        tokenEncryption: 'none',
        authorities: withRoles('BUSINESS', 'BUSINESSUSER', 'FANOUT'),
        added: ['ROLE_FANOUT'],
        removed: [],
        claimsVersion: 2,
        cause: { kind: 'event', eventId: granted.id, eventType: 'iam.business.role.granted' },
      });
      expect(userClaimsOf(data.accessToken)).toMatchObject({
        sid: data.sessionId,
        claims_version: 2,
        authorities: data.authorities,
      });
    }
  });

  it('a long fan-out holds back no other partition: another user’s change goes through while it runs', async () => {
    const business = 'held-biz';
    const users = Array.from({ length: 200 }, (_, i) => `held-user-${String(i).padStart(3, '0')}`);
    await openBusinessSessions(deployment, app, business, users);
    const bystander = 'bystander-user';
    await app.session(bystander);

    // The fan-out pages through sessions in id order: its last page waits on a row this test holds.
    const held = await holdBusinessSession(deployment, business, 'last');
    const granted = events.businessRoleGranted(business, 'HELD');
    try {
      await publish(businessTopic(), [granted]);
      await updates.waitForCause(granted.id, 64, 30_000);
      // The fan-out has reached the held row: its write of that page waits from now on.
      await held.waitedOn();

      // On the other input topic, so on another partition: kafkajs fetches both in one request.
      const change = events.userRoleGranted(bystander, 'NOT-HELD-BACK');
      await publish(roleTopic(), [change]);
      const [update] = await updates.waitForCause(change.id, 1, 20_000);
      expect(update!.event.data).toMatchObject({ userId: bystander, added: ['ROLE_NOT-HELD-BACK'] });
      expect(updates.causedBy(granted.id).length).toBeLessThan(users.length);

      // Operators see the work in flight: the batch counts as handed off, its record as not consumed.
      const during = await scrapeMetrics();
      expect(valueOf(during, 'iam_kafka_batches_handed_off')).toBe(1);
      expect(businessLag(during), lagsOf(during)).toBe(1);
      // The bystander's write went out beside the fan-out page waiting for the held row.
      expect(valueOf(during, 'iam_session_write_stalls_total')).toBeGreaterThanOrEqual(1);
    } finally {
      await held.release();
    }
    await updates.waitForCause(granted.id, users.length, 60_000);
    await settled();
    expect(updates.causedBy(granted.id)).toHaveLength(users.length);
    const after = await scrapeMetrics();
    expect(valueOf(after, 'iam_kafka_batches_handed_off')).toBe(0);
    expect(businessLag(after), lagsOf(after)).toBe(0);
  });

  it('a replay from the earliest offsets after a restart publishes nothing and leaves every token as it was', async () => {
    // A stream of changes for a few users: grants and revocations, a business, a group.
    const users = ['replay-a', 'replay-b', 'replay-c', 'replay-d', 'replay-e'];
    const started = await Promise.all(users.map((user) => app.session(user)));
    const stream: InboundCloudEvent[] = [];
    const roles = ['R1', 'R2', 'R3'];
    for (let step = 0; step < 8; step += 1) {
      users.forEach((user, index) => {
        const role = roles[(step + index) % roles.length]!;
        stream.push(step % 3 === 2 ? events.userRoleRevoked(user, role) : events.userRoleGranted(user, role));
      });
    }
    stream.push(events.groupRoleGranted('replay-group', 'REPLAYED'));
    stream.push(events.groupMemberAdded('replay-group', 'USER', 'replay-a'));
    stream.push(events.groupMemberAdded('replay-group', 'USER', 'replay-b'));
    stream.push(events.userLocked('replay-e'));
    await publish(roleTopic(), stream);
    await updates.waitForCause(stream[stream.length - 1]!.id);
    await settled();

    const before = updates.size;
    const latest = new Map(
      started.map((token) => [token.claims.sid, updates.latestToken(token.claims.sid)?.data]),
    );
    expect(updates.forSession(started[4]!.claims.sid).at(-1)?.event.type).toBe('iam.session.revoked');

    expect(await service.stop('SIGTERM')).toBe(0);
    const admin = testKafka.admin();
    await admin.connect();
    try {
      for (const topic of inputTopics()) {
        await admin.resetOffsets({ groupId: deployment.groupId, topic, earliest: true });
      }
    } finally {
      await admin.disconnect();
    }
    const records = await inputRecordCount();
    expect(await consumerLag(deployment.groupId, inputTopics())).toBe(records);

    service = await ServiceInstance.start(deployment, { env: { LOG_LEVEL: 'debug' } });
    await waitUntilConsumed(deployment, 60_000);
    expect(await updates.reader.countArrivingWithin(5_000)).toBe(0);
    expect(updates.size).toBe(before);

    // Every record was seen again, and every one was recognised as done.
    const applied = service.logs
      .filter((line) => line.includes('"msg":"event applied"'))
      .map(
        (line) => JSON.parse(line) as { topic: string; partition: number; offset: string; applied: string },
      );
    expect(new Set(applied.map((entry) => `${entry.topic}/${entry.partition}/${entry.offset}`)).size).toBe(
      records,
    );
    expect(applied.filter((entry) => entry.applied !== 'duplicate')).toEqual([]);

    // The tokens are as they were: the next renewal carries the same authorities, one version on.
    app = await app.on(service);
    for (const token of started.slice(0, 4)) {
      const last = latest.get(token.claims.sid)!;
      const next = await app.session(token.claims.user_id);
      expect(next.claims).toMatchObject({
        sid: token.claims.sid,
        authorities: last.authorities,
        claims_version: last.claimsVersion + 1,
      });
    }
    expect((await app.renewWithToken(started[4]!.response.accessToken)).status).toBe(412);
  });

  it('HTTP renewals racing a stream of events on the same session never share or skip a version', async () => {
    const user = 'race-user';
    const start = await app.session(user);
    const stream: InboundCloudEvent[] = [];
    const held = new Set<string>();
    for (let i = 0; i < 63; i += 1) {
      const role = `RACE-${i % 6}`;
      stream.push(held.has(role) ? events.userRoleRevoked(user, role) : events.userRoleGranted(user, role));
      if (held.has(role)) held.delete(role);
      else held.add(role);
    }
    const httpVersions: number[] = [];
    await Promise.all([
      (async () => {
        for (let i = 0; i < stream.length; i += 3) {
          await publish(roleTopic(), stream.slice(i, i + 3));
          await new Promise((r) => setTimeout(r, 15));
        }
      })(),
      (async () => {
        for (let i = 0; i < 30; i += 1) httpVersions.push((await app.session(user)).claims.claims_version);
      })(),
    ]);
    await waitUntilConsumed(deployment);
    await settled();

    const tokens = updates
      .forSession(start.claims.sid)
      .map((update) => update.event.data as TokenRenewedData);
    expect(tokens.map((data) => data.claimsVersion)).toEqual(
      Array.from({ length: tokens.length }, (_, i) => i + 1),
    );
    // Every HTTP renewal got a version of its own, and it is on the topic as an HTTP-caused token.
    expect(new Set(httpVersions).size).toBe(30);
    for (const version of httpVersions) expect(tokens[version - 1]!.cause).toEqual({ kind: 'http' });
    // An event re-issues at most once (not at all when a renewal already carried its change).
    const eventIds = tokens.flatMap((data) => (data.cause.kind === 'event' ? [data.cause.eventId] : []));
    expect(new Set(eventIds).size).toBe(eventIds.length);
    expect(tokens.length).toBe(1 + 30 + eventIds.length);
    for (let i = 1; i < tokens.length; i += 1) {
      const previous = tokens[i - 1]!;
      const current = tokens[i]!;
      const rebuilt = previous.authorities
        .filter((authority) => !current.removed.includes(authority))
        .concat(current.added)
        .sort();
      expect(rebuilt, `v${current.claimsVersion}`).toEqual(current.authorities);
      if (current.cause.kind === 'event')
        expect(current.added.length + current.removed.length).toBeGreaterThan(0);
    }
    const finalRoles = withRoles('RACE-0', 'RACE-1', 'RACE-2');
    expect(tokens.at(-1)!.authorities).toEqual(finalRoles);
    expect((await app.session(user)).claims).toMatchObject({
      authorities: finalRoles,
      claims_version: tokens.length + 1,
    });
  });

  it('once housekeeping has deleted the events’ records, delivering them again changes and publishes nothing', async () => {
    const user = 'pruned-user';
    const start = await app.session(user);
    const grant = events.userRoleGranted(user, 'PRUNED');
    await publish(roleTopic(), [grant]);
    await updates.waitForCause(grant.id);
    const revoke = events.userRoleRevoked(user, 'PRUNED');
    await publish(roleTopic(), [revoke]);
    await updates.waitForCause(revoke.id);

    // Both completed (an update can be read before its event's completion commits), then a
    // retention of 1 ms: every completed event's record goes, these two included.
    const records = () => completedRecords([grant.id, revoke.id]);
    await waitUntil('both events completed', async () => ((await records()) === 2 ? true : undefined));
    const run = await runCli(deployment, ['housekeeping', 'run', '--json'], {
      PROCESSED_EVENT_RETENTION: '1ms',
    });
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { processedEvents: number }).processedEvents).toBeGreaterThanOrEqual(2);
    expect(await records()).toBe(0);

    // The stale grant does not come back (the fact's revocation is newer) and nothing is re-issued.
    await deliverAgain(user, [grant, revoke], 'AFTER-PRUNE');

    expect(updates.causedBy(grant.id)).toHaveLength(1);
    expect(updates.causedBy(revoke.id)).toHaveLength(1);
    expect(updates.forSession(start.claims.sid).map((update) => update.event.data.claimsVersion)).toEqual([
      1, 2, 3, 4,
    ]);
    expect((await app.session(user)).claims.authorities).toEqual(withRoles('AFTER-PRUNE'));
  });

  it('on the topic, each session’s claims versions run 1, 2, 3, … with no gap and no duplicate', async () => {
    await settled();
    const bySession = new Map<string, number[]>();
    for (const update of updates.all()) {
      const { sessionId, claimsVersion } = update.event.data;
      bySession.set(sessionId, [...(bySession.get(sessionId) ?? []), claimsVersion]);
    }
    expect(bySession.size).toBeGreaterThanOrEqual(FANOUT_SESSIONS + 7);
    for (const [sessionId, versions] of bySession) {
      expect({ sessionId, versions }).toEqual({
        sessionId,
        versions: Array.from({ length: versions.length }, (_, i) => i + 1),
      });
    }
  });
});
