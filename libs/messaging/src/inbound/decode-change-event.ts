import { type z } from 'zod';
import { isValidId, type Change, type ChangeEvent, type InboundEventTypeName } from '@iam/domain';
import { CHANGE_SCHEMAS, envelopeSchema } from './change-event.schema';
import { parseRfc3339 } from './rfc3339';
import type { InboundRecord } from './inbound-record';
import { PoisonReason, type Poison } from './poison-reason';

/** Larger records are refused unread: no legitimate role change comes near it. */
export const MAX_RECORD_BYTES = 64 * 1024;

export type DecodeResult =
  { readonly ok: true; readonly event: ChangeEvent } | ({ readonly ok: false } & Poison);

const utf8 = new TextDecoder('utf-8', { fatal: true });

function poison(reason: Poison['reason'], detail: string, eventId?: string): DecodeResult {
  return eventId === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, eventId };
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Validates a record of an input topic as strictly as HTTP input: a CloudEvent
 * in structured JSON mode, of a type the topic carries, with a valid payload
 * whose entity is the event's subject. Anything else is poison, with the reason.
 */
export function decodeChangeEvent(record: InboundRecord, acceptedTypes: ReadonlySet<string>): DecodeResult {
  const { value } = record;
  if (value === null || value.length === 0) return poison(PoisonReason.Empty, 'the record has no value');
  if (value.length > MAX_RECORD_BYTES) {
    return poison(
      PoisonReason.TooLarge,
      `the value is ${value.length} bytes, above the ${MAX_RECORD_BYTES} limit`,
    );
  }

  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(value));
  } catch (error) {
    return poison(PoisonReason.NotJson, `the value is not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return poison(PoisonReason.NotCloudEvent, 'the value is JSON but not an object');
  }
  const attributes = json as Record<string, unknown>;
  // Kept with the dead letter only when it is a usable id (a NUL byte could not even be stored).
  const rawId = attributes['id'];
  const eventId = typeof rawId === 'string' && isValidId(rawId) ? rawId : undefined;
  if (attributes['specversion'] === undefined) {
    return poison(PoisonReason.NotCloudEvent, 'specversion is missing', eventId);
  }
  if (attributes['specversion'] !== '1.0') {
    return poison(
      PoisonReason.UnknownSchemaVersion,
      `specversion ${JSON.stringify(attributes['specversion']).slice(0, 32)} is not 1.0`,
      eventId,
    );
  }

  const envelope = envelopeSchema.safeParse(attributes);
  if (!envelope.success) return poison(PoisonReason.NotCloudEvent, describe(envelope.error), eventId);
  const { type, data, subject } = envelope.data;
  if (!acceptedTypes.has(type)) {
    return poison(PoisonReason.UnknownType, `type ${type} is not carried by ${record.origin.topic}`, eventId);
  }

  const { schema, subjectField } = CHANGE_SCHEMAS[type as InboundEventTypeName];
  const payload = schema.safeParse(data);
  if (!payload.success) return poison(PoisonReason.InvalidPayload, describe(payload.error), eventId);
  const entityId = (payload.data as Record<string, unknown>)[subjectField];
  if (entityId !== subject) {
    return poison(PoisonReason.InvalidPayload, `subject must equal data.${subjectField}`, eventId);
  }

  return {
    ok: true,
    event: {
      id: envelope.data.id,
      source: envelope.data.source,
      subject,
      time: parseRfc3339(envelope.data.time)!,
      timestamp: envelope.data.time,
      change: { type, data: payload.data } as Change,
      origin: record.origin,
    },
  };
}
