import type { AppConfig } from '@iam/config';
import { topicPlan, undersizedTopics } from '@iam/messaging';
import type { RootLogger } from '@iam/observability';
import type { Kafka } from 'kafkajs';

/**
 * Warns of a dead-letter topic with less room than deadLetterRoom (created by
 * hand, or by a version before it): a dead letter it refuses would stop the
 * outbox relay. A warning rather than a refusal to
 * start: the service works until such a record arrives, and the fix is the
 * operator's (README, Runbook).
 */
export async function warnOfUndersizedTopics(
  kafka: Kafka,
  config: AppConfig,
  logger: RootLogger,
): Promise<void> {
  try {
    for (const topic of await undersizedTopics(kafka, topicPlan(config))) {
      logger.warn(
        { ...topic },
        `${topic.topic} accepts ${topic.maxMessageBytes} bytes a record batch, less than a dead letter of ${topic.source} may need (${topic.requiredBytes}): raise its max.message.bytes`,
      );
    }
  } catch (error) {
    logger.warn({ err: error }, 'could not compare the dead-letter topics with their input topics');
  }
}
