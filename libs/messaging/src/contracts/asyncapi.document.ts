import { z } from 'zod';
import { deadLetterTopic, type AppConfig } from '@iam/config';
import { BUSINESS_CHANGE_TYPES, ROLE_CHANGE_TYPES, type InboundEventTypeName } from '@iam/domain';
import { CLOUDEVENTS_CONTENT_TYPE } from '../cloudevents/cloud-event';
import { DeadLetterHeader } from '../dead-letters/dead-letter-message';
import { CHANGE_SCHEMAS, envelopeSchema } from '../inbound/change-event.schema';
import { MAX_RECORD_BYTES } from '../inbound/decode-change-event';
import { EVENT_TIME_HEADER } from '../session-updates/session-update.encoder';
import { sessionRevokedEventSchema, tokenRenewedEventSchema } from './session-update.schema';

type JsonSchema = Record<string, unknown>;

/** JSON Schema (draft 7, which AsyncAPI's schema format extends) of a zod schema, without `$schema`. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-7',
    io,
    unrepresentable: 'any',
  });
  return rest;
}

/** `iam.user.role.granted` → `UserRoleGranted` */
function messageName(type: string): string {
  return type
    .replace(/^iam\./, '')
    .split(/[.-]/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

const contentTypeHeader = (required: boolean): JsonSchema => ({
  type: 'object',
  properties: { 'content-type': { type: 'string', const: CLOUDEVENTS_CONTENT_TYPE } },
  ...(required ? { required: ['content-type'] } : {}),
});

/** An inbound event: the CloudEvents envelope with this type's `data`. */
function inboundMessage(type: InboundEventTypeName): JsonSchema {
  const envelope = jsonSchema(envelopeSchema, 'input') as {
    properties: Record<string, unknown>;
    required: string[];
  };
  const { schema, subjectField } = CHANGE_SCHEMAS[type];
  return {
    name: messageName(type),
    title: type,
    summary: `${type} (subject and record key: data.${subjectField})`,
    contentType: CLOUDEVENTS_CONTENT_TYPE,
    headers: contentTypeHeader(false),
    bindings: {
      kafka: { key: { type: 'string', description: `The event subject (data.${subjectField}).` } },
    },
    payload: {
      ...envelope,
      properties: {
        ...envelope.properties,
        type: { type: 'string', const: type },
        data: jsonSchema(schema, 'input'),
      },
    },
  };
}

const sessionUpdateHeaders: JsonSchema = {
  type: 'object',
  properties: {
    'content-type': { type: 'string', const: CLOUDEVENTS_CONTENT_TYPE },
    [EVENT_TIME_HEADER]: {
      type: 'string',
      format: 'date-time',
      description: "When cause.kind is event: that change's `time` at its source.",
    },
  },
  required: ['content-type'],
};

const deadLetterHeaders: JsonSchema = {
  type: 'object',
  description: "The original record's headers are kept; these are added.",
  properties: {
    [DeadLetterHeader.Reason]: {
      type: 'string',
      enum: [
        'empty-record',
        'too-large',
        'not-json',
        'not-a-cloudevent',
        'unknown-schema-version',
        'unknown-type',
        'invalid-payload',
      ],
    },
    [DeadLetterHeader.Detail]: { type: 'string', maxLength: 1024 },
    [DeadLetterHeader.EventId]: {
      type: 'string',
      description: 'The CloudEvents id, when the record had one.',
    },
    [DeadLetterHeader.OriginTopic]: { type: 'string' },
    [DeadLetterHeader.OriginPartition]: { type: 'string', pattern: '^\\d+$' },
    [DeadLetterHeader.OriginOffset]: { type: 'string', pattern: '^\\d+$' },
    [DeadLetterHeader.OriginTimestamp]: { type: 'string', pattern: '^\\d+$' },
    [DeadLetterHeader.ConsumerGroup]: { type: 'string' },
    [DeadLetterHeader.FailedAt]: { type: 'string', format: 'date-time' },
  },
  required: [
    DeadLetterHeader.Reason,
    DeadLetterHeader.Detail,
    DeadLetterHeader.OriginTopic,
    DeadLetterHeader.OriginPartition,
    DeadLetterHeader.OriginOffset,
    DeadLetterHeader.ConsumerGroup,
    DeadLetterHeader.FailedAt,
  ],
};

const messageRefs = (names: readonly string[]) =>
  Object.fromEntries(names.map((name) => [name, { $ref: `#/components/messages/${name}` }]));

/**
 * The AsyncAPI 3 document of every topic the service touches, generated from
 * the schemas the code validates and produces with (so it cannot drift):
 * docs/asyncapi.yaml is this, written out, and a test keeps the two equal.
 */
export function buildAsyncApiDocument(config: AppConfig): Record<string, unknown> {
  const { topics } = config.kafka;
  const roleMessages = ROLE_CHANGE_TYPES.map(inboundMessage);
  const businessMessages = BUSINESS_CHANGE_TYPES.map(inboundMessage);
  const messages: Record<string, unknown> = {};
  for (const message of [...roleMessages, ...businessMessages]) messages[message.name as string] = message;
  messages.SessionTokenRenewed = {
    name: 'SessionTokenRenewed',
    title: 'iam.session.token-renewed',
    summary: 'A session received a token (HTTP renewal, role change, or a new session).',
    contentType: CLOUDEVENTS_CONTENT_TYPE,
    headers: sessionUpdateHeaders,
    bindings: {
      kafka: { key: { type: 'string', description: 'The userId: per-user order within a partition.' } },
    },
    payload: jsonSchema(tokenRenewedEventSchema, 'output'),
  };
  messages.SessionRevoked = {
    name: 'SessionRevoked',
    title: 'iam.session.revoked',
    summary: 'A session ended: its tokens can no longer be renewed.',
    contentType: CLOUDEVENTS_CONTENT_TYPE,
    headers: sessionUpdateHeaders,
    bindings: { kafka: { key: { type: 'string', description: 'The userId.' } } },
    payload: jsonSchema(sessionRevokedEventSchema, 'output'),
  };
  messages.DeadLetter = {
    name: 'DeadLetter',
    title: 'Dead letter',
    summary: `An input record that can never be processed, unchanged (key, value up to ${MAX_RECORD_BYTES} bytes or more, headers), with why and where from.`,
    headers: deadLetterHeaders,
    payload: { description: 'The original record value, byte for byte (possibly not JSON).' },
  };

  const channel = (address: string, description: string, names: readonly string[]) => ({
    address,
    description,
    messages: messageRefs(names),
  });
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'IAM Token Renewal — Kafka contract',
      version: '1.0.0',
      description:
        'Role and business changes in; session token updates out; poison records to dead-letter topics. ' +
        'Every event is a CloudEvents 1.0 event in structured JSON mode. Topic names are configurable; these are the defaults.',
    },
    defaultContentType: CLOUDEVENTS_CONTENT_TYPE,
    channels: {
      roleChanges: channel(
        topics.roleChanges,
        'Changes of user, client and group roles (key: subject).',
        roleMessages.map((m) => m.name as string),
      ),
      businessChanges: channel(
        topics.businessChanges,
        'Changes of businesses and their members (key: subject).',
        businessMessages.map((m) => m.name as string),
      ),
      roleChangesDeadLetters: channel(
        deadLetterTopic(config, topics.roleChanges),
        'Poison records of the role-change topic.',
        ['DeadLetter'],
      ),
      businessChangesDeadLetters: channel(
        deadLetterTopic(config, topics.businessChanges),
        'Poison records of the business-change topic.',
        ['DeadLetter'],
      ),
      sessionUpdates: channel(
        topics.sessionUpdates,
        'Every token issued and every session ended, exactly once, in per-session order (key: userId).',
        ['SessionTokenRenewed', 'SessionRevoked'],
      ),
    },
    operations: {
      consumeRoleChanges: { action: 'receive', channel: { $ref: '#/channels/roleChanges' } },
      consumeBusinessChanges: { action: 'receive', channel: { $ref: '#/channels/businessChanges' } },
      deadLetterRoleChanges: { action: 'send', channel: { $ref: '#/channels/roleChangesDeadLetters' } },
      deadLetterBusinessChanges: {
        action: 'send',
        channel: { $ref: '#/channels/businessChangesDeadLetters' },
      },
      publishSessionUpdates: { action: 'send', channel: { $ref: '#/channels/sessionUpdates' } },
    },
    components: { messages },
  };
}
