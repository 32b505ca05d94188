import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDeployment,
  destroyDeployment,
  runCli,
  ServiceInstance,
  type Deployment,
} from '../support/service';

/** The nice values of a process's threads, from /proc/<pid>/task/<tid>/stat. */
function threadNiceValues(pid: number): { eventLoop: number; helpers: number[] } {
  const niceOf = (tid: string): number | undefined => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The 19th field; counted after the name's closing bracket, the last ') ' (a name may hold one).
      return Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[16]);
    } catch {
      return undefined; // the thread ended since the listing
    }
  };
  const helpers = readdirSync(`/proc/${pid}/task`)
    .filter((tid) => Number(tid) !== pid)
    .map(niceOf)
    .filter((nice) => nice !== undefined);
  return { eventLoop: niceOf(String(pid))!, helpers };
}

/** The skeleton every capability stands on: the started service, its database, its broker. */
describe('the service as started by its users (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;

  beforeAll(async () => {
    deployment = await createDeployment('foundation');
    service = await ServiceInstance.start(deployment);
  });
  afterAll(async () => {
    await service?.stop();
    await destroyDeployment(deployment);
  });

  it('is live and ready: the database answers and the consumer joined its group', async () => {
    const live = await service.fetch('/health/live');
    expect(live.status).toBe(200);
    const ready = await service.fetch('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { database: 'up', kafkaConsumer: 'joined', signingKeys: 'current' },
    });
  });

  it('created its database and applied its migrations', async () => {
    const result = await runCli(deployment, ['client', 'list', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });

  it('logs JSON lines with a request id, and echoes a well-formed caller request id', async () => {
    const response = await service.fetch('/health/live', { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(response.headers.get('x-request-id')).toBe('trace-abc.123');
    const generated = await service.fetch('/security/iam/v1/keys');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 200));
    const line = service.logs.find(
      (entry) => entry.includes('request completed') && entry.includes('/security/iam/v1/keys'),
    );
    expect(line).toBeDefined();
    const parsed = JSON.parse(line!) as { reqId: string; level: string };
    expect(parsed.reqId).toBe(generated.headers.get('x-request-id'));
    for (const entry of service.logs) expect(() => JSON.parse(entry)).not.toThrow();
  });

  it.runIf(process.platform === 'linux')(
    'runs its helper threads (thread pool, V8) HELPER_THREAD_NICE (10) nice values below its event loop',
    () => {
      const { eventLoop, helpers } = threadNiceValues(service.pid!);
      // libuv's pool alone has four threads.
      expect(helpers.length).toBeGreaterThanOrEqual(4);
      expect(helpers).toEqual(helpers.map(() => Math.min(19, eventLoop + 10)));
    },
  );

  it('answers unknown routes with an AuthMe error body', async () => {
    const response = await service.fetch('/nope');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual([{ code: 'NOT_FOUND', message: 'No such resource.' }]);
  });

  it('serves its OpenAPI document', async () => {
    const response = await service.fetch('/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/security/iam/v1/user-identities/renew-token',
        '/security/iam/v1/client-identities/login',
        '/security/iam/v1/keys',
      ]),
    );
  });

  it('refuses to start on a bad setting, naming it', async () => {
    const broken = await ServiceInstance.start(deployment, {
      env: { KAFKA_BROKERS: 'not a broker list', ACCESS_TOKEN_TTL: 'soon' },
      waitUntilReady: false,
    });
    expect(await broken.exited()).toBe(1);
    const output = broken.logs.join('\n');
    expect(output).toContain('KAFKA_BROKERS');
    expect(output).toContain('ACCESS_TOKEN_TTL');
  });

  it.runIf(process.platform === 'linux')(
    'leaves its helper threads alone at HELPER_THREAD_NICE=0',
    async () => {
      const unchanged = await ServiceInstance.start(deployment, { env: { HELPER_THREAD_NICE: '0' } });
      try {
        const { eventLoop, helpers } = threadNiceValues(unchanged.pid!);
        expect(helpers).toEqual(helpers.map(() => eventLoop));
      } finally {
        await unchanged.stop();
      }
    },
  );

  it('stops cleanly on SIGTERM', async () => {
    const second = await ServiceInstance.start(deployment);
    expect(await second.stop('SIGTERM')).toBe(0);
    expect(second.logs.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  });
});
