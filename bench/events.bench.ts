/**
 * npm run bench:events — event-driven renewal under load.
 *
 * Starts the built service against the real PostgreSQL and Kafka, opens live
 * sessions over HTTP, then measures from this separate process, which produces
 * role changes with plain kafkajs and reads the session-update topic:
 *   (a) sustained: a backlog of role changes, each changing one session's
 *       authorities, processed as fast as the service can: renewals/s
 *       (median of several runs);
 *   (b) latency: role changes offered at a fixed rate (300/s by default);
 *       end-to-end from produce to the session update being readable;
 *   (c) fan-out: one business role change for 10,000 live sessions acting for
 *       that business: time until the last update is readable; and how long
 *       role changes of 8 other users, produced while it runs, take to be readable;
 *   (d) a change that reaches those 10,000 sessions and changes none of them
 *       (each is confirmed, nothing is published): time until it completes.
 * Also the service's peak RSS (and its high-water mark after each phase), for
 * (a), (b) and (c) where the machine's CPU went (service, PostgreSQL, broker,
 * load generator, idle, steal), for (b) where its latency went by stage, and,
 * since the machine's speed varies from hour to hour, what (a) cost in CPU per
 * renewal and the RSA-2048 signing rate of one core, both measured in the same run.
 *
 * Settings (environment): BENCH_USERS (1000), BENCH_EVENTS (10000), BENCH_RUNS (3),
 * BENCH_RATE (300), BENCH_RATE_DURATION_S (20), BENCH_FANOUT (10000), BENCH_PARTITIONS (8: input
 * partitions, and the service's consumer concurrency).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { events, publish, type InboundCloudEvent } from '../test/support/events';
import { loginClient, renewToken } from '../test/support/http';
import { closeTestProducer, TopicReader, type ReceivedRecord } from '../test/support/kafka';
import { registerClient } from '../test/support/applications';
import {
  createDeployment,
  destroyDeployment,
  type ServiceInstance,
  type Deployment,
} from '../test/support/service';
import {
  coreCount,
  CpuSplitSampler,
  describeCpuSplit,
  type CpuSplit,
  memoryOf,
} from './support/process-stats';
import { startServiceUnderTest } from './support/service-under-test';
import { describeMachineSpeed, measureMachineSpeed } from './support/machine-speed';
import { waitForConsumer } from './support/seed';
import { fixed, median, summarize } from './support/stats';

const USERS = Number(process.env.BENCH_USERS ?? 1_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RATE = Number(process.env.BENCH_RATE ?? 300);
const RATE_DURATION_MS = Number(process.env.BENCH_RATE_DURATION_S ?? 20) * 1_000;
const FANOUT = Number(process.env.BENCH_FANOUT ?? 10_000);
const PARTITIONS = process.env.BENCH_PARTITIONS ?? '8';
const CLIENT = { id: 'bench-app', secret: 'bench-app-secret-0123456789' };
const FANOUT_BUSINESS = 'bench-fanout-business';
/** Role changes of users outside the business, produced this long into the fan-out: they must not wait for it. */
const BYSTANDERS = 8;
const BYSTANDERS_AFTER_MS = 500;
const FANOUT_GROUP = 'bench-fanout-group';

const log = (message: string) => process.stderr.write(`[bench:events] ${message}\n`);

interface Update {
  type: string;
  /** When the service encoded the update: after its signature and JWE, before its write is batched and committed. */
  time: string;
  data: { sessionId: string; cause: { kind: string; eventId?: string } };
}

interface CausedUpdate {
  readonly eventId: string;
  /** performance.now() when this process could read the update. */
  readonly at: number;
  /**
   * The same clock's readings of when the service encoded the update and when
   * the relay's producer built the record (before the relay's Kafka
   * transaction commits; Kafka's default CreateTime, which topics here keep).
   */
  readonly encodedAt: number;
  readonly builtAt: number;
}

/** performance.now()'s reading of a wall-clock instant (same machine, same clock). */
const onPerformanceClock = (epochMs: number) => epochMs - performance.timeOrigin;

/** Session updates caused by events, with when this process could read them. */
function causedBy(records: readonly ReceivedRecord[], from: number): CausedUpdate[] {
  const caused: CausedUpdate[] = [];
  for (let i = from; i < records.length; i += 1) {
    const record = records[i]!;
    const update = JSON.parse(record.value!.toString()) as Update;
    if (update.data.cause.kind === 'event')
      caused.push({
        eventId: update.data.cause.eventId!,
        at: record.receivedAt,
        encodedAt: onPerformanceClock(Date.parse(update.time)),
        builtAt: onPerformanceClock(Number(record.timestamp)),
      });
  }
  return caused;
}

/**
 * Where the latency of one run went, as means (which add up to the mean end
 * to end): produce -> encoded (broker, fetch, the event's run up to its
 * signature and JWE), -> built by the relay (the write's batch and commit, the
 * outbox, the relay's claim), -> read (the relay's Kafka transaction, the
 * reader's fetch; the reader reads committed records only).
 */
function latencyStages(updates: readonly CausedUpdate[], producedAt: ReadonlyMap<string, number>): string {
  const mean = (ms: (update: CausedUpdate) => number) =>
    fixed(updates.reduce((sum, update) => sum + ms(update), 0) / updates.length);
  return (
    `stages (mean): produce -> encoded ${mean((u) => u.encodedAt - producedAt.get(u.eventId)!)} ms, ` +
    `-> built by the relay ${mean((u) => u.builtAt - u.encodedAt)} ms, -> read ${mean((u) => u.at - u.builtAt)} ms`
  );
}

async function openSessions(
  service: ServiceInstance,
  caller: string,
  userIds: readonly string[],
  businessId?: string,
) {
  const concurrency = 16;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < userIds.length) {
        const userId = userIds[next++]!;
        const response = await renewToken(service, caller, {
          userId,
          clientId: CLIENT.id,
          'remember-me': 'false',
          ...(businessId ? { businessId } : {}),
        });
        if (response.status !== 200)
          throw new Error(`session for ${userId}: ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
}

/** Alternating grant/revoke of one role per user: every event changes exactly one session. */
function toggles(userIds: readonly string[], count: number, held: Map<string, boolean>): InboundCloudEvent[] {
  return Array.from({ length: count }, (_, index) => {
    const userId = userIds[index % userIds.length]!;
    const granted = held.get(userId) ?? false;
    held.set(userId, !granted);
    return granted ? events.userRoleRevoked(userId, 'TOGGLED') : events.userRoleGranted(userId, 'TOGGLED');
  });
}

async function waitForUpdates(reader: TopicReader, from: number, expected: number, timeoutMs: number) {
  await reader.waitFor((records) => records.length - from >= expected, timeoutMs);
}

/** When the service claimed an event and when it recorded it completed, on performance.now()'s clock. */
interface EventTimeline {
  readonly claimedAt: number;
  readonly completedAt: number;
}

/**
 * Waits until the service records the event completed (every affected session
 * settled). `processed_at` and `completed_at` are now() of the claiming and
 * the completing transaction: when each began.
 */
async function waitForCompletion(
  databaseUrl: string,
  eventId: string,
  timeoutMs: number,
): Promise<EventTimeline> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await client.query<{ status: string; claimed: string; completed: string | null }>(
        `SELECT status::text AS status, extract(epoch FROM processed_at) * 1000 AS claimed,
                extract(epoch FROM completed_at) * 1000 AS completed
         FROM processed_events WHERE event_id = $1`,
        [eventId],
      );
      const row = rows[0];
      if (row?.status === 'COMPLETED')
        return {
          claimedAt: onPerformanceClock(Number(row.claimed)),
          completedAt: onPerformanceClock(Number(row.completed)),
        };
      if (Date.now() > deadline) throw new Error(`event ${eventId} not completed within ${timeoutMs} ms`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 20));
    }
  } finally {
    await client.end();
  }
}

/**
 * Where a fan-out's time went, in seconds from the produce: the claim (broker,
 * fetch, the consumer's queue), the first and the last update encoded, the
 * last built by the relay, the last readable, and when the transaction that
 * recorded the completion began.
 */
function fanOutStages(started: number, timeline: EventTimeline, updates: readonly CausedUpdate[]): string {
  const at = (ms: number) => fixed((ms - started) / 1_000, 2);
  const latest = (ms: (update: CausedUpdate) => number) => at(Math.max(...updates.map(ms)));
  const encoded =
    updates.length === 0
      ? ''
      : `first encoded ${at(Math.min(...updates.map((u) => u.encodedAt)))} s, last encoded ${latest((u) => u.encodedAt)} s, ` +
        `last built ${latest((u) => u.builtAt)} s, last readable ${latest((u) => u.at)} s, `;
  return `stages from the produce: claimed ${at(timeline.claimedAt)} s, ${encoded}completed ${at(timeline.completedAt)} s`;
}

async function main(): Promise<void> {
  const deployment: Deployment = await createDeployment('bench_events', {
    LOG_LEVEL: 'info',
    DATABASE_POOL_SIZE: '16',
    KAFKA_TOPIC_PARTITIONS: PARTITIONS,
    KAFKA_CONSUMER_CONCURRENCY: PARTITIONS,
    SESSION_UPDATE_PLAINTEXT: 'false',
    // The relay's linger is the knob between broker work per update and latency (docs/benchmarks-history.md, seventh session).
    ...(process.env.OUTBOX_LINGER ? { OUTBOX_LINGER: process.env.OUTBOX_LINGER } : {}),
  });
  const service = await startServiceUnderTest(deployment);
  const reader = await TopicReader.open(deployment.topics.sessionUpdates);
  try {
    await registerClient(deployment, CLIENT.id, { secret: CLIENT.secret });
    const caller = (await loginClient(service, CLIENT.id, CLIENT.secret)).accessToken;

    const userIds = Array.from({ length: USERS }, (_, index) => `bench-user-${index}`);
    log(`opening ${USERS} sessions`);
    await openSessions(service, caller, userIds);
    await waitForUpdates(reader, 0, USERS, 60_000);

    // (a) sustained throughput: a backlog processed as fast as possible.
    const held = new Map<string, boolean>();
    const sustained: number[] = [];
    const sustainedCpu: CpuSplit[] = [];
    for (let run = 1; run <= RUNS; run += 1) {
      const batch = toggles(userIds, EVENTS, held);
      const from = reader.records.length;
      const started = performance.now();
      const sampler = CpuSplitSampler.start(service.pid!);
      for (let i = 0; i < batch.length; i += 1_000)
        await publish(deployment.topics.roleChanges, batch.slice(i, i + 1_000));
      await waitForUpdates(reader, from, EVENTS, 300_000);
      const seconds = (performance.now() - started) / 1_000;
      const cpu = sampler.stop();
      sustained.push(EVENTS / seconds);
      sustainedCpu.push(cpu);
      log(
        `sustained run ${run}: ${EVENTS} role changes -> ${EVENTS} session updates in ${fixed(seconds, 2)} s = ${fixed(EVENTS / seconds, 0)} renewals/s; ` +
          `CPU: ${describeCpuSplit(cpu)}`,
      );
    }

    // VmHWM only grows: read after each phase, it shows which phase set the peak.
    const peakRssAfter = { a: memoryOf(service.pid!).peakRssMb, b: 0, open: 0, c: 0 };

    // (b) end-to-end latency at a fixed offered rate.
    const latencies: number[][] = [];
    for (let run = 1; run <= RUNS; run += 1) {
      const count = Math.round((RATE * RATE_DURATION_MS) / 1_000);
      const batch = toggles(userIds, count, held);
      const producedAt = new Map<string, number>();
      const from = reader.records.length;
      const interval = 1_000 / RATE;
      const started = performance.now();
      const sampler = CpuSplitSampler.start(service.pid!);
      for (let i = 0; i < batch.length; i += 1) {
        const due = started + i * interval;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        producedAt.set(batch[i]!.id, performance.now());
        void publish(deployment.topics.roleChanges, [batch[i]!]);
      }
      await waitForUpdates(reader, from, count, 120_000);
      const cpu = sampler.stop();
      const updates = causedBy(reader.records, from);
      const runLatencies = updates.map(({ eventId, at }) => at - producedAt.get(eventId)!);
      latencies.push(runLatencies);
      const summary = summarize(runLatencies);
      log(
        `latency run ${run} at ${RATE}/s: p50 ${fixed(summary.p50)} ms, p95 ${fixed(summary.p95)} ms, p99 ${fixed(summary.p99)} ms (${summary.count} updates); ${latencyStages(updates, producedAt)}; CPU: ${describeCpuSplit(cpu)}`,
      );
    }

    peakRssAfter.b = memoryOf(service.pid!).peakRssMb;

    // (c) fan-out: one business role change for FANOUT live sessions.
    log(`opening ${FANOUT} sessions acting for ${FANOUT_BUSINESS}`);
    const members = Array.from({ length: FANOUT }, (_, index) => `fanout-user-${index}`);
    for (let i = 0; i < members.length; i += 1_000) {
      await publish(
        deployment.topics.businessChanges,
        members
          .slice(i, i + 1_000)
          .map((userId) => events.businessMemberAdded(FANOUT_BUSINESS, userId, ['BUSINESSUSER'])),
      );
    }
    await waitForConsumer(deployment.groupId, [deployment.topics.businessChanges]);
    const beforeSessions = reader.records.length;
    await openSessions(service, caller, members, FANOUT_BUSINESS);
    await waitForUpdates(reader, beforeSessions, FANOUT, 120_000);
    peakRssAfter.open = memoryOf(service.pid!).peakRssMb;
    const change = events.businessRoleGranted(FANOUT_BUSINESS, 'FANOUT-ROLE');
    const from = reader.records.length;
    const started = performance.now();
    const fanOutSampler = CpuSplitSampler.start(service.pid!);
    await publish(deployment.topics.businessChanges, [change]);
    // Bystanders: users outside the business whose role changes arrive while the fan-out runs.
    await new Promise((resolveWait) => setTimeout(resolveWait, BYSTANDERS_AFTER_MS));
    const bystanders = userIds
      .slice(0, BYSTANDERS)
      .map((userId) => events.userRoleGranted(userId, 'BYSTANDER'));
    const bystandersProducedAt = performance.now();
    await publish(deployment.topics.roleChanges, bystanders);
    await waitForUpdates(reader, from, FANOUT + bystanders.length, 120_000);
    const fanOutCpu = fanOutSampler.stop();
    const bystanderIds = new Set(bystanders.map((bystander) => bystander.id));
    const caused = causedBy(reader.records, from);
    const bystanderMs = caused
      .filter(({ eventId }) => bystanderIds.has(eventId))
      .map(({ at }) => at - bystandersProducedAt);
    const fanOutUpdates = caused.filter(({ eventId }) => eventId === change.id);
    const fanOutSeconds = (Math.max(...fanOutUpdates.map(({ at }) => at)) - started) / 1_000;
    const fanOutTimeline = await waitForCompletion(deployment.databaseUrl, change.id, 120_000);
    log(
      `fan-out: ${FANOUT} session updates readable ${fixed(fanOutSeconds, 2)} s after the change was produced; ` +
        `${fanOutStages(started, fanOutTimeline, fanOutUpdates)}; CPU: ${describeCpuSplit(fanOutCpu)}`,
    );
    log(
      `bystanders: ${BYSTANDERS} user role changes produced ${BYSTANDERS_AFTER_MS} ms into the fan-out readable after ` +
        `${bystanderMs.map((ms) => fixed(ms, 0)).join(', ')} ms`,
    );

    peakRssAfter.c = memoryOf(service.pid!).peakRssMb;

    // (d) the business joins a group whose only role the business already has: every session is
    // in the change's scope, none changes. Timed until the service records the event completed.
    await publish(deployment.topics.roleChanges, [events.groupRoleGranted(FANOUT_GROUP, 'FANOUT-ROLE')]);
    await waitForConsumer(deployment.groupId, [deployment.topics.roleChanges]);
    const unchanging = events.groupMemberAdded(FANOUT_GROUP, 'BUSINESS', FANOUT_BUSINESS);
    const publishedBefore = reader.records.length;
    const unchangingStarted = performance.now();
    await publish(deployment.topics.roleChanges, [unchanging]);
    const unchangingTimeline = await waitForCompletion(deployment.databaseUrl, unchanging.id, 120_000);
    const unchangedSeconds = (performance.now() - unchangingStarted) / 1_000;
    await new Promise((resolveWait) => setTimeout(resolveWait, 2_000));
    const publishedByUnchanging = reader.records.length - publishedBefore;
    log(
      `unchanged fan-out: ${FANOUT} sessions confirmed in ${fixed(unchangedSeconds, 2)} s, ${publishedByUnchanging} updates published; ` +
        fanOutStages(unchangingStarted, unchangingTimeline, []),
    );

    // What a renewal costs in CPU, and what one RSA signature costs here now: on a machine whose
    // speed varies from hour to hour, these say more than renewals/s alone (README, Benchmarks).
    log('measuring the machine: RSA-2048 (RS512) signing, JavaScript and PostgreSQL round trips');
    const speed = await measureMachineSpeed(deployment.databaseUrl);
    const signingPerCore = speed.rsaSigningPerCore;
    const cpuPerRenewal = cpuMsPerRenewal(sustainedCpu, sustained);
    const cores = coreCount();
    const memory = memoryOf(service.pid!);
    const medianLatency = {
      p50: median(latencies.map((run) => summarize(run).p50)),
      p95: median(latencies.map((run) => summarize(run).p95)),
      p99: median(latencies.map((run) => summarize(run).p99)),
    };
    const report = {
      date: new Date().toISOString(),
      users: USERS,
      eventsPerRun: EVENTS,
      runs: RUNS,
      sustainedRenewalsPerSecond: sustained,
      medianSustained: median(sustained),
      cpuMsPerRenewal: cpuPerRenewal,
      rsaSigningPerCore: Math.round(signingPerCore),
      machineSpeed: speed,
      signingMsPerRenewal: 1_000 / signingPerCore,
      cpuBoundCeiling: (cores * 1_000) / cpuPerRenewal.system,
      offeredRate: RATE,
      latencyMs: medianLatency,
      fanOut: { sessions: FANOUT, seconds: fanOutSeconds, bystanderMs },
      unchangedFanOut: { sessions: FANOUT, seconds: unchangedSeconds, published: publishedByUnchanging },
      servicePeakRssMb: memory.peakRssMb,
      servicePeakRssMbAfterPhase: { ...peakRssAfter, d: memory.peakRssMb },
    };
    const out = resolve(__dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      resolve(out, `events-${report.date.replace(/[:.]/g, '-')}.json`),
      JSON.stringify(report, null, 2),
    );
    process.stdout.write(
      [
        '',
        `Event-driven renewal, ${USERS} live sessions, JWE-sealed tokens, median of ${RUNS} runs`,
        `  (a) sustained: ${fixed(report.medianSustained, 0)} renewals/s (runs: ${sustained.map((v) => fixed(v, 0)).join(', ')})`,
        `      CPU per renewal (median): service ${fixed(cpuPerRenewal.service, 2)} ms, PostgreSQL ${fixed(cpuPerRenewal.postgres, 2)} ms, broker ${fixed(cpuPerRenewal.broker, 2)} ms;` +
          ` ${cores} cores / ${fixed(cpuPerRenewal.system, 2)} ms = at most ${fixed(report.cpuBoundCeiling, 0)} renewals/s`,
        `      RSA-2048 signing now: ${fixed(signingPerCore, 0)}/s per core, ${fixed(report.signingMsPerRenewal, 2)} ms of each renewal's CPU`,
        `      machine now: ${describeMachineSpeed(speed)}`,
        `  (b) produce -> readable at ${RATE} events/s: p50 ${fixed(medianLatency.p50)} ms, p95 ${fixed(medianLatency.p95)} ms, p99 ${fixed(medianLatency.p99)} ms`,
        `  (c) fan-out of one business role change to ${FANOUT} sessions: last update readable after ${fixed(fanOutSeconds, 2)} s`,
        `      meanwhile ${BYSTANDERS} other users' role changes: readable after ${fixed(Math.max(...bystanderMs), 0)} ms at most`,
        `  (d) a change reaching those ${FANOUT} sessions and changing none: completed after ${fixed(unchangedSeconds, 2)} s, ${publishedByUnchanging} updates published`,
        `  service peak RSS: ${fixed(memory.peakRssMb, 0)} MB (high-water mark after (a) ${fixed(peakRssAfter.a, 0)}, (b) ${fixed(peakRssAfter.b, 0)}, opening ${FANOUT} sessions ${fixed(peakRssAfter.open, 0)}, (c) ${fixed(peakRssAfter.c, 0)} MB)`,
        '',
      ].join('\n'),
    );
  } finally {
    await reader.close();
    await service.stop();
    await closeTestProducer();
    await destroyDeployment(deployment);
  }
}

/** Median CPU milliseconds per renewal in the sustained runs, by process, and the three together. */
function cpuMsPerRenewal(splits: readonly CpuSplit[], rates: readonly number[]) {
  const perRenewal = (cores: (split: CpuSplit) => number) =>
    median(splits.map((split, run) => (cores(split) * 1_000) / rates[run]!));
  return {
    service: perRenewal((split) => split.service),
    postgres: perRenewal((split) => split.postgres),
    broker: perRenewal((split) => split.broker),
    system: perRenewal((split) => split.service + split.postgres + split.broker),
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:events failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
