export interface MicroBatcherOptions {
  /** Batches in flight at once; a call waits only while this many are. */
  readonly concurrency: number;
  /** The most calls one batch carries. */
  readonly maxBatch: number;
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
 * `run` answers each item in order. When a batch of several fails, each of its
 * items is run again on its own, so one item's failure is that item's alone.
 */
export class MicroBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private inFlight = 0;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly options: MicroBatcherOptions,
  ) {
    if (options.concurrency < 1 || options.maxBatch < 1) {
      throw new Error('a micro-batcher needs a concurrency and a batch size of at least 1');
    }
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      void this.settle(batch).finally(() => {
        this.inFlight -= 1;
        this.dispatch();
      });
    }
  }

  private async settle(batch: readonly Pending<I, O>[]): Promise<void> {
    let outputs: readonly O[];
    try {
      outputs = await this.run(batch.map((pending) => pending.item));
    } catch (error) {
      if (batch.length === 1) batch[0]!.reject(error);
      else for (const pending of batch) await this.settle([pending]);
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
