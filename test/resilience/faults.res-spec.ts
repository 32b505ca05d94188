import { afterAll, describe, expect, it } from 'vitest';
import { DedicatedPostgres } from '../support/dedicated-postgres';
import { LOGIN_PATH } from '../support/renewal';
import { closeTestProducer, groupAssignments, testKafka } from '../support/kafka';
import type { ServiceInstance } from '../support/service';
import { committedOffsets, DedicatedKafka, kafkaClient, sleep } from './support/fault-infrastructure';
import { recordFigures, summaryTable, type FaultFigures } from './support/fault-results';
import {
  appliedLines,
  loggedAt,
  runFault,
  STREAM,
  stopLeftoverInstances,
  type FaultContext,
} from './support/fault-scenario';

/** Ports of this file's own servers (127.0.0.1 only), away from the shared 9092/5432. */
const BROKER_PORT = 29092;
const BROKER_CONTROLLER_PORT = 29093;
// Below the kernel's ephemeral range (32768–60999 here): a port inside it can be held, at the moment
// the cluster starts, as the local end of any outgoing connection, and the start fails with EADDRINUSE.
const POSTGRES_PORT = 25432;

const ORDER = [
  'broker-sigkill',
  'postgres-immediate',
  'service-sigkill',
  'service-sigterm',
  'instance-sigkill',
];
const SHUTDOWN_BOUND_MS = 25_000;

/** Asserts the figures of a fault (recorded first, so that a failure still leaves its figures behind). */
function expectExactlyOnce(figures: FaultFigures): void {
  expect(figures.problems, figures.key).toEqual([]);
  expect(figures).toMatchObject({
    processedEvents: STREAM.events,
    completedEvents: STREAM.events,
    outboxLeft: 0,
    updatesPublished: figures.updatesExpected,
    duplicates: 0,
    missing: 0,
    outOfOrder: 0,
    wrongAuthorities: 0,
    eventsNotExactlyOnce: 0,
    wrongFinalTokens: 0,
    wrongHttpRenewals: 0,
  });
  expect(figures.inFlightAtFault, 'the fault struck mid-stream').toBeGreaterThan(0);
  expect(figures.catchUpMs).not.toBeNull();
}

/**
 * Faults under a stream of 2,000 role changes (README, "Guarantees"): the
 * broker, the database and the service each fail mid-stream; after recovery
 * every event has been applied exactly once, every session's tokens on the
 * topic run 1..N in order with the authorities an independent model computes
 * from the events sent, and the outbox is empty.
 */
describe('faults mid-stream: exactly once, in order, nothing lost (resilience)', () => {
  const results: FaultFigures[] = [];
  let broker: DedicatedKafka | undefined;
  let postgres: DedicatedPostgres | undefined;

  function record(figures: FaultFigures): FaultFigures {
    results.push(figures);
    recordFigures(figures, ORDER);
    console.log(
      `[faults] ${figures.key}: ${JSON.stringify({ ...figures, details: undefined, problems: figures.problems.length })}`,
    );
    return figures;
  }

  afterAll(async () => {
    await stopLeftoverInstances();
    await broker?.destroy();
    postgres?.destroy();
    await closeTestProducer();
    console.log(`\n[faults] summary\n${summaryTable(results)}\n`);
  });

  it('1. the Kafka broker is SIGKILLed mid-stream and restarted with the same data', async () => {
    broker = await DedicatedKafka.start(BROKER_PORT, BROKER_CONTROLLER_PORT);
    const dedicated = broker;
    try {
      const figures = record(
        await runFault({
          key: 'broker-sigkill',
          title: 'Kafka broker SIGKILLed mid-stream, restarted with the same data',
          kafka: kafkaClient(dedicated.brokers),
          env: { KAFKA_BROKERS: dedicated.brokers.join(',') },
          inject: async () => {
            await dedicated.broker.kill();
          },
          restore: async (context) => {
            await sleep(2_000);
            const started = Date.now();
            await dedicated.broker.start();
            context.details.brokerRestartMs = Date.now() - started;
          },
        }),
      );
      expectExactlyOnce(figures);
    } finally {
      await dedicated.destroy();
      broker = undefined;
    }
  });

  it('2. PostgreSQL stops (immediate, as in a crash) mid-stream and restarts', async () => {
    postgres = DedicatedPostgres.create(POSTGRES_PORT);
    const dedicated = postgres;
    try {
      dedicated.start();
      const figures = record(
        await runFault({
          key: 'postgres-immediate',
          title: 'PostgreSQL stopped (immediate) mid-stream, then restarted',
          kafka: testKafka,
          env: { DATABASE_URL: dedicated.urlFor('iam_faults_postgres') },
          inject: async (context) => {
            dedicated.stop('immediate');
            context.problems.push(...(await expectUnavailableOverHttp(context)));
          },
          restore: async () => {
            await sleep(3_000);
            dedicated.start();
          },
        }),
      );
      expectExactlyOnce(figures);
    } finally {
      dedicated.destroy();
      postgres = undefined;
    }
  });

  it('3. the service is SIGKILLed mid-batch and started again', async () => {
    const figures = record(
      await runFault({
        key: 'service-sigkill',
        title: 'service SIGKILLed mid-batch, started again (same deployment)',
        kafka: testKafka,
        inject: async (context) => {
          context.details.exitCode = await context.kill(context.serving, 'SIGKILL');
          const probe = await context.db.query<{ applied: number }>(
            `SELECT count(*)::int AS applied FROM processed_events WHERE status = 'APPLIED'`,
          );
          context.details.appliedNotCompletedAtKill = probe[0]?.applied ?? 0;
        },
        restore: async (context) => {
          context.serving = await context.startInstance({ waitUntilReady: false });
        },
      }),
    );
    expectExactlyOnce(figures);
  });

  it('4. the service receives SIGTERM mid-batch: hands back or finishes, commits, exits 0 in < 25 s', async () => {
    const figures = record(
      await runFault({
        key: 'service-sigterm',
        title: 'service SIGTERMed mid-batch (graceful shutdown), started again',
        kafka: testKafka,
        inject: async (context) => {
          const started = Date.now();
          const code = await context
            .kill(context.serving, 'SIGTERM', 40_000)
            .catch((error: Error) => error.message);
          const shutdownMs = Date.now() - started;
          context.details.exitCode = code;
          context.details.shutdownMs = shutdownMs;
          if (code !== 0) context.problems.push(`exit code after SIGTERM: ${String(code)}`);
          if (shutdownMs >= SHUTDOWN_BOUND_MS)
            context.problems.push(`graceful shutdown took ${shutdownMs} ms (bound ${SHUTDOWN_BOUND_MS} ms)`);
          if (!context.serving.logs.some((line) => line.includes('"msg":"stopped"')))
            context.problems.push('no "stopped" log line: the shutdown did not complete');
          context.problems.push(...(await handedBackOrCommitted(context)));
        },
        restore: async (context) => {
          context.serving = await context.startInstance({ waitUntilReady: false });
        },
      }),
    );
    expectExactlyOnce(figures);
    expect(figures.details.exitCode).toBe(0);
    expect(figures.details.shutdownMs as number).toBeLessThan(SHUTDOWN_BOUND_MS);
  });

  it('5. two instances share the group; one is SIGKILLed mid-stream and the other takes over', async () => {
    let victim: ServiceInstance | undefined;
    let survivor: ServiceInstance | undefined;
    const figures = record(
      await runFault({
        key: 'instance-sigkill',
        title: 'one of two instances sharing the group SIGKILLed mid-stream',
        kafka: testKafka,
        instances: 2,
        beforeStream: async (context) => {
          await bothHoldPartitions(context);
          // The victim is the relay's leader, so the survivor takes over the relay as well as partitions.
          const leader = await waitForRelayLeader(context.instances);
          victim = leader;
          survivor = context.instances.find((instance) => instance !== leader)!;
        },
        inject: async (context) => {
          context.details.exitCode = await context.kill(victim!, 'SIGKILL');
          context.serving = survivor!;
        },
        restore: async () => undefined,
        afterRecovery: async (context) => {
          const problems: string[] = [];
          const topic = context.deployment.topics.roleChanges;
          const before = appliedLines(victim!, topic);
          const victimPartitions = [...new Set(before.map((line) => line.partition))].sort();
          const takeover = appliedLines(survivor!, topic).filter(
            (line) => line.time >= context.faultAt && victimPartitions.includes(line.partition),
          );
          context.details.victimPartitions = victimPartitions;
          context.details.eventsByVictim = before.length;
          context.details.eventsBySurvivor = appliedLines(survivor!, topic).length;
          if (victimPartitions.length === 0) problems.push('the killed instance had processed nothing');
          for (const partition of victimPartitions) {
            if (!takeover.some((line) => line.partition === partition))
              problems.push(`partition ${partition} of the killed instance was never taken over`);
          }
          if (takeover.length > 0) context.resumedAt = Math.min(...takeover.map((line) => line.time));
          const relay = loggedAt(survivor!, 'outbox relay lease acquired', context.faultAt);
          context.details.relayTakeoverMs = relay === undefined ? null : relay - context.faultAt;
          if (relay === undefined) problems.push('the survivor never took over the outbox relay');
          return problems;
        },
      }),
    );
    expectExactlyOnce(figures);
  });
});

/**
 * After a graceful shutdown: nothing committed that is not completed (that
 * would be lost), and everything completed committed (it was handed back
 * cleanly, not left to be redelivered).
 */
async function handedBackOrCommitted(context: FaultContext): Promise<string[]> {
  const topic = context.deployment.topics.roleChanges;
  const committed = await committedOffsets(context.kafka, context.deployment.groupId, topic);
  const rows = await context.db.query<{ partition: number; offset: string; status: string }>(
    'SELECT partition, "offset"::text AS offset, status FROM processed_events WHERE topic = $1',
    [topic],
  );
  let committedNotCompleted = 0;
  let completedNotCommitted = 0;
  const partitions = new Set([...committed.keys(), ...rows.map((row) => row.partition)]);
  for (const partition of partitions) {
    const upTo = Math.max(0, committed.get(partition) ?? 0);
    const completed = rows.filter((row) => row.partition === partition && row.status === 'COMPLETED');
    const completedBelow = completed.filter((row) => Number(row.offset) < upTo).length;
    committedNotCompleted += upTo - completedBelow;
    completedNotCommitted += completed.length - completedBelow;
  }
  const appliedNotCompleted = rows.filter((row) => row.status === 'APPLIED').length;
  Object.assign(context.details, {
    committedOffsets: Object.fromEntries(committed),
    committedNotCompleted,
    completedNotCommitted,
    appliedNotCompletedAtExit: appliedNotCompleted,
  });
  const problems: string[] = [];
  if (committedNotCompleted > 0)
    problems.push(`${committedNotCompleted} record(s) committed after SIGTERM without being completed`);
  if (completedNotCommitted > 0)
    problems.push(`${completedNotCommitted} completed record(s) left uncommitted after SIGTERM`);
  return problems;
}

/**
 * With the database down, Renew Token and Login Client answer 503 with
 * `retry-after` and an AuthMe body, so a caller can tell an outage it may
 * retry from a bug; before this they answered 500.
 */
async function expectUnavailableOverHttp(context: FaultContext): Promise<string[]> {
  const app = context.application;
  const credentials = Buffer.from(`${app.clientId}:${app.secret}`).toString('base64');
  const probes: Record<string, Response> = {
    renewal: await app.renewForUser(context.stream.users[0]!),
    login: await context.serving.fetch(LOGIN_PATH, {
      method: 'POST',
      headers: { authorization: `Basic ${credentials}` },
    }),
  };
  const problems: string[] = [];
  const seen: Record<string, string> = {};
  for (const [name, response] of Object.entries(probes)) {
    const body = await response.text();
    seen[name] = `${response.status} retry-after=${response.headers.get('retry-after')} ${body}`;
    const codes = response.status === 503 ? (JSON.parse(body) as Array<{ code: string }>) : [];
    if (
      response.status !== 503 ||
      response.headers.get('retry-after') !== '2' ||
      codes.length !== 1 ||
      codes[0]!.code !== 'SERVICE_UNAVAILABLE'
    )
      problems.push(`${name} during the database outage answered ${seen[name]}`);
  }
  context.details.httpDuringOutage = seen;
  return problems;
}

/** Waits until both instances hold role-topic partitions (a stable group of two). */
async function bothHoldPartitions(context: FaultContext): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const group = await groupAssignments(context.kafka, context.deployment.groupId);
    const shares = group.members.map(
      (member) => member.partitions[context.deployment.topics.roleChanges] ?? [],
    );
    if (group.state === 'Stable' && shares.length === 2 && shares.every((share) => share.length > 0)) return;
    if (Date.now() > deadline)
      throw new Error(`the group never shared the partitions: ${JSON.stringify(group)}`);
    await sleep(500);
  }
}

async function waitForRelayLeader(instances: readonly ServiceInstance[]): Promise<ServiceInstance> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const leader = instances.find(
      (instance) => loggedAt(instance, 'outbox relay lease acquired') !== undefined,
    );
    if (leader) return leader;
    if (Date.now() > deadline) throw new Error('no instance acquired the outbox relay lease');
    await sleep(200);
  }
}
