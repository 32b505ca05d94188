/**
 * Lets one partition's long work (a fan-out over thousands of sessions) go on
 * without holding back the others.
 *
 * kafkajs fetches again only once every batch of its previous fetch has been
 * handled (one fetcher per broker, `consumer/fetcher.js`), so a batch that runs
 * for seconds stalls every partition that broker leads, of both input topics.
 * A handler that knows its work will be long hands its batch off: the partition
 * is paused, kafkajs is told the batch is handled and fetches the others, and
 * the work runs on, resolving offsets as it goes. When it ends, however it
 * ends, the partition is resumed (its caller commits what was resolved first:
 * kafkajs commits after a batch it awaited, not after this one) and kafkajs
 * fetches it again from the first unresolved offset, so nothing is skipped and
 * nothing runs twice at once.
 */
export class PartitionHandOffs {
  private readonly inFlight = new Set<Promise<void>>();

  /** `failed` hears of failures after a hand-off (the work's, or resuming's): kafkajs no longer awaits them. */
  constructor(private readonly failed: (error: unknown) => void) {}

  /**
   * Runs a batch's work. Returns when the work ends, or as soon as the work
   * calls `handOff`, with the partition paused by `pause` until the work ends
   * and the resume it returned has run. A failure before the hand-off is the
   * caller's, as if there were no hand-off.
   */
  async run(work: (handOff: () => void) => Promise<void>, pause: () => () => Promise<void>): Promise<void> {
    let handOff!: () => void;
    const handedOff = new Promise<'handed-off'>((resolve) => (handOff = () => resolve('handed-off')));
    const done = work(handOff);
    if ((await Promise.race([done.then(() => 'done' as const), handedOff])) === 'done') return;
    const resume = pause();
    const tracked: Promise<void> = done
      .catch(this.failed)
      .then(resume)
      .catch(this.failed)
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Batches handed off and still running. */
  get running(): number {
    return this.inFlight.size;
  }

  /** Waits until every handed-off batch has ended (at shutdown, before the consumer leaves its group). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
