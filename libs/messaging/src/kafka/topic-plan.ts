import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import { deadLetterTopic, type AppConfig } from '@iam/config';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  readonly configEntries?: ReadonlyArray<{ name: string; value: string }>;
  /**
   * A topic that must take every record of this one with headers added (a
   * dead-letter topic and its input topic): it is created with that much more
   * room per record batch than its source allows.
   */
  readonly holdsRecordsOf?: string;
}

/**
 * Room a dead letter needs beyond its record: the headers it adds (a detail of
 * at most 1,024 characters, an event id of at most 256, the origin, the group)
 * come to under 8 KiB. Without it a poison record near its input topic's
 * limit would be refused by the dead-letter topic on every retry, and the
 * outbox relay, which publishes in order, would stop behind it.
 */
export const DEAD_LETTER_HEADROOM_BYTES = 16 * 1024;

const MAX_MESSAGE_BYTES = 'max.message.bytes';

/** A topic whose records may not fit in the topic that must hold them. */
export interface UndersizedTopic {
  readonly topic: string;
  readonly maxMessageBytes: number;
  readonly source: string;
  readonly requiredBytes: number;
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
    {
      topic: deadLetterTopic(config, topics.roleChanges),
      numPartitions: 1,
      holdsRecordsOf: topics.roleChanges,
    },
    {
      topic: deadLetterTopic(config, topics.businessChanges),
      numPartitions: 1,
      holdsRecordsOf: topics.businessChanges,
    },
    { topic: topics.sessionUpdates, numPartitions: topicPartitions },
    {
      topic: relayProgressTopic(config),
      numPartitions: 1,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
  ];
}

/**
 * Creates the topics that do not exist yet (replication factor from the
 * broker's default); a topic holding another's records after its source, with
 * DEAD_LETTER_HEADROOM_BYTES more than the source's `max.message.bytes`.
 */
export async function ensureTopics(kafka: Kafka, specs: readonly TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    const sources = missing.filter((spec) => spec.holdsRecordsOf === undefined);
    const holders = missing.filter((spec) => spec.holdsRecordsOf !== undefined);
    await createTopics(admin, sources);
    if (holders.length > 0) {
      const limits = await maxMessageBytes(
        admin,
        holders.map((spec) => spec.holdsRecordsOf!),
      );
      await createTopics(
        admin,
        holders.map((spec) => ({
          ...spec,
          configEntries: [
            ...(spec.configEntries ?? []),
            {
              name: MAX_MESSAGE_BYTES,
              value: String(limits.get(spec.holdsRecordsOf!)! + DEAD_LETTER_HEADROOM_BYTES),
            },
          ],
        })),
      );
    }
    return missing.map((spec) => spec.topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The topics of the plan that may refuse a record of their source: created
 * by hand or by an earlier version with too little room (see
 * DEAD_LETTER_HEADROOM_BYTES). Checked at start-up so an operator hears of it
 * before a poison record stops the relay.
 */
export async function undersizedTopics(
  kafka: Kafka,
  specs: readonly TopicSpec[],
): Promise<UndersizedTopic[]> {
  const holders = specs.filter((spec) => spec.holdsRecordsOf !== undefined);
  if (holders.length === 0) return [];
  const admin = kafka.admin();
  await admin.connect();
  try {
    const limits = await maxMessageBytes(admin, [
      ...new Set(holders.flatMap((spec) => [spec.topic, spec.holdsRecordsOf!])),
    ]);
    return holders.flatMap((spec) => {
      const maxBytes = limits.get(spec.topic)!;
      const requiredBytes = limits.get(spec.holdsRecordsOf!)! + DEAD_LETTER_HEADROOM_BYTES;
      return maxBytes < requiredBytes
        ? [{ topic: spec.topic, maxMessageBytes: maxBytes, source: spec.holdsRecordsOf!, requiredBytes }]
        : [];
    });
  } finally {
    await admin.disconnect();
  }
}

async function createTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  if (specs.length === 0) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: specs.map((spec) => ({
      topic: spec.topic,
      numPartitions: spec.numPartitions,
      configEntries: spec.configEntries ? [...spec.configEntries] : [],
    })),
  });
}

/** Each topic's effective `max.message.bytes` (its own, or the broker's default). */
async function maxMessageBytes(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configNames: [MAX_MESSAGE_BYTES],
    })),
  });
  const limits = new Map<string, number>();
  for (const resource of resources) {
    const value = Number(
      resource.configEntries.find((entry) => entry.configName === MAX_MESSAGE_BYTES)?.configValue,
    );
    if (resource.errorCode !== 0 || !Number.isSafeInteger(value)) {
      throw new Error(
        `cannot read ${MAX_MESSAGE_BYTES} of ${resource.resourceName}: ${resource.errorMessage ?? 'no value'}`,
      );
    }
    limits.set(resource.resourceName, value);
  }
  return limits;
}
