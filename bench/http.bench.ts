/**
 * npm run bench:http — Renew Token under load, token mode.
 *
 * Starts the built service against the real PostgreSQL and Kafka, seeds the role
 * model through Kafka (each user: 5 roles, a business with 3, 3 groups chained by
 * dependencies), opens one session per user, then drives renewals from a separate
 * load-generator process with keep-alive connections:
 *   - closed loop, several runs: the sustainable maximum (req/s);
 *   - open loop at 1,000 req/s offered, several runs: latency percentiles.
 * Also measured in the same run: the RSA-2048 signing rate per core (every renewal
 * signs once, so this is the ceiling), the service's peak RSS, and per run where
 * the machine's CPU went (service, PostgreSQL, broker, load generator, idle, steal).
 *
 * Settings (environment): BENCH_USERS (256), BENCH_CONNECTIONS (64), BENCH_RUNS (3),
 * BENCH_DURATION_S (15), BENCH_RATE (1000).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { closeTestProducer } from '../test/support/kafka';
import { claimsOf, loginClient, renewToken, type TokenResponse } from '../test/support/http';
import { registerClient } from '../test/support/applications';
import { createDeployment, destroyDeployment } from '../test/support/service';
import type { LoadPlan, LoadResult } from './load/http-load';
import {
  coreCount,
  CpuSplitSampler,
  describeCpuSplit,
  memoryOf,
  type CpuSplit,
} from './support/process-stats';
import { describeMachineSpeed, measureMachineSpeed } from './support/machine-speed';
import { startServiceUnderTest } from './support/service-under-test';
import { runLoadProcess } from './support/run-process';
import { publishRoleModel, waitForConsumer } from './support/seed';
import { fixed, median } from './support/stats';

const USERS = Number(process.env.BENCH_USERS ?? 256);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION_MS = Number(process.env.BENCH_DURATION_S ?? 15) * 1_000;
const OPEN_RATE = Number(process.env.BENCH_RATE ?? 1_000);
const BUSINESS = 'bench-business';
const CLIENT = { id: 'bench-app', secret: 'bench-app-secret-0123456789' };

const log = (message: string) => process.stderr.write(`[bench:http] ${message}\n`);

async function main(): Promise<void> {
  const deployment = await createDeployment('bench_http', { LOG_LEVEL: 'info', DATABASE_POOL_SIZE: '16' });
  const service = await startServiceUnderTest(deployment);
  try {
    await registerClient(deployment, CLIENT.id, { secret: CLIENT.secret });
    const caller = await loginClient(service, CLIENT.id, CLIENT.secret);

    const userIds = Array.from({ length: USERS }, (_, index) => `bench-user-${index}`);
    log(`seeding ${USERS} users through Kafka`);
    await publishRoleModel(deployment, userIds, BUSINESS);
    await waitForConsumer(deployment.groupId, [
      deployment.topics.roleChanges,
      deployment.topics.businessChanges,
    ]);

    log(`opening ${USERS} sessions (identity-provider case, acting for ${BUSINESS})`);
    const userTokens: string[] = [];
    for (const userId of userIds) {
      const response = await renewToken(service, caller.accessToken, {
        userId,
        clientId: CLIENT.id,
        businessId: BUSINESS,
        'remember-me': 'false',
      });
      if (response.status !== 200)
        throw new Error(`session for ${userId}: ${response.status} ${await response.text()}`);
      userTokens.push(((await response.json()) as TokenResponse).accessToken);
    }
    const authorities = claimsOf(userTokens[0]!).authorities as string[];
    log(`each token carries ${authorities.length} authorities: ${authorities.join(' ')}`);

    log('measuring the machine: RSA-2048 (RS512) signing, JavaScript and PostgreSQL round trips');
    const speed = await measureMachineSpeed(deployment.databaseUrl);
    const signingPerCore = speed.rsaSigningPerCore;
    const cores = coreCount();
    const ceiling = signingPerCore * cores;

    const plan = (rate: number): LoadPlan => ({
      baseUrl: service.baseUrl,
      callerToken: caller.accessToken,
      userTokens,
      connections: CONNECTIONS,
      durationMs: DURATION_MS,
      warmupMs: 3_000,
      rate,
    });
    const runs = async (rate: number, label: string) => {
      const results: Array<LoadResult & { cpu: CpuSplit }> = [];
      for (let run = 1; run <= RUNS; run += 1) {
        const sampler = CpuSplitSampler.start(service.pid!);
        const { result } = await runLoadProcess<LoadPlan, LoadResult>('bench/load/http-load.ts', plan(rate));
        const cpu = sampler.stop();
        results.push({ ...result, cpu });
        log(
          `${label} run ${run}: ${fixed(result.throughput, 0)} req/s, p50 ${fixed(result.latency.p50)} ms, ` +
            `p95 ${fixed(result.latency.p95)} ms, p99 ${fixed(result.latency.p99)} ms, errors ${JSON.stringify(result.errors)}; ` +
            `CPU: ${describeCpuSplit(cpu)}`,
        );
      }
      return results;
    };

    const closed = await runs(0, `closed loop, ${CONNECTIONS} connections`);
    const open = await runs(OPEN_RATE, `open loop, ${OPEN_RATE} req/s offered`);
    const memory = memoryOf(service.pid!);

    const sustained = median(closed.map((result) => result.throughput));
    const errors = [...closed, ...open].reduce((total, result) => total + (result.requests - result.ok), 0);
    const report = {
      date: new Date().toISOString(),
      cores,
      users: USERS,
      connections: CONNECTIONS,
      runs: RUNS,
      durationS: DURATION_MS / 1_000,
      authoritiesPerToken: authorities.length,
      rsaSigningPerCore: Math.round(signingPerCore),
      machineSpeed: speed,
      ceiling: Math.round(ceiling),
      closedLoop: {
        medianThroughput: Math.round(sustained),
        ratioToCeiling: sustained / ceiling,
        medianP50: median(closed.map((result) => result.latency.p50)),
        medianP99: median(closed.map((result) => result.latency.p99)),
        runs: closed,
      },
      openLoop: {
        offered: OPEN_RATE,
        medianThroughput: median(open.map((result) => result.throughput)),
        medianP50: median(open.map((result) => result.latency.p50)),
        medianP95: median(open.map((result) => result.latency.p95)),
        medianP99: median(open.map((result) => result.latency.p99)),
        runs: open,
      },
      errors,
      servicePeakRssMb: memory.peakRssMb,
    };
    const out = resolve(__dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      resolve(out, `http-${report.date.replace(/[:.]/g, '-')}.json`),
      JSON.stringify(report, null, 2),
    );

    process.stdout.write(
      [
        '',
        `Renew Token (token mode), ${cores} cores, ${USERS} sessions, ${authorities.length} authorities per token`,
        `  RSA-2048 signing: ${Math.round(signingPerCore)}/s per core -> ceiling ${Math.round(ceiling)}/s on ${cores} cores`,
        `  sustained (closed loop, ${CONNECTIONS} conns, median of ${RUNS} x ${DURATION_MS / 1000}s): ` +
          `${Math.round(sustained)} renewals/s = ${fixed(100 * report.closedLoop.ratioToCeiling)}% of the ceiling, ` +
          `p50 ${fixed(report.closedLoop.medianP50)} ms, p99 ${fixed(report.closedLoop.medianP99)} ms`,
        `  at ${OPEN_RATE} req/s offered (open loop, median of ${RUNS}): ${fixed(report.openLoop.medianThroughput, 0)} req/s, ` +
          `p50 ${fixed(report.openLoop.medianP50)} ms, p95 ${fixed(report.openLoop.medianP95)} ms, p99 ${fixed(report.openLoop.medianP99)} ms`,
        `  errors: ${errors}; service peak RSS: ${fixed(memory.peakRssMb, 0)} MB`,
        `  (Keycloak's published sizing: 120 refresh requests/s per vCPU = ${120 * cores}/s here)`,
        `  machine now: ${describeMachineSpeed(speed)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await service.stop();
    await closeTestProducer();
    await destroyDeployment(deployment);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:http failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
