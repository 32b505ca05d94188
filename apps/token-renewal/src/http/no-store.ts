import type { FastifyReply } from 'fastify';

/** Token responses must never be cached (RFC 6749 §5.1). */
export function noStore(reply: FastifyReply): void {
  void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}
