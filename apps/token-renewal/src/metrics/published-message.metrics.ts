import type { AppConfig } from '@iam/config';
import { EventType } from '@iam/domain';
import { EVENT_TIME_HEADER, type OutboxBatch, type RelayMetrics } from '@iam/messaging';
import type { ServiceMetrics } from '@iam/observability';

interface SessionUpdateEnvelope {
  type?: string;
  data?: { cause?: { kind?: string }; reason?: string };
}

/**
 * Counts what actually reached Kafka: messages by topic, tokens issued by cause,
 * sessions revoked by reason, and the staleness of event-caused tokens (from the
 * change's source time to now). Counted at publish time, so a token written but
 * not yet relayed is not counted, and one written by the operator CLI is.
 */
export function publishedMessageMetrics(config: AppConfig, metrics: ServiceMetrics): RelayMetrics {
  return {
    onPublished(_count: number, messages: OutboxBatch['messages']) {
      const now = Date.now();
      for (const message of messages) {
        metrics.messagesPublished.inc({ topic: message.topic });
        if (message.topic !== config.kafka.topics.sessionUpdates || message.value === null) continue;
        const update = JSON.parse(message.value.toString('utf8')) as SessionUpdateEnvelope;
        if (update.type === EventType.SessionTokenRenewed) {
          metrics.tokensIssued.inc({ cause: update.data?.cause?.kind ?? 'unknown' });
        } else if (update.type === EventType.SessionRevoked) {
          metrics.sessionsRevoked.inc({ reason: update.data?.reason ?? 'unknown' });
        }
        const eventTime = message.headers.find(([name]) => name === EVENT_TIME_HEADER)?.[1];
        if (eventTime) metrics.roleChangeStaleness.observe((now - Date.parse(eventTime.toString())) / 1_000);
      }
    },
  };
}
