import { closeTestProducer } from './kafka';
import { destroyDeployment, type Deployment, type ServiceInstance } from './service';

interface Closable {
  close(): Promise<void>;
}

/** What a suite started in its beforeAll; any of it may be missing if beforeAll failed part way. */
export interface SuiteResources {
  readonly deployment?: Deployment;
  readonly service?: ServiceInstance;
  /** For suites that run several instances of the deployment. */
  readonly services?: readonly (ServiceInstance | undefined)[];
  readonly readers?: readonly (Closable | undefined)[];
}

/**
 * The afterAll of a suite: the last log lines of a service that died under it
 * (the only clue a failed assertion leaves; one the suite stopped cleanly is
 * not news), then its topic readers, the shared test producer, the services
 * and the deployment.
 */
export async function tearDownSuite({
  deployment,
  service,
  services = [],
  readers = [],
}: SuiteResources): Promise<void> {
  const instances = [service, ...services].filter((instance) => instance !== undefined);
  for (const instance of instances) {
    if (!instance.running && (await instance.exited()) !== 0)
      console.error(instance.logs.slice(-40).join('\n'));
  }
  for (const reader of readers) await reader?.close();
  await closeTestProducer();
  for (const instance of instances) await instance.stop();
  if (deployment) await destroyDeployment(deployment);
}
