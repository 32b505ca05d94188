import { z } from 'zod';
import { EventType } from '@iam/domain';
import { SERVICE_EVENT_SOURCE } from '../cloudevents/cloud-event';

/** What triggered an update (events.md: `cause`). */
export const causeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('http') }).strict(),
  z.object({ kind: z.literal('event'), eventId: z.string().min(1), eventType: z.string().min(1) }).strict(),
  z
    .object({ kind: z.literal('operator') })
    .strict()
    .describe("An operator's action (CLI): ended the session, or changed its client's roles or service."),
]);

const authorities = z.array(z.string().regex(/^ROLE_/)).describe('Role names with the ROLE_ prefix.');

export const tokenRenewedDataSchema = z
  .object({
    sessionId: z.uuid(),
    userId: z.string().min(1),
    clientId: z.string().min(1),
    businessId: z.string().min(1).nullable(),
    accessToken: z
      .string()
      .min(1)
      .describe(
        'A compact JWE (RSA-OAEP-256, A256GCM, cty JWT) of the RS512 JWT, or the JWT when tokenEncryption is none.',
      ),
    tokenEncryption: z.enum(['jwe', 'none']),
    tokenType: z.literal('Bearer'),
    expiresIn: z
      .string()
      .regex(/^\d+$/)
      .describe("The token's expiry instant in epoch seconds, as a string."),
    scope: z.array(z.string()),
    authorities,
    added: authorities.describe('Authorities the previous token of the session did not have.'),
    removed: authorities.describe('Authorities of the previous token this one no longer has.'),
    claimsVersion: z
      .number()
      .int()
      .positive()
      .describe('Grows by one with every token (and the revocation) of the session: keep the highest seen.'),
    cause: causeSchema,
  })
  .strict();

export const sessionRevokedDataSchema = z
  .object({
    sessionId: z.uuid(),
    userId: z.string().min(1),
    clientId: z.string().min(1),
    reason: z.enum(['user-locked', 'refresh-token-reused', 'operator-request']),
    claimsVersion: z.number().int().positive(),
    cause: causeSchema,
  })
  .strict();

function outboundEvent<TType extends string, TData extends z.ZodType>(type: TType, data: TData) {
  return z
    .object({
      specversion: z.literal('1.0'),
      id: z.uuid(),
      source: z.literal(SERVICE_EVENT_SOURCE),
      type: z.literal(type),
      time: z.iso.datetime(),
      subject: z.uuid().describe('The session id.'),
      datacontenttype: z.literal('application/json'),
      data,
    })
    .strict();
}

/** The CloudEvents this service publishes on the session-update topic (key: userId). */
export const tokenRenewedEventSchema = outboundEvent(EventType.SessionTokenRenewed, tokenRenewedDataSchema);
export const sessionRevokedEventSchema = outboundEvent(EventType.SessionRevoked, sessionRevokedDataSchema);
