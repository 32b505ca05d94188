#!/usr/bin/env node
// `npm test`: the whole suite — unit, integration (real PostgreSQL, real Kafka) and
// end-to-end (the built service driven over HTTP and Kafka). Installs and builds
// what is missing, starts a Kafka broker unless one answers, stops it afterwards.
// Extra arguments go to vitest (e.g. `npm test -- --project unit`).
import { spawnSync } from 'node:child_process';
import { ensureBuilt, ensureInstalled, log, root } from './lib/project.mjs';

ensureInstalled();
ensureBuilt();

const { brokerAnswers, brokerPort, startBroker, stopBroker } = await import('./kafka.mjs');
const brokers = process.env.KAFKA_BROKERS ?? `127.0.0.1:${brokerPort}`;
let startedBroker = false;
if (!process.env.KAFKA_BROKERS && !(await brokerAnswers(brokerPort))) {
  await startBroker();
  startedBroker = true;
}

const started = Date.now();
const result = spawnSync(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, KAFKA_BROKERS: brokers },
  },
);
log(
  `vitest finished in ${Math.round((Date.now() - started) / 1000)} s with ${result.status ?? result.signal}`,
);

if (startedBroker) await stopBroker();
process.exit(result.status ?? 1);
