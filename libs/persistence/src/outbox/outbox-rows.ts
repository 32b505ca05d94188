import type { OutboxMessage, StoredOutboxMessage } from '@iam/messaging';

/** Headers are stored as `[[name, base64 value], …]` so their bytes and order survive. */
export type StoredHeaders = Array<[string, string]>;

export function encodeHeaders(headers: OutboxMessage['headers']): StoredHeaders {
  return headers.map(([name, value]) => [name, value.toString('base64')]);
}

export function decodeHeaders(stored: unknown): Array<readonly [string, Buffer]> {
  if (!Array.isArray(stored)) return [];
  return (stored as StoredHeaders).map(([name, value]) => [name, Buffer.from(value, 'base64')] as const);
}

export interface OutboxRow {
  id: string;
  topic: string;
  message_key: Buffer | null;
  value: Buffer | null;
  headers: unknown;
  session_id: string | null;
  claims_version: number | null;
}

export function fromRow(row: OutboxRow): StoredOutboxMessage {
  return {
    id: BigInt(row.id),
    topic: row.topic,
    key: row.message_key,
    value: row.value,
    headers: decodeHeaders(row.headers),
    ...(row.session_id ? { sessionId: row.session_id } : {}),
    ...(row.claims_version !== null ? { claimsVersion: row.claims_version } : {}),
  };
}
