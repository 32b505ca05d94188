import {
  EventType,
  epochSeconds,
  type Clock,
  type IdGenerator,
  type SessionUpdate,
  type UpdateCause,
} from '@iam/domain';
import type { TokenSealer } from '@iam/tokens';
import { CLOUDEVENTS_CONTENT_TYPE, cloudEvent } from '../cloudevents/cloud-event';
import type { ValuedOutboxMessage } from '../outbox/outbox-message';

const CONTENT_TYPE_HEADER: readonly [string, Buffer] = [
  'content-type',
  Buffer.from(CLOUDEVENTS_CONTENT_TYPE),
];

/** Header carrying the source time of the role change behind an update (for staleness metrics). */
export const EVENT_TIME_HEADER = 'iam-event-time';

/** The `cause` of the contract: what triggered the update, without the source time (a header). */
function publishedCause(cause: UpdateCause) {
  return cause.kind === 'event'
    ? { kind: cause.kind, eventId: cause.eventId, eventType: cause.eventType }
    : cause;
}

/**
 * Turns a session update into the record downstream services read from the
 * session-update topic (events.md): a structured CloudEvent keyed by user id,
 * the access token sealed (JWE) unless the operator chose plain tokens. The
 * refresh token never appears here.
 */
export class SessionUpdateEncoder {
  constructor(
    private readonly topic: string,
    private readonly sealer: TokenSealer,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
  ) {}

  async encode(update: SessionUpdate): Promise<ValuedOutboxMessage> {
    const data =
      update.type === EventType.SessionTokenRenewed
        ? {
            sessionId: update.sessionId,
            userId: update.userId,
            clientId: update.clientId,
            businessId: update.businessId,
            accessToken: await this.sealer.seal(update.accessToken),
            tokenEncryption: this.sealer.encryption,
            tokenType: 'Bearer',
            expiresIn: String(epochSeconds(update.expiresAt)),
            scope: update.scope,
            authorities: update.authorities,
            added: update.added,
            removed: update.removed,
            claimsVersion: update.claimsVersion,
            cause: publishedCause(update.cause),
          }
        : {
            sessionId: update.sessionId,
            userId: update.userId,
            clientId: update.clientId,
            reason: update.reason,
            claimsVersion: update.claimsVersion,
            cause: publishedCause(update.cause),
          };
    const event = cloudEvent({
      id: this.ids.uuid(),
      type: update.type,
      subject: update.sessionId,
      time: this.clock.now(),
      data,
    });
    return {
      topic: this.topic,
      key: Buffer.from(update.userId),
      value: Buffer.from(JSON.stringify(event)),
      headers:
        update.cause.kind === 'event'
          ? [CONTENT_TYPE_HEADER, [EVENT_TIME_HEADER, Buffer.from(update.cause.occurredAt.toISOString())]]
          : [CONTENT_TYPE_HEADER],
      sessionId: update.sessionId,
      claimsVersion: update.claimsVersion,
    };
  }
}
