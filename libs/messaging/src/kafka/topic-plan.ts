import type { Kafka } from 'kafkajs';
import { deadLetterTopic, type AppConfig } from '@iam/config';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  readonly configEntries?: ReadonlyArray<{ name: string; value: string }>;
}

/** Single-partition topic the outbox relay commits its progress against (see OutboxRelay). */
export function relayProgressTopic(config: AppConfig): string {
  return `${config.kafka.groupId}.outbox-relay-progress`;
}

/**
 * Every topic the service reads or writes: the two input topics and their
 * dead-letter topics, the session-update topic (keyed by user, so per-user
 * order holds within a partition), and the relay's progress topic.
 */
export function topicPlan(config: AppConfig): TopicSpec[] {
  const { topics, topicPartitions } = config.kafka;
  return [
    { topic: topics.roleChanges, numPartitions: topicPartitions },
    { topic: topics.businessChanges, numPartitions: topicPartitions },
    { topic: deadLetterTopic(config, topics.roleChanges), numPartitions: 1 },
    { topic: deadLetterTopic(config, topics.businessChanges), numPartitions: 1 },
    { topic: topics.sessionUpdates, numPartitions: topicPartitions },
    {
      topic: relayProgressTopic(config),
      numPartitions: 1,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
  ];
}

/** Creates the topics that do not exist yet (replication factor from the broker's default). */
export async function ensureTopics(kafka: Kafka, specs: readonly TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((spec) => ({
          topic: spec.topic,
          numPartitions: spec.numPartitions,
          configEntries: spec.configEntries ? [...spec.configEntries] : [],
        })),
      });
    }
    return missing.map((spec) => spec.topic);
  } finally {
    await admin.disconnect();
  }
}
