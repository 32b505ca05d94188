/**
 * What the input consumer is doing, for readiness (ready means it has joined
 * its group, so partitions are assigned and records flow) and for metrics.
 */
export class ConsumerState {
  private joined = false;
  private crashed: Error | undefined;
  private handedOff = 0;
  private readonly lag = new Map<string, { topic: string; partition: number; lag: number }>();

  /** Records behind the partition's end, as of the last batch fetched from it. */
  recordLag(topic: string, partition: number, lag: number): void {
    this.lag.set(`${topic}\u0000${partition}`, { topic, partition, lag });
  }

  lags(): Array<{ topic: string; partition: number; lag: number }> {
    return [...this.lag.values()];
  }

  /** A batch was handed off (its partition paused while the work runs on); see PartitionHandOffs. */
  handOffStarted(): void {
    this.handedOff += 1;
  }

  handOffEnded(): void {
    this.handedOff -= 1;
  }

  /** Batches handed off whose work is still running. */
  get batchesHandedOff(): number {
    return this.handedOff;
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
