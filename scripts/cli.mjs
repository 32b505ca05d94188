#!/usr/bin/env node
// `npm run cli -- <command>`: the operator CLI, built if needed, with the local
// settings of `npm start` under whatever the environment sets.
import { spawnSync } from 'node:child_process';
import { ensureBuilt, ensureInstalled, localEnvironment, root } from './lib/project.mjs';

ensureInstalled();
ensureBuilt();
const { brokerPort } = await import('./kafka.mjs');
const { env } = localEnvironment(brokerPort);
const result = spawnSync(process.execPath, ['dist/apps/cli/main.js', ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
