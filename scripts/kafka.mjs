#!/usr/bin/env node
// A real, single-node Apache Kafka broker (KRaft mode) for development and tests,
// fetched from Maven Central on first use and cached in Maven's local repository.
//
//   node scripts/kafka.mjs fetch    resolve the broker's jars (cached after the first run)
//   node scripts/kafka.mjs start    fetch, format the store once, start on 127.0.0.1, wait until it answers
//   node scripts/kafka.mjs stop     stop the broker this script started (controlled shutdown)
//   node scripts/kafka.mjs status   exit 0 when a broker answers on KAFKA_PORT
//   node scripts/kafka.mjs reset    delete the stopped broker's data (topics, store); the next start formats anew
//
// Settings (environment): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
// KAFKA_DATA_DIR (.data/kafka), KAFKA_HEAP (512m).
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

// The broker version this project is tested against (see README, "Pinned versions").
export const KAFKA_VERSION = '4.3.1';
const LOG4J_VERSION = '2.25.4';

const root = resolve(import.meta.dirname, '..');
const cacheDir = join(homedir(), '.cache', 'iam-token-renewal', `kafka-${KAFKA_VERSION}`);
const libsDir = join(cacheDir, 'libs');

const log = (message) => process.stderr.write(`[kafka] ${message}\n`);

function fetchBroker() {
  if (existsSync(join(libsDir, `kafka_2.13-${KAFKA_VERSION}.jar`))) return;
  log(`fetching Apache Kafka ${KAFKA_VERSION} from Maven Central (first run only)`);
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(
    join(cacheDir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.iam-token-renewal</groupId><artifactId>kafka-broker</artifactId><version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${LOG4J_VERSION}</version></dependency>
  </dependencies>
</project>
`,
  );
  const result = spawnSync(
    'mvn',
    ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${libsDir}`, '-DincludeScope=runtime'],
    { cwd: cacheDir, stdio: 'inherit' },
  );
  if (result.status !== 0)
    throw new Error('Maven could not fetch the Kafka broker (is Maven installed and Central reachable?)');
}

/**
 * The broker's settings (server.properties). docker-compose.yml sets the same
 * ones as KAFKA_* variables; test/integration/docker-compose.int-spec.ts keeps
 * the two in step.
 */
export function brokerProperties({ clientPort, controlPort, logDirs }) {
  return {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controlPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${clientPort},CONTROLLER://127.0.0.1:${controlPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${clientPort}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': logDirs,
    'num.partitions': '8',
    'auto.create.topics.enable': 'false',
    // One node: internal topics cannot be replicated.
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '8',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '8',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
  };
}

const LOG4J_PROPERTIES = (logFile) =>
  [
    'appender.file.type=File',
    'appender.file.name=file',
    `appender.file.fileName=${logFile}`,
    'appender.file.layout.type=PatternLayout',
    'appender.file.layout.pattern=[%d] %p %m (%c)%n',
    'rootLogger.level=INFO',
    'rootLogger.appenderRef.file.ref=file',
    'logger.kafka.name=kafka',
    'logger.kafka.level=INFO',
    'logger.apache.name=org.apache',
    'logger.apache.level=WARN',
    '',
  ].join('\n');

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function brokerAnswers(onPort, timeoutMs = 1_000) {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port: onPort });
    const done = (ok) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * One single-node broker: its ports and its data directory (store, logs, pid).
 * The default one (npm start, npm test) comes from the environment; the fault
 * tests make dedicated ones they can kill and restart.
 */
export function createBroker({ port, controllerPort, dataDir, heap = '512m' }) {
  const pidFile = join(dataDir, 'broker.pid');
  const logDir = join(dataDir, 'logs');
  const storeDir = join(dataDir, 'store');

  function writeConfig() {
    mkdirSync(logDir, { recursive: true });
    const properties = join(dataDir, 'server.properties');
    const settings = brokerProperties({ clientPort: port, controlPort: controllerPort, logDirs: storeDir });
    writeFileSync(
      properties,
      `${Object.entries(settings)
        .map(([key, value]) => `${key}=${value}`)
        .join('\n')}\n`,
    );
    const log4j = join(dataDir, 'log4j2.properties');
    writeFileSync(log4j, LOG4J_PROPERTIES(join(logDir, 'server.log')));
    return { properties, log4j };
  }

  function formatStore(properties) {
    if (existsSync(join(storeDir, 'meta.properties'))) return;
    const clusterId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
    const result = spawnSync(
      'java',
      ['-cp', `${libsDir}/*`, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties],
      {
        encoding: 'utf8',
      },
    );
    if (result.status !== 0)
      throw new Error(`formatting the KRaft store failed:\n${result.stdout}${result.stderr}`);
    log(`formatted a KRaft store in ${storeDir}`);
  }

  function runningPid() {
    if (!existsSync(pidFile)) return undefined;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** Waits until the broker serves metadata (not just accepts TCP), using kafkajs if installed. */
  async function waitUntilReady(pid, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let kafkajs;
    try {
      kafkajs = await import('kafkajs');
    } catch {
      kafkajs = undefined;
    }
    while (Date.now() < deadline) {
      if (pid !== undefined && !runningPid()) {
        throw new Error(
          `the broker exited during start-up; see ${join(logDir, 'server.log')} and ${join(dataDir, 'broker.out')}`,
        );
      }
      if (await brokerAnswers(port)) {
        if (!kafkajs) return;
        const admin = new kafkajs.Kafka({
          clientId: 'kafka-script',
          brokers: [`127.0.0.1:${port}`],
          logLevel: kafkajs.logLevel.NOTHING,
          retry: { retries: 0 },
        }).admin();
        try {
          await admin.connect();
          await admin.describeCluster();
          return;
        } catch {
          // Not serving yet.
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`no Kafka broker answered on 127.0.0.1:${port} within ${timeoutMs / 1000}s`);
  }

  async function start() {
    if (runningPid() || (await brokerAnswers(port))) {
      log(`a broker already answers on 127.0.0.1:${port}`);
      await waitUntilReady(undefined, 60_000);
      return;
    }
    fetchBroker();
    const { properties, log4j } = writeConfig();
    formatStore(properties);
    const out = openSync(join(dataDir, 'broker.out'), 'a');
    const child = spawn(
      'java',
      [
        `-Xms${heap}`,
        `-Xmx${heap}`,
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${log4j}`,
        `-Dkafka.logs.dir=${logDir}`,
        '-cp',
        `${libsDir}/*`,
        'kafka.Kafka',
        properties,
      ],
      { detached: true, stdio: ['ignore', out, out] },
    );
    writeFileSync(pidFile, String(child.pid));
    child.unref();
    const started = Date.now();
    await waitUntilReady(child.pid, 90_000);
    log(
      `Apache Kafka ${KAFKA_VERSION} ready on 127.0.0.1:${port} (pid ${child.pid}, ${Date.now() - started} ms)`,
    );
  }

  async function waitForExit(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && runningPid()) await new Promise((r) => setTimeout(r, 200));
    return !runningPid();
  }

  /** Controlled shutdown (SIGTERM), killed after 30 s if it hangs. */
  async function stop() {
    const pid = runningPid();
    if (!pid) {
      log('no broker started by this script is running');
      return;
    }
    process.kill(pid, 'SIGTERM');
    if (!(await waitForExit(30_000))) {
      log('controlled shutdown timed out; killing the broker');
      process.kill(pid, 'SIGKILL');
      await waitForExit(10_000);
    }
    rmSync(pidFile, { force: true });
    log('broker stopped');
  }

  /** The broker dies at once (SIGKILL), as in a crash; its store survives for a restart. */
  async function kill() {
    const pid = runningPid();
    if (!pid) return;
    process.kill(pid, 'SIGKILL');
    await waitForExit(10_000);
    rmSync(pidFile, { force: true });
  }

  function reset() {
    if (runningPid()) throw new Error('stop the broker before resetting its data');
    rmSync(dataDir, { recursive: true, force: true });
    log(`removed ${dataDir}`);
  }

  return { port, start, stop, kill, reset, running: () => runningPid() !== undefined };
}

export const brokerPort = Number(process.env.KAFKA_PORT ?? 9092);
const defaultBroker = createBroker({
  port: brokerPort,
  controllerPort: Number(process.env.KAFKA_CONTROLLER_PORT ?? 9093),
  dataDir: resolve(root, process.env.KAFKA_DATA_DIR ?? '.data/kafka'),
  heap: process.env.KAFKA_HEAP ?? '512m',
});

export const startBroker = () => defaultBroker.start();
export const stopBroker = () => defaultBroker.stop();

const commands = {
  fetch: async () => fetchBroker(),
  start: () => defaultBroker.start(),
  stop: () => defaultBroker.stop(),
  reset: async () => defaultBroker.reset(),
  status: async () => {
    const up = await brokerAnswers(brokerPort);
    log(up ? `a broker answers on 127.0.0.1:${brokerPort}` : `no broker on 127.0.0.1:${brokerPort}`);
    process.exitCode = up ? 0 : 1;
  },
  jars: async () => {
    fetchBroker();
    process.stdout.write(`${readdirSync(libsDir).length} jars in ${libsDir}\n`);
  },
};

const isMain = process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename);
if (isMain) {
  const command = commands[process.argv[2] ?? ''];
  if (!command) {
    process.stderr.write(`usage: node scripts/kafka.mjs <${Object.keys(commands).join('|')}>\n`);
    process.exit(2);
  }
  command().catch((error) => {
    log(error.message);
    process.exit(1);
  });
}
