import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { Application } from '../../support/applications';
import { createDeployment, destroyDeployment, ServiceInstance, type Deployment } from '../../support/service';
import { ServiceDatabase, sleep, StreamPublisher } from './fault-infrastructure';
import { RESULTS_DIR, type FaultFigures } from './fault-results';
import { readSessionUpdates, verifySessionUpdates } from './fault-verification';
import { roleToggleStream, type RoleToggleStream } from './role-toggle-stream';

/** The size of every fault's stream: the minimum the brief allows, across ~100 users with a live session each. */
export const STREAM = {
  users: 100,
  events: 2_000,
  roles: ['R1', 'R2', 'R3', 'R4', 'R5', 'R6'],
  /** Published before the fault; the rest is published while it lasts. */
  firstPart: 1_000,
  /** The fault strikes once this many events are completed (the rest of the first part still in flight). */
  faultAfterCompleted: 300,
} as const;

/** How long after the fault everything must be caught up. */
const CATCH_UP_TIMEOUT_MS = 150_000;

/**
 * How often the scenario restarts an instance that died on its own (as an
 * orchestrator would), so that what a crash did to the data is still measured.
 */
const MAX_DIAGNOSTIC_RESTARTS = 4;

/** What a fault plan works with while its scenario runs. */
export interface FaultContext {
  readonly deployment: Deployment;
  readonly kafka: Kafka;
  readonly db: ServiceDatabase;
  /** Every instance started, in order (their logs are the evidence). */
  readonly instances: ServiceInstance[];
  /** The instance the final HTTP renewals go to. */
  serving: ServiceInstance;
  /** The application that opened the stream users' sessions (logged in to the first instance). */
  readonly application: Application;
  readonly stream: RoleToggleStream;
  /** Fault-specific figures, recorded with the others. */
  readonly details: Record<string, unknown>;
  /** What a plan found wrong (the test fails on any). */
  readonly problems: string[];
  faultAt: number;
  /** Set by a plan that knows better when processing resumed (e.g. a takeover in the survivor's logs). */
  resumedAt?: number;
  startInstance(options?: { waitUntilReady?: boolean }): Promise<ServiceInstance>;
  /** Stops an instance on purpose (its exit is part of the fault, not a finding). */
  kill(instance: ServiceInstance, signal: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export interface FaultPlan {
  readonly key: string;
  readonly title: string;
  /** The broker the deployment uses (the shared one unless the fault is the broker's). */
  readonly kafka: Kafka;
  /** Deployment settings on top of the defaults (e.g. KAFKA_BROKERS, DATABASE_URL of a dedicated server). */
  readonly env?: Record<string, string>;
  readonly instances?: number;
  beforeStream?(context: FaultContext): Promise<void>;
  /** Strikes; returns once the fault is in place. */
  inject(context: FaultContext): Promise<void>;
  /** Brings the dependency or the service back (may return before it is ready). */
  restore(context: FaultContext): Promise<void>;
  /** Extra checks once everything is caught up; returns problems. */
  afterRecovery?(context: FaultContext): Promise<string[]>;
}

interface Sample {
  readonly t: number;
  readonly completed: number;
  readonly outbox: number;
}

interface Exit {
  readonly instance: number;
  readonly code: number | null;
  readonly at: number;
  readonly intended: boolean;
}

/** Lines of the service's logs at warn or above, and the redeliveries it recognised. */
function logFigures(instances: readonly ServiceInstance[]) {
  let redeliveries = 0;
  const warnings = new Map<string, number>();
  for (const instance of instances) {
    for (const line of instance.logs) {
      if (line.includes('"msg":"event applied"') && line.includes('"applied":"duplicate"')) redeliveries += 1;
      const level = /"level":"(warn|error|fatal)"/.exec(line)?.[1];
      if (level) {
        const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 80);
        const key = `${level}: ${msg.slice(0, 160)}`;
        warnings.set(key, (warnings.get(key) ?? 0) + 1);
      }
    }
  }
  return { redeliveries, warnings: Object.fromEntries(warnings) };
}

/** Why an instance died, from its own last words: a fatal log line, or Node's crash report on stderr. */
export function causeOfDeath(instance: ServiceInstance): string {
  const fatal = instance.logs.filter((line) => line.includes('"level":"fatal"')).at(-1);
  if (fatal) {
    const parsed = JSON.parse(fatal) as { msg?: string; err?: { type?: string; message?: string } };
    return `fatal log "${parsed.msg}": ${parsed.err?.type}: ${parsed.err?.message}`;
  }
  const crash = instance.logs.findIndex((line) => !line.startsWith('{'));
  if (crash >= 0) {
    return instance.logs
      .slice(crash, crash + 12)
      .map((line) => line.trim())
      .join(' | ');
  }
  return 'no fatal log line and no crash report';
}

/** Every instance a scenario started and has not stopped yet (for an afterAll that outlives a timed-out test). */
const live = new Set<ServiceInstance>();

/** Stops whatever a scenario left running (a test that timed out never reaches its finally). */
export async function stopLeftoverInstances(): Promise<void> {
  for (const instance of [...live]) {
    live.delete(instance);
    if (instance.running) await instance.stop('SIGKILL').catch(() => undefined);
  }
}

const ROOT = resolve(__dirname, '..', '..', '..');

/** Removes the logs an earlier run of this fault saved. */
function removeSavedLogs(key: string): void {
  if (!existsSync(RESULTS_DIR)) return;
  for (const file of readdirSync(RESULTS_DIR)) {
    if (file.startsWith(`${key}.instance-`)) rmSync(join(RESULTS_DIR, file), { force: true });
  }
}

/** Writes every instance's logs under test/resilience/results/ and returns their paths. */
function saveLogs(key: string, instances: readonly ServiceInstance[]): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  return instances.map((instance, index) => {
    const path = join(RESULTS_DIR, `${key}.instance-${index + 1}.log`);
    writeFileSync(path, `${instance.logs.join('\n')}\n`);
    return relative(ROOT, path);
  });
}

/**
 * One fault, end to end: a fresh deployment, ~100 users with a live session
 * each, a stream of 2,000 role toggles, the fault injected mid-stream while
 * the rest of the stream is published, recovery, then everything checked
 * against the model computed from the events sent. Never throws for what it
 * finds: the figures carry the problems, the test asserts on them.
 *
 * An instance that exits when the plan did not stop it is a finding; the
 * scenario then starts a replacement (once) so that what the crash did to the
 * data — lost, duplicated or reordered updates — is still measured.
 */
export async function runFault(plan: FaultPlan): Promise<FaultFigures> {
  const began = Date.now();
  removeSavedLogs(plan.key);
  const deployment = await createDeployment(`faults_${plan.key.replace(/-/g, '_')}`, {
    LOG_LEVEL: 'debug',
    ...plan.env,
  });
  const db = new ServiceDatabase(deployment.env.DATABASE_URL!);
  const instances: ServiceInstance[] = [];
  const intended = new Set<ServiceInstance>();
  const exits: Exit[] = [];
  const publisher = new StreamPublisher(plan.kafka);
  const problems: string[] = [];
  const details: Record<string, unknown> = {};
  const roleTopic = deployment.topics.roleChanges;
  const stream = roleToggleStream({
    users: Array.from({ length: STREAM.users }, (_, i) => `user-${String(i).padStart(3, '0')}`),
    roles: STREAM.roles,
    length: STREAM.events,
    seed: 20_261_128 + plan.key.length,
  });
  let publishing: Promise<void> | undefined;
  let finished = false;
  try {
    const startInstance = async (options: { waitUntilReady?: boolean } = {}) => {
      const instance = await ServiceInstance.start(deployment, { waitUntilReady: false });
      instances.push(instance);
      live.add(instance);
      const index = instances.length;
      void instance.exited().then((code) => {
        if (!finished)
          exits.push({ instance: index, code, at: Date.now(), intended: intended.has(instance) });
      });
      if (options.waitUntilReady ?? true) await instance.waitUntilReady(120_000);
      return instance;
    };
    const first = await startInstance();
    for (let i = 1; i < (plan.instances ?? 1); i += 1) await startInstance();
    let app = await Application.register(first, 'fault-app');
    const context: FaultContext = {
      deployment,
      kafka: plan.kafka,
      db,
      instances,
      serving: first,
      application: app,
      stream,
      details,
      problems,
      faultAt: 0,
      startInstance,
      kill: (instance, signal, timeoutMs) => {
        intended.add(instance);
        return instance.stop(signal, timeoutMs);
      },
    };

    // Every user has a live session (its first token, v1, is on the topic too).
    const sessions = new Map<string, string>();
    for (let i = 0; i < stream.users.length; i += 10) {
      const started = await Promise.all(stream.users.slice(i, i + 10).map((user) => app.session(user)));
      for (const token of started) sessions.set(token.claims.user_id, token.claims.sid);
    }
    await plan.beforeStream?.(context);

    // The first part of the stream, published at once; the fault strikes while it is being worked off.
    const streamStart = Date.now();
    await publisher.publish(roleTopic, stream.events.slice(0, STREAM.firstPart));
    let atFault = await db.probe(roleTopic);
    while (!atFault || atFault.progress.completed < STREAM.faultAfterCompleted) {
      if (Date.now() - streamStart > 120_000)
        throw new Error('the service never started working off the stream');
      await sleep(50);
      atFault = await db.probe(roleTopic);
    }
    context.faultAt = Date.now();
    const inFlightAtFault = publisher.published - atFault.progress.completed;
    details.processingRateBeforeFault = Math.round(
      atFault.progress.completed / ((context.faultAt - streamStart) / 1000),
    );
    await plan.inject(context);
    const injectedAt = Date.now();
    const afterFault = await db.probe(roleTopic);

    // The rest of the stream keeps coming while the fault lasts (during a broker outage, it waits).
    publishing = publisher.publish(roleTopic, stream.events.slice(STREAM.firstPart), { pauseMs: 50 });
    let published = false;
    publishing.then(
      () => (published = true),
      (error: unknown) => problems.push(`publishing failed: ${(error as Error).message}`),
    );

    // A sampler from the fault on: what is completed, what still waits in the outbox; and a
    // watchdog, once the fault is repaired, replacing a serving instance that died on its own.
    const samples: (Sample | undefined)[] = [];
    let caughtUpAt: number | undefined;
    const repaired = { at: undefined as number | undefined };
    const restarts: number[] = [];
    details.diagnosticRestartsAtMs = restarts;
    const sampler = (async () => {
      const deadline = context.faultAt + CATCH_UP_TIMEOUT_MS;
      while (Date.now() < deadline) {
        if (
          repaired.at !== undefined &&
          !context.serving.running &&
          restarts.length < MAX_DIAGNOSTIC_RESTARTS
        ) {
          restarts.push(Date.now() - context.faultAt);
          context.serving = await startInstance({ waitUntilReady: false });
        }
        const probe = await db.probe(roleTopic);
        const t = Date.now();
        samples.push(probe && { t, completed: probe.progress.completed, outbox: probe.outbox });
        if (probe && published && probe.progress.completed >= STREAM.events && probe.outbox === 0) {
          caughtUpAt = t;
          return;
        }
        await sleep(200);
      }
    })();

    await plan.restore(context);
    const restoredAt = Date.now();
    repaired.at = restoredAt;
    await publishing.catch(() => undefined);
    await sampler;
    if (caughtUpAt === undefined) {
      const last = samples.filter((s): s is Sample => s !== undefined).at(-1);
      problems.push(
        `not caught up within ${CATCH_UP_TIMEOUT_MS / 1000} s of the fault: ${last?.completed ?? '?'} of ${STREAM.events} events completed, ${last?.outbox ?? '?'} outbox rows left`,
      );
    }

    // The instance that serves at the end is up and ready (no hang); one that died is replaced.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await context.serving.waitUntilReady(60_000);
        break;
      } catch (error) {
        problems.push(`the serving instance is not ready: ${(error as Error).message.split('\n')[0]}`);
        if (attempt >= 2) break;
        restarts.push(Date.now() - context.faultAt);
        context.serving = await startInstance({ waitUntilReady: false });
      }
    }

    // No instance died on its own (a crash is a finding even if a restart repairs it).
    for (const exit of exits.filter((entry) => !entry.intended)) {
      const instance = instances[exit.instance - 1]!;
      problems.push(
        `instance ${exit.instance} exited on its own (code ${exit.code}) ${((exit.at - context.faultAt) / 1000).toFixed(1)} s after the fault: ${causeOfDeath(instance)}`,
      );
    }
    details.unexpectedExits = exits.filter((entry) => !entry.intended).length;
    problems.push(...(await afterRecoveryChecks(plan, context)));
    const resumedAt =
      context.resumedAt ?? resumption(samples, restoredAt, afterFault ?? atFault) ?? caughtUpAt;

    // The database: each event recorded once and completed; nothing left to relay.
    const progress = await db.progress(roleTopic);
    const outboxLeft = await db.outboxSize();
    if (progress.recorded !== STREAM.events)
      problems.push(`processed_events holds ${progress.recorded} rows for ${STREAM.events} events`);
    if (progress.completed !== STREAM.events)
      problems.push(`${progress.recorded - progress.completed} processed event(s) not COMPLETED`);
    if (outboxLeft !== 0) problems.push(`${outboxLeft} outbox row(s) left`);

    // The topic, read from the beginning by a downstream service of its own.
    const records = await readSessionUpdates(
      plan.kafka,
      deployment.topics.sessionUpdates,
      sessions.size + STREAM.events,
      { timeoutMs: caughtUpAt === undefined ? 10_000 : 60_000 },
    );
    const verdict = await verifySessionUpdates({
      deployment,
      service: context.serving,
      stream,
      sessions,
      records,
    });
    if (verdict.updatesPublished !== verdict.updatesExpected) {
      problems.push(
        `${verdict.updatesPublished} updates on the topic, the model expects ${verdict.updatesExpected}`,
      );
    }
    problems.push(...verdict.problems);

    // And a renewal over HTTP continues every session from exactly the expected state.
    let wrongHttpRenewals = 0;
    try {
      app = await app.on(context.serving);
    } catch (error) {
      problems.push(`no HTTP renewal possible: ${(error as Error).message.split('\n')[0]}`);
      wrongHttpRenewals = stream.users.length;
    }
    for (let i = 0; i < stream.users.length && wrongHttpRenewals < stream.users.length; i += 10) {
      await Promise.all(
        stream.users.slice(i, i + 10).map(async (user) => {
          const model = stream.model.get(user)!;
          try {
            const { claims } = await app.session(user);
            const ok =
              claims.sid === sessions.get(user) &&
              claims.claims_version === model.steps.length + 2 &&
              JSON.stringify(claims.authorities) === JSON.stringify(model.final);
            if (!ok) {
              wrongHttpRenewals += 1;
              problems.push(
                `${user}: HTTP renewal gave v${claims.claims_version} ${claims.authorities.join(',')} (sid ${claims.sid}), expected v${model.steps.length + 2} ${model.final.join(',')}`,
              );
            }
          } catch (error) {
            wrongHttpRenewals += 1;
            problems.push(`${user}: HTTP renewal failed: ${(error as Error).message.split('\n')[0]}`);
          }
        }),
      );
    }

    const logs = logFigures(instances);
    details.logWarnings = logs.warnings;
    details.failedSendsWhilePublishing = publisher.failedSends;
    details.injectMs = injectedAt - context.faultAt;
    // The logs are kept when something is wrong (or when asked, FAULTS_KEEP_LOGS=1).
    if (problems.length > 0 || process.env.FAULTS_KEEP_LOGS === '1')
      details.logFiles = saveLogs(plan.key, instances);
    const figures: FaultFigures = {
      key: plan.key,
      fault: plan.title,
      passed: problems.length === 0,
      events: STREAM.events,
      users: STREAM.users,
      sessions: sessions.size,
      updatesExpected: verdict.updatesExpected,
      updatesPublished: verdict.updatesPublished,
      duplicates: verdict.duplicates,
      missing: verdict.missing,
      outOfOrder: verdict.outOfOrder,
      wrongAuthorities: verdict.wrongAuthorities + verdict.wrongCause,
      eventsNotExactlyOnce: verdict.eventsNotExactlyOnce,
      wrongFinalTokens: verdict.wrongFinalTokens,
      wrongHttpRenewals,
      processedEvents: progress.recorded,
      completedEvents: progress.completed,
      outboxLeft,
      inFlightAtFault,
      outboxAtFault: atFault.outbox,
      redeliveriesRecognised: logs.redeliveries,
      outageMs: restoredAt - context.faultAt,
      recoverMs: resumedAt === undefined ? null : resumedAt - context.faultAt,
      catchUpMs: caughtUpAt === undefined ? null : caughtUpAt - context.faultAt,
      durationMs: Date.now() - began,
      details,
      problems: problems.slice(0, 60),
    };
    if (!figures.passed) {
      for (const [index, instance] of instances.entries()) {
        const tail = instance.logs.filter((line) => !line.includes('"level":"debug"')).slice(-20);
        console.error(
          `--- ${plan.key}: instance ${index + 1}, last non-debug log lines ---\n${tail.join('\n')}`,
        );
      }
    }
    return figures;
  } catch (error) {
    saveLogs(plan.key, instances);
    throw error;
  } finally {
    finished = true;
    await publishing?.catch(() => undefined);
    await publisher.close();
    for (const instance of instances) {
      live.delete(instance);
      if (!instance.running) continue;
      await instance.stop('SIGTERM', 30_000).catch(() => instance.stop('SIGKILL').catch(() => undefined));
    }
    // Drops its database and deletes its topics and groups from the broker it used.
    await destroyDeployment(deployment);
  }
}

/**
 * When processing had resumed after the restore: both sides moving again —
 * events completed (the consumer) and outbox rows going out (the relay) —
 * measured against the last state before the restore.
 */
function resumption(
  samples: readonly (Sample | undefined)[],
  restoredAt: number,
  fallback: { progress: { completed: number }; outbox: number },
): number | undefined {
  const known = samples.filter((s): s is Sample => s !== undefined);
  const before = known.filter((s) => s.t < restoredAt).at(-1) ?? {
    t: 0,
    completed: fallback.progress.completed,
    outbox: fallback.outbox,
  };
  let consumedAt: number | undefined;
  let relayedAt: number | undefined;
  let previous = before;
  for (const sample of known.filter((s) => s.t >= restoredAt)) {
    if (consumedAt === undefined && sample.completed > before.completed) consumedAt = sample.t;
    if (
      relayedAt === undefined &&
      (sample.outbox < previous.outbox || (sample.outbox === 0 && sample.completed > before.completed))
    )
      relayedAt = sample.t;
    if (consumedAt !== undefined && relayedAt !== undefined) return Math.max(consumedAt, relayedAt);
    previous = sample;
  }
  return undefined;
}

async function afterRecoveryChecks(plan: FaultPlan, context: FaultContext): Promise<string[]> {
  if (!plan.afterRecovery) return [];
  try {
    return await plan.afterRecovery(context);
  } catch (error) {
    return [`fault-specific check failed: ${(error as Error).message}`];
  }
}

/** An `event applied` debug line of the service: where the record came from, when, and what it did. */
export interface AppliedLine {
  readonly time: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly applied: string;
}

export function appliedLines(instance: ServiceInstance, topic: string): AppliedLine[] {
  return instance.logs
    .filter((line) => line.includes('"msg":"event applied"'))
    .map((line) => JSON.parse(line) as Omit<AppliedLine, 'time'> & { time: string })
    .filter((line) => line.topic === topic)
    .map((line) => ({ ...line, time: Date.parse(line.time) }));
}

/** When the instance logged a message (first time at or after `since`), or undefined. */
export function loggedAt(instance: ServiceInstance, msg: string, since = 0): number | undefined {
  for (const line of instance.logs) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    const time = Date.parse((JSON.parse(line) as { time: string }).time);
    if (time >= since) return time;
  }
  return undefined;
}
