import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '@iam/domain';
import { Application, type UserToken } from '../support/applications';
import { event, publishRaw, toMessage, type InboundCloudEvent } from '../support/events';
import { TopicReader } from '../support/kafka';
import {
  familyOf,
  parseExposition,
  samplesOf,
  valueOf,
  type Exposition,
  type Sample,
} from '../support/prometheus';
import { LOGIN_PATH, RENEW_PATH, waitUntil } from '../support/renewal';
import { createDeployment, ServiceInstance, type Deployment } from '../support/service';
import { tearDownSuite } from '../support/suite';
import { SessionUpdateLog, waitUntilConsumed } from '../support/session-updates';

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** An event whose source time is now, so that its staleness is what the pipeline really took. */
const now = (cloudEvent: InboundCloudEvent): InboundCloudEvent => ({
  ...cloudEvent,
  time: new Date().toISOString(),
});

/** Every histogram family: cumulative buckets ending in +Inf, which equals _count. */
function expectWellFormedHistogram(exposition: Exposition, name: string, labels: Record<string, string>) {
  const buckets = samplesOf(exposition, `${name}_bucket`, labels).filter(
    (sample) => Object.keys(sample.labels).length === Object.keys(labels).length + 1,
  );
  const bounds = buckets.map((sample) => Number(sample.labels.le === '+Inf' ? Infinity : sample.labels.le));
  expect(bounds, `${name} ${JSON.stringify(labels)} buckets`).toEqual([...bounds].sort((a, b) => a - b));
  expect(bounds.at(-1)).toBe(Infinity);
  const counts = buckets.map((sample) => sample.value);
  expect(counts).toEqual([...counts].sort((a, b) => a - b));
  const count = valueOf(exposition, `${name}_count`, labels);
  expect(counts.at(-1)).toBe(count);
  expect(valueOf(exposition, `${name}_sum`, labels)).toBeGreaterThanOrEqual(0);
  return {
    count: count ?? 0,
    bucket: (le: string) => valueOf(exposition, `${name}_bucket`, { ...labels, le }),
  };
}

const series = (samples: readonly Sample[]): Array<Record<string, string | number>> =>
  samples
    .map((sample) => ({ ...sample.labels, value: sample.value }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/**
 * GET /metrics after real traffic through both doors (HTTP and Kafka): every
 * series the service documents is there, in the Prometheus text format, with
 * the labels and values the traffic must have produced.
 */
describe('Prometheus metrics (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let updates: SessionUpdateLog;
  let roleInput: TopicReader;
  let roleDlq: TopicReader;
  let app: Application;
  let alice: UserToken;
  let bob: UserToken;
  let exposition: Exposition;
  let body: string;
  const secrets: string[] = [];
  const aliceId = 'metrics-alice';
  const bobId = 'metrics-bob';
  let granted: InboundCloudEvent;
  let locked: InboundCloudEvent;

  const scrape = async () => {
    const response = await service.fetch('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(CONTENT_TYPE);
    const text = await response.text();
    return { text, exposition: parseExposition(text) };
  };

  beforeAll(async () => {
    deployment = await createDeployment('metrics');
    service = await ServiceInstance.start(deployment);
    updates = await SessionUpdateLog.open(deployment);
    roleInput = await TopicReader.open(deployment.topics.roleChanges);
    roleDlq = await TopicReader.open(`${deployment.topics.roleChanges}.dlq`);

    // HTTP: one client login, three successful renewals, a 401.
    app = await Application.register(service, 'metrics-app');
    alice = await app.session(aliceId);
    bob = await app.session(bobId);
    const renewed = await app.renewWithToken(alice.response.accessToken);
    expect(renewed.status).toBe(200);
    const garbage = `garbage-${randomUUID()}`;
    expect((await app.renewWithToken(garbage)).status).toBe(401);
    secrets.push(app.token, alice.response.accessToken, alice.response.refreshToken!, garbage);
    secrets.push(bob.response.accessToken, bob.response.refreshToken!);

    // Kafka: a role change, the same event again (a duplicate), a poison record, a user lock.
    granted = now(event(EventType.UserRoleGranted, aliceId, { userId: aliceId, role: 'METRICS' }));
    await publishRaw(deployment.topics.roleChanges, [toMessage(granted)]);
    await updates.waitForCause(granted.id);
    locked = now(event(EventType.UserLocked, bobId, { userId: bobId }));
    await publishRaw(deployment.topics.roleChanges, [
      toMessage(granted),
      { key: aliceId, value: '{"specversion": "1.0", "id": ', headers: { 'x-probe': 'poison' } },
      toMessage(locked),
    ]);
    await updates.waitForCause(locked.id);
    await roleDlq.waitFor((records) => records.length >= 1);

    // HTTP again: the locked user's renewal is refused (412); a request to no route, a secret in its path.
    expect((await app.renewWithToken(bob.response.accessToken)).status).toBe(412);
    const pathSecret = `path-secret-${randomUUID()}`;
    secrets.push(pathSecret);
    expect((await service.fetch(`${RENEW_PATH}/${pathSecret}?token=${pathSecret}`)).status).toBe(404);

    await waitUntilConsumed(deployment);
    await roleInput.waitFor((records) => records.length >= 4);
    // Counters move when the relay has published: wait for the last of them, then read once more.
    await waitUntil('the metrics to reflect the traffic', async () => {
      const { exposition: current } = await scrape();
      const published = valueOf(current, 'iam_messages_published_total', {
        topic: deployment.topics.sessionUpdates,
      });
      const dead = valueOf(current, 'iam_messages_published_total', {
        topic: `${deployment.topics.roleChanges}.dlq`,
      });
      const duplicate = valueOf(current, 'iam_events_consumed_total', {
        type: EventType.UserRoleGranted,
        outcome: 'duplicate',
      });
      return (published ?? 0) >= 5 && (dead ?? 0) >= 1 && (duplicate ?? 0) >= 1 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1_000));
    ({ text: body, exposition } = await scrape());
  });
  afterAll(() => tearDownSuite({ deployment, service, readers: [updates, roleInput, roleDlq] }));

  it('is well-formed text exposition: every sample of a family with HELP and TYPE', () => {
    expect(exposition.samples.length).toBeGreaterThan(0);
    for (const sample of exposition.samples) {
      const family = familyOf(exposition, sample.name);
      expect(family, `family of ${sample.name}`).toBeDefined();
      expect(exposition.help.get(family!)?.length, `HELP of ${family}`).toBeGreaterThan(0);
    }
    expect(
      Object.fromEntries([...exposition.types].filter(([name]) => !/^iam_(process|nodejs)_/.test(name))),
    ).toEqual({
      iam_events_consumed_total: 'counter',
      iam_dead_letters_total: 'counter',
      iam_tokens_issued_total: 'counter',
      iam_sessions_revoked_total: 'counter',
      iam_http_request_duration_seconds: 'histogram',
      iam_kafka_consumer_lag: 'gauge',
      iam_kafka_batches_handed_off: 'gauge',
      iam_outbox_backlog: 'gauge',
      iam_session_write_stalls_total: 'counter',
      iam_messages_published_total: 'counter',
      iam_role_change_staleness_seconds: 'histogram',
      iam_housekeeping_deleted_rows_total: 'counter',
    });
  });

  it('counts inbound records by type and outcome: applied, duplicate, dead-lettered', () => {
    expect(series(samplesOf(exposition, 'iam_events_consumed_total'))).toEqual(
      series([
        { name: '', labels: { type: EventType.UserRoleGranted, outcome: 'applied' }, value: 1 },
        { name: '', labels: { type: EventType.UserRoleGranted, outcome: 'duplicate' }, value: 1 },
        { name: '', labels: { type: EventType.UserLocked, outcome: 'applied' }, value: 1 },
        { name: '', labels: { type: 'invalid', outcome: 'dead_lettered' }, value: 1 },
      ]),
    );
  });

  it('counts dead letters by origin topic and reason', () => {
    expect(roleDlq.records.map((record) => record.headers['dlq-reason'])).toEqual(['not-json']);
    expect(series(samplesOf(exposition, 'iam_dead_letters_total'))).toEqual([
      { topic: deployment.topics.roleChanges, reason: 'not-json', value: 1 },
    ]);
  });

  it('counts issued tokens by cause, exactly as many as the traffic caused', () => {
    const onTopic = updates.all().map((update) => update.event);
    const httpTokens = onTopic.filter(
      (e) => e.type === 'iam.session.token-renewed' && e.data.cause.kind === 'http',
    ).length;
    const eventTokens = onTopic.filter(
      (e) => e.type === 'iam.session.token-renewed' && e.data.cause.kind === 'event',
    ).length;
    expect([httpTokens, eventTokens]).toEqual([3, 1]);
    expect(series(samplesOf(exposition, 'iam_tokens_issued_total'))).toEqual(
      series([
        { name: '', labels: { cause: 'client_login' }, value: 1 },
        { name: '', labels: { cause: 'http' }, value: 3 },
        { name: '', labels: { cause: 'event' }, value: 1 },
      ]),
    );
  });

  it('counts revoked sessions by reason', () => {
    expect(series(samplesOf(exposition, 'iam_sessions_revoked_total'))).toEqual([
      { reason: 'user-locked', value: 1 },
    ]);
  });

  it('counts published messages by topic; the outbox is drained', () => {
    expect(updates.size).toBe(5);
    expect(series(samplesOf(exposition, 'iam_messages_published_total'))).toEqual(
      series([
        { name: '', labels: { topic: deployment.topics.sessionUpdates }, value: 5 },
        { name: '', labels: { topic: `${deployment.topics.roleChanges}.dlq` }, value: 1 },
      ]),
    );
    expect(valueOf(exposition, 'iam_outbox_backlog')).toBe(0);
  });

  it('reports consumer lag per input partition, 0 once caught up', () => {
    const lags = samplesOf(exposition, 'iam_kafka_consumer_lag');
    const inputTopics = [deployment.topics.roleChanges, deployment.topics.businessChanges];
    for (const lag of lags) {
      expect(Object.keys(lag.labels).sort()).toEqual(['partition', 'topic']);
      expect(inputTopics).toContain(lag.labels.topic);
      expect(lag.labels.partition).toMatch(/^[0-3]$/);
      expect(lag.value, JSON.stringify(lag.labels)).toBe(0);
    }
    const fed = [...new Set(roleInput.records.map((record) => String(record.partition)))].sort();
    expect(fed.length).toBeGreaterThan(0);
    for (const partition of fed) {
      expect(
        valueOf(exposition, 'iam_kafka_consumer_lag', { topic: deployment.topics.roleChanges, partition }),
        `lag of partition ${partition}`,
      ).toBe(0);
    }
  });

  it("observes each event-caused update's staleness, from the change's source time to its publication", () => {
    const staleness = expectWellFormedHistogram(exposition, 'iam_role_change_staleness_seconds', {});
    // The role grant's token and the lock's revocation.
    expect(staleness.count).toBe(2);
    expect(staleness.bucket('30')).toBe(2);
    expect(valueOf(exposition, 'iam_role_change_staleness_seconds_sum')).toBeLessThan(60);
  });

  it('times HTTP requests by route template and status: Renew Token 200, 401, 412', () => {
    const renew = (status: string) =>
      expectWellFormedHistogram(exposition, 'iam_http_request_duration_seconds', {
        route: RENEW_PATH,
        status,
      });
    expect(renew('200').count).toBe(3);
    expect(renew('401').count).toBe(1);
    expect(renew('412').count).toBe(1);
    expect(
      expectWellFormedHistogram(exposition, 'iam_http_request_duration_seconds', {
        route: LOGIN_PATH,
        status: '200',
      }).count,
    ).toBe(1);
    const counted = samplesOf(exposition, 'iam_http_request_duration_seconds_count');
    const routes = new Set(counted.map((sample) => sample.labels.route));
    // Scrapes and health probes are not timed; the unrouted request is one bounded label, not its path.
    expect([...routes].sort()).toEqual([LOGIN_PATH, RENEW_PATH, 'unmatched'].sort());
    expect(
      series(counted.filter((sample) => sample.labels.route === RENEW_PATH)).map((entry) => entry.status),
    ).toEqual(['200', '401', '412']);
    expect(
      valueOf(exposition, 'iam_http_request_duration_seconds_count', { route: 'unmatched', status: '404' }),
    ).toBe(1);
  });

  it('never carries a token, a secret or a query string in a label or anywhere in the body', () => {
    for (const secret of secrets) expect(body.includes(secret), 'a secret in /metrics').toBe(false);
    for (const sample of exposition.samples) {
      for (const value of Object.values(sample.labels)) {
        expect(value).not.toContain('?');
        expect(value).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
        expect(value).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
      }
    }
  });

  it('exposes the default process metrics with the iam_ prefix', () => {
    // prom-client's own names (process_*, nodejs_*) behind the service's prefix.
    for (const name of [
      'iam_process_cpu_user_seconds_total',
      'iam_process_cpu_system_seconds_total',
      'iam_process_resident_memory_bytes',
      'iam_process_start_time_seconds',
      'iam_nodejs_heap_size_used_bytes',
      'iam_nodejs_eventloop_lag_seconds',
    ]) {
      expect(exposition.types.has(name), name).toBe(true);
      expect(samplesOf(exposition, name).length, name).toBeGreaterThan(0);
    }
    const started = valueOf(exposition, 'iam_process_start_time_seconds')!;
    expect(started).toBeGreaterThan(Date.now() / 1_000 - 300);
    expect(started).toBeLessThanOrEqual(Date.now() / 1_000);
    expect(valueOf(exposition, 'iam_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samplesOf(exposition, 'iam_nodejs_version_info')[0]?.labels.version).toBe(process.version);
  });

  it('does not count anything twice: a later scrape, without traffic, shows the same counters', async () => {
    await new Promise((r) => setTimeout(r, 1_500));
    const { exposition: later } = await scrape();
    for (const name of [
      'iam_events_consumed_total',
      'iam_dead_letters_total',
      'iam_tokens_issued_total',
      'iam_sessions_revoked_total',
      'iam_messages_published_total',
      'iam_role_change_staleness_seconds_count',
    ]) {
      expect(series(samplesOf(later, name)), name).toEqual(series(samplesOf(exposition, name)));
    }
  });
});
