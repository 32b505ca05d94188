import type { RecordOrigin } from '@iam/domain';

/** A Kafka record exactly as it was read: bytes in, so a dead letter can carry it unchanged. */
export interface InboundRecord {
  readonly origin: RecordOrigin;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<readonly [string, Buffer]>;
  readonly timestamp: string;
}

type HeaderValue = Buffer | string | null;

/**
 * Turns kafkajs' header map (a value may be a buffer, a string or a list of
 * them) into ordered pairs. Any name and value a producer can send must pass:
 * a throw here would stop the partition at that record. A header without a
 * value (Kafka's null) becomes an empty one, the only form kafkajs can send on.
 * kafkajs decodes a header named `__proto__` into `[Object.prototype, value]`
 * (it reads `obj[key]` of a plain object): anything but a buffer or a string
 * is its artefact, and dropped.
 */
export function headerPairs(
  headers: Record<string, HeaderValue | HeaderValue[] | undefined> | undefined,
): Array<readonly [string, Buffer]> {
  const pairs: Array<readonly [string, Buffer]> = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === null) pairs.push([name, Buffer.alloc(0)]);
      else if (Buffer.isBuffer(item)) pairs.push([name, item]);
      else if (typeof item === 'string') pairs.push([name, Buffer.from(item)]);
    }
  }
  return pairs;
}

/**
 * Ordered pairs back into the map kafkajs sends, values grouped by name in
 * order. The map has no prototype, so a header named `__proto__` is a header
 * like any other (on a plain object it reached Object.prototype and threw).
 */
export function headerMap(pairs: ReadonlyArray<readonly [string, Buffer]>): Record<string, Buffer[]> {
  const map = Object.create(null) as Record<string, Buffer[]>;
  for (const [name, value] of pairs) (map[name] ??= []).push(value);
  return map;
}

/**
 * Records of one partition as the consumer fetched them, in offset order, and
 * what the consumer may do while it works through them.
 */
export interface InboundBatch {
  readonly records: readonly InboundRecord[];
  /** Keeps the partition assigned to this instance during long work. */
  heartbeat(): Promise<void>;
  /** Marks a record and every one before it done: the next commit covers them. */
  resolveOffset(offset: string): void;
  /** Commits the offsets resolved so far, when the consumer's commit interval has passed. */
  commitIfDue(): Promise<void>;
  /** False once the consumer stops or the partition may belong to another instance. */
  isActive(): boolean;
  /**
   * For work that will be long (a fan-out past its first page): the consumer
   * fetches its other partitions meanwhile, and this one waits, paused, until
   * the work ends (PartitionHandOffs).
   */
  handOff(): void;
}

/**
 * Thrown by a handler that stops before the end of its batch and leaves the
 * unresolved records to be delivered again, here or to another instance
 * (shutdown, a rebalance): not a failure of the service.
 */
export class RedeliveryError extends Error {
  override name = 'RedeliveryError';
}

/**
 * A batch's heartbeat after the group rebalanced under it: the partition may
 * be another instance's now, so the rest of the batch is theirs to process.
 */
export class StaleAssignmentError extends Error {
  constructor() {
    super('the consumer group has rebalanced since this batch was fetched');
    this.name = 'StaleAssignmentError';
  }
}

/** A lone record as a batch (the operator's replay works record by record). */
export function batchOfOne(record: InboundRecord, heartbeat: () => Promise<void>): InboundBatch {
  return {
    records: [record],
    heartbeat,
    resolveOffset: () => undefined,
    commitIfDue: async () => undefined,
    isActive: () => true,
    handOff: () => undefined,
  };
}
