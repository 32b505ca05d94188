import type { Batch } from '@nestjs/microservices/external/kafka.interface';
import type { LagSource } from './consumer-state';

/**
 * How far the work on a fetched batch has got, and so the partition's lag as
 * of that fetch. Keeps three numbers, not the batch: the metrics hold it until
 * the partition's next batch.
 */
export class BatchProgress implements LagSource {
  private readonly highWatermark: number;
  private readonly lastMessageOffset: string | undefined;
  /** kafkajs resolves a trailing control record (a transaction's marker) together with the last message. */
  private readonly afterLastOffset: number;
  private next: number;

  constructor(batch: Pick<Batch, 'highWatermark' | 'messages' | 'firstOffset' | 'lastOffset'>) {
    this.highWatermark = Number(batch.highWatermark);
    this.lastMessageOffset = batch.messages.at(-1)?.offset;
    this.afterLastOffset = Number(batch.lastOffset()) + 1;
    this.next = Number(batch.firstOffset() ?? batch.highWatermark);
  }

  /** The work is done up to this record's offset. */
  resolved(offset: string): void {
    this.next = offset === this.lastMessageOffset ? this.afterLastOffset : Number(offset) + 1;
  }

  /** Records from the first one not done to the end of the partition at the fetch. */
  get lag(): number {
    return Math.max(0, this.highWatermark - this.next);
  }
}
