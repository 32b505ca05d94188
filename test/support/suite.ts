import { closeTestProducer } from './kafka';
import { destroyDeployment, type Deployment, type ServiceInstance } from './service';

interface Closable {
  close(): Promise<void>;
}

/** What a suite started in its beforeAll; any of it may be missing if beforeAll failed part way. */
export interface SuiteResources {
  readonly deployment?: Deployment;
  readonly service?: ServiceInstance;
  readonly readers?: readonly (Closable | undefined)[];
}

/**
 * The afterAll of a suite that runs one service: the service's last log lines
 * when it died under the suite (the only clue a failed assertion leaves), then
 * its topic readers, the shared test producer, the service and the deployment.
 */
export async function tearDownSuite({ deployment, service, readers = [] }: SuiteResources): Promise<void> {
  if (service && !service.running) console.error(service.logs.slice(-40).join('\n'));
  for (const reader of readers) await reader?.close();
  await closeTestProducer();
  await service?.stop();
  if (deployment) await destroyDeployment(deployment);
}
