import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '@iam/observability';

/** Request latency by route template (not raw URL: no tokens, bounded cardinality) and status. */
export function recordHttpMetrics(fastify: FastifyInstance, metrics: ServiceMetrics): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics' && !route.startsWith('/health/')) {
      metrics.httpRequestDuration.observe(
        { route, status: String(reply.statusCode) },
        reply.elapsedTime / 1_000,
      );
    }
    done();
  });
}
