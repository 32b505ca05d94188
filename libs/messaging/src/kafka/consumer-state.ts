/** A lag that is read when it is reported: a batch still being worked on resolves records as it goes. */
export interface LagSource {
  readonly lag: number;
}

/**
 * What the input consumer is doing, for readiness (ready means it has joined
 * its group, so partitions are assigned and records flow) and for metrics.
 */
export class ConsumerState {
  private joined = false;
  private crashed: Error | undefined;
  private readonly lag = new Map<string, { topic: string; partition: number; lag: number | LagSource }>();
  private handOffs: { readonly running: number } | undefined;

  /** Records behind the partition's end, as of the last batch fetched from it. */
  recordLag(topic: string, partition: number, lag: number | LagSource): void {
    this.lag.set(partitionKey(topic, partition), { topic, partition, lag });
  }

  lags(): Array<{ topic: string; partition: number; lag: number }> {
    return [...this.lag.values()].map(({ topic, partition, lag }) => ({
      topic,
      partition,
      lag: typeof lag === 'number' ? lag : lag.lag,
    }));
  }

  /** After a rebalance: the lag of a partition now another member's is theirs to report. */
  retainLags(assignment: Readonly<Record<string, readonly number[]>>): void {
    for (const [key, { topic, partition }] of this.lag) {
      if (!assignment[topic]?.includes(partition)) this.lag.delete(key);
    }
  }

  /** Where the count of batches handed off is kept (PartitionHandOffs). */
  reportHandOffs(handOffs: { readonly running: number }): void {
    this.handOffs = handOffs;
  }

  /** Batches handed off whose work is still running. */
  get batchesHandedOff(): number {
    return this.handOffs?.running ?? 0;
  }

  markJoined(): void {
    this.joined = true;
  }

  markLeft(): void {
    this.joined = false;
    this.lag.clear();
  }

  markCrashed(error: Error): void {
    this.joined = false;
    this.crashed = error;
  }

  get ready(): boolean {
    return this.joined && this.crashed === undefined;
  }

  get status(): string {
    if (this.crashed) return `crashed: ${this.crashed.message}`;
    return this.joined ? 'joined' : 'not joined';
  }
}

/** One key for a topic's partition, wherever partitions are tracked. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
