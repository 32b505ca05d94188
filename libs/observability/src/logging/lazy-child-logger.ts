import type { Bindings, Logger } from 'pino';

/** The part of a logger the per-record code uses (a pino Logger is one). */
export interface LineLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/**
 * A child logger created on its first line. With redaction configured, pino
 * serializes a child's bindings when the child is created: a child per Kafka
 * record cost 4.3 % of the service's main thread in bench:events (perf,
 * sampled), for lines that are rarely written.
 */
export function lazyChild(parent: Logger, bindings: Bindings): LineLogger {
  let child: Logger | undefined;
  const get = (): Logger => (child ??= parent.child(bindings));
  return {
    debug: (details, message) => {
      if (parent.isLevelEnabled('debug')) get().debug(details, message);
    },
    info: (details, message) => {
      if (parent.isLevelEnabled('info')) get().info(details, message);
    },
    warn: (details, message) => get().warn(details, message),
  };
}
