// Shared by scripts/start.mjs and scripts/test.mjs: install what is missing, build what changed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..', '..');

/**
 * Node's options for the service, wherever it is started (npm start, the tests,
 * the benchmarks, the Dockerfile's CMD). V8 sizes its heap to the allocation
 * rate: under bench:events it grew to ~200 MB holding 40–80 MB of live objects,
 * and resident memory passed 400 MB; capped, it collects sooner (sixth session,
 * docs/benchmarks-history.md). The cap is twice the most live heap measured under load.
 */
export const SERVICE_NODE_ARGS = ['--max-old-space-size=160'];

/**
 * The environment every launcher gives the service. An operator's own value
 * wins under `npm start` and in the Docker image; the tests and benchmarks
 * give the service an environment of their own (a benchmark's
 * BENCH_SERVICE_ENV overrides it, for comparisons). glibc's malloc gives each
 * thread that allocates an arena of its own, up to 8 per core, and the service
 * signs on libuv's thread pool. Capped at 2 arenas, in alternated runs:
 * bench:http's peak RSS 215, 237 MB against 256, 253 at the same throughput;
 * bench:events' peak RSS median 231 MB against 261, (a) no lower, (c) +3 % in
 * median (within the noise); the soak's RSS slope 0.8–1.5 MB/min against
 * 1.7–3.5 (eleventh session, docs/benchmarks-history.md). (d)'s slow runs
 * then were stale query plans, not the cap (twelfth session).
 */
export const SERVICE_ENV = { MALLOC_ARENA_MAX: '2' };
export const log = (message) =>
  process.stderr.write(`[${process.env.npm_lifecycle_event ?? 'script'}] ${message}\n`);

export function run(command, args, options = {}) {
  // Child output goes to stderr: stdout belongs to the command the script serves (e.g. the CLI's output).
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 2, 2], ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with ${result.status ?? result.signal}`);
  }
}

/** npm ci when node_modules is missing or older than the lock file. */
export function ensureInstalled() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

function hashTree(hash, path) {
  if (!existsSync(path)) return;
  const stat = statSync(path);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      if (entry === 'generated' || entry === 'node_modules') continue;
      hashTree(hash, join(path, entry));
    }
  } else if (/\.(ts|json|prisma|sql|mjs)$/.test(path)) {
    hash.update(path);
    hash.update(readFileSync(path));
  }
}

/** Builds the service and the CLI unless the sources are unchanged since the last build. */
export function ensureBuilt() {
  const hash = createHash('sha256');
  for (const path of ['apps', 'libs', 'prisma', 'package-lock.json', 'tsconfig.json', 'nest-cli.json']) {
    hashTree(hash, join(root, path));
  }
  const digest = hash.digest('hex');
  const stamp = join(root, 'dist', '.build-hash');
  const built =
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8') === digest &&
    existsSync(join(root, 'dist/apps/token-renewal/main.js')) &&
    existsSync(join(root, 'dist/apps/cli/main.js'));
  if (built) return;
  log('building the service and the CLI');
  run(process.execPath, ['scripts/prisma-generate.mjs']);
  run(process.execPath, ['node_modules/@nestjs/cli/bin/nest.js', 'build', 'token-renewal']);
  run(process.execPath, ['node_modules/@nestjs/cli/bin/nest.js', 'build', 'cli']);
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(stamp, digest);
}

/** Where a PostgreSQL on this machine listens for local connections (Debian's default). */
const POSTGRES_SOCKET_DIR = '/var/run/postgresql';

/**
 * The URL of a database on this machine's PostgreSQL: over its Unix socket when
 * there is one, which costs both sides less per round trip than loopback TCP
 * (bench:http, alternated: +14 % renewals/s; docs/benchmarks-history.md, ninth session), else
 * 127.0.0.1:5432. Only the socket's presence is checked: where it asks for
 * `peer` authentication, DATABASE_URL / TEST_POSTGRES_URL name the server instead.
 */
export function localPostgresUrl(database) {
  return existsSync(join(POSTGRES_SOCKET_DIR, '.s.PGSQL.5432'))
    ? `postgresql://postgres@localhost/${database}?host=${POSTGRES_SOCKET_DIR}`
    : `postgresql://postgres@127.0.0.1:5432/${database}`;
}

/**
 * The settings of a local run (npm start, npm run cli), under whatever the
 * environment already sets. Production sets all of them itself.
 */
export function localEnvironment(brokerPort) {
  const keysDir = join(root, '.data', 'keys');
  return {
    keysDir,
    env: {
      DATABASE_URL: localPostgresUrl('iam_token_renewal'),
      KAFKA_BROKERS: `127.0.0.1:${brokerPort}`,
      KAFKA_ENSURE_TOPICS: 'true',
      SIGNING_KEYS_DIR: join(keysDir, 'signing'),
      SESSION_UPDATE_RECIPIENT_JWK: join(keysDir, 'session-update-recipient.public.jwk.json'),
      ...process.env,
    },
  };
}
