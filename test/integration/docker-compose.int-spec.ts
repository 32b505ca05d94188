import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { environmentSchema } from '@iam/config';
import { brokerProperties, KAFKA_VERSION } from '../../scripts/kafka.mjs';
import { localEnvironment, SERVICE_ENV, SERVICE_NODE_ARGS } from '../../scripts/lib/project.mjs';

/**
 * Docker cannot run on the development machines, so the compose file is checked
 * by structure, and against the local scripts: the broker and the service must
 * be configured the same way in both.
 */
const ROOT = resolve(__dirname, '..', '..');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
}

const compose = parse(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};

/** KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR → offsets.topic.replication.factor (the apache/kafka image's rule). */
const propertyOf = (variable: string) =>
  variable
    .replace(/^KAFKA_/, '')
    .toLowerCase()
    .replace(/_/g, '.');

describe('docker-compose.yml', () => {
  it('runs Kafka (KRaft), PostgreSQL, a setup step and the service', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['kafka', 'postgres', 'service', 'setup']);
    expect(service('kafka').image).toBe(`apache/kafka:${KAFKA_VERSION}`);
    expect(service('postgres').image).toBe('postgres:15');
    expect(service('service').build).toBe('.');
    expect(service('setup').build).toBe('.');
  });

  it('health-checks every long-running service and starts in dependency order', () => {
    for (const name of ['kafka', 'postgres', 'service'])
      expect(service(name).healthcheck?.test).toBeDefined();
    expect(service('setup').depends_on).toEqual({
      kafka: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
    });
    expect(service('service').depends_on).toEqual({ setup: { condition: 'service_completed_successfully' } });
    expect(service('setup').command).toContain('topics ensure');
    expect(service('setup').command).toContain('session-updates init-local-recipient');
  });

  it('configures the broker exactly as scripts/kafka.mjs does (KRaft, single node)', () => {
    const local = brokerProperties({ clientPort: 9092, controlPort: 9093, logDirs: '/data' });
    const environment = service('kafka').environment ?? {};
    const fromCompose = Object.fromEntries(
      Object.entries(environment)
        .filter(([name]) => name.startsWith('KAFKA_') && name !== 'KAFKA_HEAP_OPTS')
        .map(([name, value]) => [propertyOf(name), String(value)]),
    );
    // Addresses differ by design (a container network instead of 127.0.0.1); every other setting is equal.
    const addresses = ['controller.quorum.voters', 'listeners', 'advertised.listeners', 'log.dirs'];
    const comparable = (settings: Record<string, string>) =>
      Object.fromEntries(Object.entries(settings).filter(([key]) => !addresses.includes(key)));
    expect(comparable(fromCompose)).toEqual(comparable(local));
    expect(fromCompose['process.roles']).toBe('broker,controller');
    expect(environment.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('gives the service the settings the local scripts give it, and only settings it knows', () => {
    const composeEnvironment = service('service').environment ?? {};
    const known = new Set(Object.keys(environmentSchema.shape));
    for (const name of Object.keys(composeEnvironment)) expect(known, name).toContain(name);
    const local = localEnvironment(9092).env;
    const localSettings = Object.keys(local).filter((name) => known.has(name) && !(name in process.env));
    for (const name of localSettings) expect(Object.keys(composeEnvironment), name).toContain(name);
    expect(composeEnvironment.KAFKA_ENSURE_TOPICS).toBe(local.KAFKA_ENSURE_TOPICS);
    expect(service('setup').environment).toEqual(composeEnvironment);
    expect(composeEnvironment.HOST).toBe('0.0.0.0');
    expect(service('service').ports).toEqual(['3000:3000']);
  });

  it('keeps key material on a volume shared by the setup step and the service', () => {
    expect(service('setup').volumes).toContain('keys:/keys');
    expect(service('service').volumes).toContain('keys:/keys');
    expect(Object.keys(compose.volumes)).toEqual(
      expect.arrayContaining(['keys', 'kafka-data', 'postgres-data']),
    );
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');

  it('builds in one stage and runs from a slim one, as a non-root user, with a health check and the launchers’ options', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    // With Node's options every other launcher gives the service (scripts/lib/project.mjs).
    expect(dockerfile).toContain(
      `CMD ${JSON.stringify(['node', ...SERVICE_NODE_ARGS, 'dist/apps/token-renewal/main.js']).replaceAll(',', ', ')}`,
    );
    // …and the environment they give it.
    const runtimeEnv = dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')).match(/^ENV (.+)$/m)?.[1] ?? '';
    for (const [name, value] of Object.entries(SERVICE_ENV))
      expect(runtimeEnv.split(' ')).toContain(`${name}=${value}`);
  });

  it('uses the Node.js major the project pins', () => {
    const pinned = /"node": ">=(\d+)\./.exec(readFileSync(resolve(ROOT, 'package.json'), 'utf8'))?.[1];
    expect(dockerfile).toContain(`FROM node:${pinned}.`);
  });
});
