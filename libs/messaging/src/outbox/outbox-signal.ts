/**
 * Wakes the outbox relay of this process as soon as a transaction of this
 * process has added messages; rows written by other instances are found by
 * the relay's polling. (A database NOTIFY would reach every instance, but
 * PostgreSQL serialises the commits of notifying transactions.)
 */
export class OutboxSignal {
  private waiters: Array<() => void> = [];
  private pending = false;

  /** Messages were committed to the outbox. */
  notify(): void {
    this.pending = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next notify (or at once if one came since the last wait), or after the timeout. */
  wait(timeoutMs: number, abort: AbortSignal): Promise<void> {
    if (this.pending || abort.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        abort.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((waiter) => waiter !== done);
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      abort.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }
}
