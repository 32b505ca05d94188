import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { dropDatabase } from '@iam/persistence';
import { generateRecipientKeyPair } from '@iam/tokens';
import { SERVICE_ENV, SERVICE_NODE_ARGS } from '../../scripts/lib/project.mjs';
import { testDatabaseUrl } from './database';
import { testEnvironment, uniqueName } from './environment';

const ROOT = resolve(__dirname, '..', '..');
const SERVICE_MAIN = join(ROOT, 'dist/apps/token-renewal/main.js');
const CLI_MAIN = join(ROOT, 'dist/apps/cli/main.js');

/** Everything that identifies one deployment: instances started with the same settings share it. */
export interface Deployment {
  readonly id: string;
  readonly databaseUrl: string;
  readonly groupId: string;
  readonly topics: {
    readonly roleChanges: string;
    readonly businessChanges: string;
    readonly sessionUpdates: string;
  };
  readonly keysDir: string;
  readonly signingKeysDir: string;
  readonly recipientPublicJwk: string;
  readonly recipientPrivateJwk: string;
  readonly env: Record<string, string>;
}

/** A deployment of its own for a test file: database, topics, consumer group and keys. */
export async function createDeployment(
  prefix: string,
  env: Record<string, string> = {},
): Promise<Deployment> {
  const id = uniqueName(prefix).toLowerCase();
  const keysDir = mkdtempSync(join(tmpdir(), `${id}-keys-`));
  const signingKeysDir = join(keysDir, 'signing');
  const recipient = await generateRecipientKeyPair(keysDir);
  const topics = {
    roleChanges: `${id}.role-changes`,
    businessChanges: `${id}.business-changes`,
    sessionUpdates: `${id}.session-updates`,
  };
  const databaseUrl = testDatabaseUrl(`iam_${id}`);
  const groupId = `${id}.group`;
  return {
    id,
    databaseUrl,
    groupId,
    topics,
    keysDir,
    signingKeysDir,
    recipientPublicJwk: recipient.publicJwkPath,
    recipientPrivateJwk: recipient.privateJwkPath,
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '8',
      KAFKA_BROKERS: testEnvironment.kafkaBrokers.join(','),
      KAFKA_CLIENT_ID: id,
      KAFKA_GROUP_ID: groupId,
      KAFKA_TOPIC_ROLE_CHANGES: topics.roleChanges,
      KAFKA_TOPIC_BUSINESS_CHANGES: topics.businessChanges,
      KAFKA_TOPIC_SESSION_UPDATES: topics.sessionUpdates,
      KAFKA_ENSURE_TOPICS: 'true',
      KAFKA_TOPIC_PARTITIONS: '4',
      TOKEN_ISSUER: `https://iam.test/${id}`,
      SIGNING_KEYS_DIR: signingKeysDir,
      SIGNING_KEYS_GENERATE: 'true',
      SESSION_UPDATE_RECIPIENT_JWK: recipient.publicJwkPath,
      ...env,
    },
  };
}

export async function destroyDeployment(deployment: Deployment): Promise<void> {
  await dropDatabase(deployment.databaseUrl).catch(() => undefined);
  await deleteDeploymentTopics(deployment);
  rmSync(deployment.keysDir, { recursive: true, force: true });
}

/**
 * Deletes every topic and consumer group the deployment's instances created:
 * the inputs, their dead-letter topics, the session updates, the relay's
 * progress and the groups, all named `<id>.…`. Left behind, they piled up in a
 * developer's broker run after run (545 partitions, 3.4 GB after one day's
 * benchmarks). Best effort: a broker a test stopped on purpose is given up on
 * quickly, and leftovers with unique names harm nobody.
 */
async function deleteDeploymentTopics(deployment: Deployment): Promise<void> {
  const brokers = (deployment.env.KAFKA_BROKERS ?? testEnvironment.kafkaBrokers.join(',')).split(',');
  const admin = new Kafka({
    clientId: `${deployment.id}.cleanup`,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    retry: { retries: 1 },
  }).admin();
  const ours = (name: string) => name.startsWith(`${deployment.id}.`);
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter(ours);
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
    const groups = (await admin.listGroups()).groups.map((group) => group.groupId).filter(ours);
    if (groups.length > 0) await admin.deleteGroups(groups);
  } catch {
    // Best effort (above).
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** One running instance of the built service (dist/), started as its users start it. */
export class ServiceInstance {
  readonly logs: string[] = [];
  private exitPromise: Promise<number | null>;

  private constructor(
    readonly deployment: Deployment,
    readonly port: number,
    private readonly child: ChildProcess,
    /** Where a benchmark's service writes its logs instead of this process's memory. */
    private readonly logFile?: string,
  ) {
    let buffer = '';
    const collect = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      this.logs.push(...lines.filter((line) => line.length > 0));
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exitPromise = new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  }

  static async start(
    deployment: Deployment,
    options: {
      env?: Record<string, string>;
      waitUntilReady?: boolean;
      /** The service's logs to a file rather than memory (see logDestinations), for runs that log for minutes. */
      logToFile?: boolean;
      /** Node's own options for the service (a profiler, say), after those it always runs with. */
      nodeArgs?: readonly string[];
    } = {},
  ): Promise<ServiceInstance> {
    const port = await freePort();
    const logFile = options.logToFile
      ? (process.env.BENCH_SERVICE_LOG ?? join(deployment.keysDir, 'service.log'))
      : undefined;
    const logs = logDestinations(logFile);
    const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, ...(options.nodeArgs ?? []), SERVICE_MAIN], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        ...SERVICE_ENV,
        ...deployment.env,
        PORT: String(port),
        ...options.env,
      },
      // Benchmarks send the logs to a file (removed with the deployment) rather than keep them in memory.
      stdio: ['ignore', ...logs],
    });
    // The child holds its own copy of a log file's descriptor.
    if (typeof logs[0] === 'number') closeSync(logs[0]);
    const instance = new ServiceInstance(deployment, port, child, logFile);
    if (options.waitUntilReady ?? true) {
      // Nobody else holds the instance yet: one that never became ready is stopped here.
      await instance.waitUntilReady().catch(async (error: unknown) => {
        await instance.stop('SIGKILL').catch(() => undefined);
        throw error;
      });
    }
    return instance;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitUntilReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`the service exited during start-up:\n${this.lastLogLines()}`);
      }
      try {
        const response = await fetch(`${this.baseUrl}/health/ready`);
        if (response.status === 200) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the service was not ready within ${timeoutMs} ms:\n${this.lastLogLines()}`);
  }

  /** The last lines the service logged, from memory or from its log file. */
  private lastLogLines(count = 30): string {
    const lines =
      this.logFile && existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n') : this.logs;
    return lines
      .filter((line) => line.length > 0)
      .slice(-count)
      .join('\n');
  }

  fetch(path: string, init?: RequestInit): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, init);
  }

  /** Sends a signal and waits for the process to exit; returns its exit code (null if killed). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 40_000): Promise<number | null> {
    if (!this.running) return this.exitPromise;
    this.child.kill(signal);
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const result = await Promise.race([this.exitPromise, timeout]);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`the service did not exit within ${timeoutMs} ms after ${signal}`);
    }
    return result;
  }

  exited(): Promise<number | null> {
    return this.exitPromise;
  }
}

/**
 * Runs the built operator CLI against a deployment; resolves with its exit code
 * and output. `input` is written to its standard input (none is open without).
 */
export function runCli(
  deployment: Deployment,
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...deployment.env, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    child.stdin?.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/**
 * Where the service's stdout and stderr go: kept in memory for the tests; for
 * long runs (benchmarks, the soak) appended to a file, whose last lines explain
 * a failed start-up: the deployment's own (removed with it), or BENCH_SERVICE_LOG.
 */
function logDestinations(file: string | undefined): ['pipe' | number, 'pipe' | number] {
  if (!file) return ['pipe', 'pipe'];
  const fd = openSync(file, 'a');
  return [fd, fd];
}
