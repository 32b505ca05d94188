/** A record waiting in the outbox table to be published. */
export interface OutboxMessage {
  readonly topic: string;
  readonly key: Buffer | null;
  /** Null only for a dead letter of a tombstone. */
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<readonly [string, Buffer]>;
  /** Set on session updates: no session version is ever published twice. */
  readonly sessionId?: string;
  readonly claimsVersion?: number;
}

/** A message with a value: everything but the dead letter of a tombstone. */
export type ValuedOutboxMessage = OutboxMessage & { readonly value: Buffer };

export interface StoredOutboxMessage extends OutboxMessage {
  readonly id: bigint;
}

export interface OutboxBatch {
  readonly batchId: bigint;
  readonly messages: readonly StoredOutboxMessage[];
}

/**
 * How much one batch, one Kafka transaction, may carry. The broker refuses a
 * partition's record batch over its `message.max.bytes` (1 MiB by default) and
 * the batch would be refused again on every retry, so bytes bound it as well as
 * messages.
 */
export interface OutboxBatchLimit {
  readonly messages: number;
  readonly bytes: number;
}

/** The relay's view of the outbox table (implemented over PostgreSQL). */
export interface OutboxStore {
  /**
   * Batches assigned before a crash or failover and not yet confirmed, oldest
   * first; only those numbered below `below` when it is given.
   */
  pendingBatches(below?: bigint): Promise<OutboxBatch[]>;
  /**
   * Assigns the oldest unassigned messages to a new batch, recorded before
   * anything is sent: at most `limit.messages` of them, and no more than fit in
   * `limit.bytes` of keys, values and headers (always at least one message).
   */
  claimNextBatch(limit: OutboxBatchLimit): Promise<OutboxBatch | null>;
  /** Removes a batch whose Kafka transaction committed. */
  completeBatch(batchId: bigint): Promise<void>;
  /** How many messages wait to be published. */
  backlog(): Promise<number>;
}

/** Single-writer lease of the relay. */
export interface RelayLeadership {
  /** Tries to become the one relay of the deployment; false when another instance holds it. */
  tryAcquire(): Promise<boolean>;
  /** Whether the lease is still held (it is lost with the database connection). */
  readonly held: boolean;
  release(): Promise<void>;
}
