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
  /** Handed-off work still running, by partition. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private closing = false;

  /**
   * `limit` bounds the batches handed off at once (past it a batch stays in
   * kafkajs' own cycle, as if it never asked); `failed` hears of failures
   * after a hand-off (the work's, or resuming's): kafkajs no longer awaits them.
   */
  constructor(
    private readonly limit: number,
    private readonly failed: (error: unknown) => void,
  ) {}

  /**
   * Runs a batch's work for `partition`. Returns when the work ends, or as
   * soon as the work calls `handOff`, with the partition paused by `pause`
   * until the work ends and the resume it returned has run. Waits first for
   * the partition's earlier handed-off work, should it still be running (a
   * consumer that restarted forgets its paused partitions). A failure before
   * the hand-off is the caller's, as if there were no hand-off.
   */
  async run(
    partition: string,
    work: (handOff: () => void) => Promise<void>,
    pause: () => () => Promise<void>,
  ): Promise<void> {
    await this.inFlight.get(partition);
    let handOff!: () => void;
    const handedOff = new Promise<'handed-off'>((resolve) => (handOff = () => resolve('handed-off')));
    const done = work(handOff);
    if ((await Promise.race([done.then(() => 'done' as const), handedOff])) === 'done') return;
    // Refused (shutting down, or at the limit): the batch ends within kafkajs' cycle after all.
    if (this.closing || this.inFlight.size >= this.limit) return done;
    const resume = pause();
    const tracked: Promise<void> = done
      .catch(this.failed)
      .then(resume)
      .catch(this.failed)
      .finally(() => this.inFlight.delete(partition));
    // Registered in the same turn as the check above, so the limit holds exactly.
    this.inFlight.set(partition, tracked);
  }

  /** Batches handed off and still running. */
  get running(): number {
    return this.inFlight.size;
  }

  /**
   * At shutdown, before the consumer leaves its group: takes no more
   * hand-offs and waits until every handed-off batch has ended.
   */
  async drain(): Promise<void> {
    this.closing = true;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
  }
}
