import type { OutboxBatch, OutboxBatchLimit, OutboxStore } from '@iam/messaging';
import type { Sql } from '../database/sql';
import { fromRow, type OutboxRow } from './outbox-rows';

type BatchRow = OutboxRow & { batch_id: string };

/** A row's share of the byte budget: key, value and headers as the relay sends them. */
const MESSAGE_BYTES =
  'octet_length(o.value) + COALESCE(octet_length(o.message_key), 0) + COALESCE(octet_length(o.headers::text), 0)';

const COLUMNS =
  'o.id, o.topic, o.message_key, o.value, o.headers, o.session_id::text AS session_id, o.claims_version, o.batch_id';

/** The largest bigint: batch numbers count up from 1 and never get there. */
const NO_BATCH_BOUND = 2n ** 63n - 1n;

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

  async pendingBatches(below: bigint = NO_BATCH_BOUND): Promise<OutboxBatch[]> {
    const rows = await this.sql.query<BatchRow>(
      'outbox-pending',
      `SELECT ${COLUMNS} FROM outbox o WHERE o.batch_id < $1::bigint ORDER BY o.batch_id, o.id`,
      [below.toString()],
    );
    return toBatches(rows);
  }

  async claimNextBatch(limit: OutboxBatchLimit): Promise<OutboxBatch | null> {
    // One statement: numbering the batch and assigning its rows commit together,
    // and an empty outbox consumes no batch number. The oldest rows, as many as
    // fit the byte budget, and the oldest one even if it alone does not.
    const rows = await this.sql.query<BatchRow>(
      'outbox-claim',
      `WITH candidates AS (
         SELECT id, sum(${MESSAGE_BYTES}) OVER (ORDER BY id) AS running
         FROM (SELECT * FROM outbox WHERE batch_id IS NULL ORDER BY id LIMIT $1) o
       ), next AS (
         SELECT id FROM candidates
         WHERE running <= $2 OR id = (SELECT min(id) FROM candidates)
       ), numbered AS (
         UPDATE outbox_relay_state SET last_batch_id = last_batch_id + 1
         WHERE id = 1 AND EXISTS (SELECT 1 FROM next)
         RETURNING last_batch_id
       )
       UPDATE outbox o SET batch_id = numbered.last_batch_id
       FROM numbered, next WHERE o.id = next.id
       RETURNING ${COLUMNS}`,
      [limit.messages, limit.bytes],
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
