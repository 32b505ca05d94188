#!/usr/bin/env node
// `npm run bench:http` / `npm run bench:events`: installs and builds what is missing,
// starts a Kafka broker unless one answers, runs the benchmark, stops the broker.
import { spawnSync } from 'node:child_process';
import { ensureBuilt, ensureInstalled, root } from './lib/project.mjs';

const BENCHMARKS = { http: 'bench/http.bench.ts', events: 'bench/events.bench.ts' };
const script = BENCHMARKS[process.argv[2] ?? ''];
if (!script) {
  process.stderr.write(`usage: node scripts/bench.mjs <${Object.keys(BENCHMARKS).join('|')}>\n`);
  process.exit(2);
}

ensureInstalled();
ensureBuilt();
const { brokerAnswers, brokerPort, startBroker, stopBroker } = await import('./kafka.mjs');
let startedBroker = false;
if (!process.env.KAFKA_BROKERS && !(await brokerAnswers(brokerPort))) {
  await startBroker();
  startedBroker = true;
}
const result = spawnSync(process.execPath, ['--import', 'tsx', script], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? `127.0.0.1:${brokerPort}` },
});
if (startedBroker) await stopBroker();
process.exit(result.status ?? 1);
