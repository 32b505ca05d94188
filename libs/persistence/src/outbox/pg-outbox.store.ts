import type { OutboxBatch, OutboxStore } from '@iam/messaging';
import type { Sql } from '../database/sql';
import { fromRow, type OutboxRow } from './outbox-rows';

type BatchRow = OutboxRow & { batch_id: string };

const COLUMNS =
  'o.id, o.topic, o.message_key, o.value, o.headers, o.session_id::text AS session_id, o.claims_version, o.batch_id';

function toBatches(rows: readonly BatchRow[]): OutboxBatch[] {
  const batches = new Map<string, OutboxBatch['messages'][number][]>();
  for (const row of rows) {
    const messages = batches.get(row.batch_id) ?? [];
    messages.push(fromRow(row));
    batches.set(row.batch_id, messages);
  }
  return [...batches].map(([batchId, messages]) => ({ batchId: BigInt(batchId), messages }));
}

/** The outbox table as the relay sees it. */
export class PgOutboxStore implements OutboxStore {
  constructor(private readonly sql: Sql) {}

  async pendingBatches(): Promise<OutboxBatch[]> {
    const rows = await this.sql.query<BatchRow>(
      'outbox-pending',
      `SELECT ${COLUMNS} FROM outbox o WHERE o.batch_id IS NOT NULL ORDER BY o.batch_id, o.id`,
    );
    return toBatches(rows);
  }

  async claimNextBatch(limit: number): Promise<OutboxBatch | null> {
    // One statement: numbering the batch and assigning its rows commit together,
    // and an empty outbox consumes no batch number.
    const rows = await this.sql.query<BatchRow>(
      'outbox-claim',
      `WITH next AS (
         SELECT id FROM outbox WHERE batch_id IS NULL ORDER BY id LIMIT $1
       ), numbered AS (
         UPDATE outbox_relay_state SET last_batch_id = last_batch_id + 1
         WHERE id = 1 AND EXISTS (SELECT 1 FROM next)
         RETURNING last_batch_id
       )
       UPDATE outbox o SET batch_id = numbered.last_batch_id
       FROM numbered, next WHERE o.id = next.id
       RETURNING ${COLUMNS}`,
      [limit],
    );
    if (rows.length === 0) return null;
    const sorted = [...rows].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    return toBatches(sorted)[0] ?? null;
  }

  async completeBatch(batchId: bigint): Promise<void> {
    await this.sql.query('outbox-complete', 'DELETE FROM outbox WHERE batch_id = $1', [batchId.toString()]);
  }

  async backlog(): Promise<number> {
    const [row] = await this.sql.query<{ count: string }>(
      'outbox-backlog',
      'SELECT count(*) AS count FROM outbox',
    );
    return Number(row?.count ?? 0);
  }
}
