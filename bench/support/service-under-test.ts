import { destroyDeployment, ServiceInstance, type Deployment } from '../../test/support/service';
import { serviceEnv, serviceNodeArgs } from './process-stats';

/**
 * Starts the service a benchmark measures: logs to a file of its deployment
 * (not this process's memory), with BENCH_SERVICE_NODE_ARGS and
 * BENCH_SERVICE_ENV. A start that fails destroys the deployment before it
 * rethrows, since the benchmark's own cleanup only covers a started service.
 */
export async function startServiceUnderTest(deployment: Deployment): Promise<ServiceInstance> {
  try {
    return await ServiceInstance.start(deployment, {
      logToFile: true,
      nodeArgs: serviceNodeArgs(),
      env: serviceEnv(),
    });
  } catch (error) {
    await destroyDeployment(deployment);
    throw error;
  }
}
