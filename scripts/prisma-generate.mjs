#!/usr/bin/env node
// Generates the Prisma client from prisma/schema.prisma. The generator runs in
// WebAssembly; Prisma's CLI still insists on a schema-engine binary it cannot
// download on these machines, so point it at any existing file (it is not run).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const prismaCli = resolve(root, 'node_modules/prisma/build/index.js');
if (!existsSync(prismaCli)) {
  process.stderr.write('prisma is not installed yet; skipping client generation\n');
  process.exit(0);
}
const result = spawnSync(process.execPath, [prismaCli, 'generate'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
});
process.exit(result.status ?? 1);
