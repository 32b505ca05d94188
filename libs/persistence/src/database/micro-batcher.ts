export interface MicroBatcherOptions<I = unknown> {
  /** Batches in flight at once; a call waits only while this many are. */
  readonly concurrency: number;
  /** The most one batch carries: calls, or the sum of their weights with `weigh`. */
  readonly maxBatch: number;
  /** A call's share of `maxBatch` (1 by default); a call heavier than it still goes, alone. */
  readonly weigh?: (item: I) => number;
  /**
   * Failures that are the batch's, not an item's (the database unreachable,
   * say): every call gets the error at once, none is run again on its own.
   */
  readonly sharedFailure?: (error: unknown) => boolean;
  /**
   * A batch in flight this long (counted from when it went out, so event-loop
   * delays count too) is taken to be waiting, for a row lock most likely,
   * rather than working: it stops counting against `concurrency`, so the calls
   * queued behind it go out. At most `concurrency + maxStalled` batches are in
   * flight, stalled or not.
   */
  readonly stall?: {
    readonly afterMs: number;
    readonly maxStalled: number;
    /** Told of each batch sent beside a stalled one (for a metric: how often waits hold batches up). */
    readonly onSentBesideStalled?: () => void;
  };
}

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (output: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Turns concurrent calls into fewer, larger ones. A call goes out at once while
 * fewer than `concurrency` batches are in flight; otherwise it waits, and every
 * call that waited goes out together when a batch returns. A lone call is never
 * delayed, and load becomes bigger batches rather than more statements: on these
 * machines every round trip costs the service, the database and the kernel far
 * more than the extra rows of a batched statement.
 *
 * With `stall`, a batch that has been in flight for long makes room for
 * another: a statement waiting for a row lock (a replay's dry run holds the
 * rows it writes until it ends) then holds back only the calls it carries, and
 * `concurrency` can stay at one, whose larger batches cost the least.
 *
 * `run` answers each item in order. When a batch of several fails, each of its
 * items is run again on its own, so one item's failure is that item's alone
 * (unless `sharedFailure` says the failure is everyone's).
 */
export class MicroBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  /** When each batch in flight went out (performance.now()), oldest first. */
  private readonly inFlight: number[] = [];
  /** Set while calls wait for the youngest batch in flight to count as stalled. */
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly options: MicroBatcherOptions<I>,
  ) {
    if (options.concurrency < 1 || options.maxBatch < 1) {
      throw new Error('a micro-batcher needs a concurrency and a batch size of at least 1');
    }
    if (options.stall && !(options.stall.afterMs > 0 && options.stall.maxStalled >= 0)) {
      throw new Error('a micro-batcher stall needs a positive time and a maximum of at least 0');
    }
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.hasRoom()) {
      const batch = this.queue.splice(0, this.countForNextBatch());
      // Room past `concurrency` is only ever made by stalled batches.
      if (this.inFlight.length >= this.options.concurrency) this.options.stall?.onSentBesideStalled?.();
      const sentAt = performance.now();
      this.inFlight.push(sentAt);
      void this.settle(batch).finally(() => {
        this.inFlight.splice(this.inFlight.indexOf(sentAt), 1);
        this.dispatch();
      });
    }
    this.watchForStall();
  }

  private hasRoom(): boolean {
    const { concurrency, stall } = this.options;
    if (!stall) return this.inFlight.length < concurrency;
    if (this.inFlight.length >= concurrency + stall.maxStalled) return false;
    // Oldest first: fewer than `concurrency` are young when the `concurrency`-th newest has stalled.
    const nthNewest = this.inFlight[this.inFlight.length - concurrency];
    return nthNewest === undefined || nthNewest <= performance.now() - stall.afterMs;
  }

  /** While calls wait for room, wakes when the next batch in flight will count as stalled. */
  private watchForStall(): void {
    const { concurrency, stall } = this.options;
    if (!stall || this.stallTimer || this.queue.length === 0) return;
    if (this.inFlight.length >= concurrency + stall.maxStalled) return;
    // Oldest first: room comes when the oldest of the `concurrency` youngest batches stalls.
    const next = this.inFlight[this.inFlight.length - concurrency]!;
    const wait = Math.max(0, next + stall.afterMs - performance.now());
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      this.dispatch();
    }, wait);
    // Only queued calls await it, and their owners keep the process running.
    this.stallTimer.unref();
  }

  /** How many queued calls fit the next batch: at least one. */
  private countForNextBatch(): number {
    const weigh = this.options.weigh ?? (() => 1);
    let count = 0;
    let weight = 0;
    for (const pending of this.queue) {
      weight += weigh(pending.item);
      if (count > 0 && weight > this.options.maxBatch) break;
      count += 1;
    }
    return count;
  }

  private async settle(batch: readonly Pending<I, O>[]): Promise<void> {
    let outputs: readonly O[];
    try {
      outputs = await this.run(batch.map((pending) => pending.item));
    } catch (error) {
      if (batch.length === 1 || this.options.sharedFailure?.(error)) {
        for (const pending of batch) pending.reject(error);
      } else {
        for (const pending of batch) await this.settle([pending]);
      }
      return;
    }
    if (outputs.length !== batch.length) {
      const error = new Error(`a batch of ${batch.length} was answered with ${outputs.length} results`);
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => pending.resolve(outputs[index]!));
  }
}
