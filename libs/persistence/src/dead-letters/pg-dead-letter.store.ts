import type { DeadLetterStore, InboundRecord, OutboxMessage, OutboxSignal, Poison } from '@iam/messaging';
import type { Sql } from '../database/sql';
import { encodeHeaders } from '../outbox/outbox-rows';

/**
 * Dead letters go out through the outbox, recorded once per origin record: a
 * re-delivery or a replay of the same offset does not dead-letter it twice.
 */
export class PgDeadLetterStore implements DeadLetterStore {
  constructor(
    private readonly sql: Sql,
    private readonly outbox?: OutboxSignal,
  ) {}

  async deadLetter(record: InboundRecord, poison: Poison, message: OutboxMessage): Promise<boolean> {
    const rows = await this.sql.query(
      'dead-letter',
      `WITH recorded AS (
         INSERT INTO dead_letters (topic, partition, "offset", reason, event_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING
         RETURNING 1
       )
       INSERT INTO outbox (topic, message_key, value, headers)
       SELECT $6, $7, $8, $9::jsonb WHERE EXISTS (SELECT 1 FROM recorded)
       RETURNING id`,
      [
        record.origin.topic,
        record.origin.partition,
        record.origin.offset,
        poison.reason,
        poison.eventId ?? null,
        message.topic,
        message.key,
        message.value,
        JSON.stringify(encodeHeaders(message.headers)),
      ],
    );
    if (rows.length > 0) this.outbox?.notify();
    return rows.length > 0;
  }
}
