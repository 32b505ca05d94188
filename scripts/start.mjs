#!/usr/bin/env node
// `npm start`: everything the service needs on a fresh clone, then the service.
// Installs dependencies if missing, builds, starts a local Kafka broker unless one
// answers, prepares local keys, and runs the service (it creates and migrates its
// database itself). Ctrl-C stops the service, then the broker this script started.
import { spawn } from 'node:child_process';
import {
  ensureBuilt,
  ensureInstalled,
  localEnvironment,
  log,
  root,
  run,
  SERVICE_ENV,
  SERVICE_NODE_ARGS,
} from './lib/project.mjs';

ensureInstalled();
ensureBuilt();

const { brokerAnswers, brokerPort, startBroker, stopBroker } = await import('./kafka.mjs');

const { env, keysDir } = localEnvironment(brokerPort);

let startedBroker = false;
if (!process.env.KAFKA_BROKERS && !(await brokerAnswers(brokerPort))) {
  await startBroker();
  startedBroker = true;
}

// The local quick start encrypts session updates to a key pair of its own; its private half
// (for decrypting what a downstream service would receive) stays in .data/keys/.
run(
  process.execPath,
  ['dist/apps/cli/main.js', 'session-updates', 'init-local-recipient', '--dir', keysDir],
  { env },
);

const service = spawn(process.execPath, [...SERVICE_NODE_ARGS, 'dist/apps/token-renewal/main.js'], {
  cwd: root,
  env: { ...SERVICE_ENV, ...env },
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => service.kill(signal));
service.on('exit', async (code, signal) => {
  if (startedBroker) await stopBroker().catch((error) => log(`could not stop the broker: ${error.message}`));
  process.exit(code ?? (signal ? 1 : 0));
});
