import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import { deadLetterTopic, type AppConfig } from '@iam/config';
import { waitForTopicLeaders } from './topic-leaders';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  readonly configEntries?: ReadonlyArray<{ name: string; value: string }>;
  /** Set on a dead-letter topic: what its record batches must have room for (see deadLetterRoom). */
  readonly holdsDeadLettersOf?: DeadLetterSource;
}

/** A dead-letter topic's input topic, and the bytes the outbox relay may put in one batch. */
export interface DeadLetterSource {
  readonly topic: string;
  readonly relayBatchBytes: number;
}

type DeadLetterTopicSpec = TopicSpec & { readonly holdsDeadLettersOf: DeadLetterSource };

const isDeadLetterTopic = (spec: TopicSpec): spec is DeadLetterTopicSpec =>
  spec.holdsDeadLettersOf !== undefined;

/**
 * Room a dead letter needs beyond its record: the headers it adds (a detail of
 * at most 1,024 characters, an event id of at most 256, the origin, the group)
 * come to under 8 KiB.
 */
export const DEAD_LETTER_HEADROOM_BYTES = 16 * 1024;

/**
 * The `max.message.bytes` a dead-letter topic needs: a record as large as its
 * input topic takes, or a relay batch of smaller dead letters (the relay sends
 * up to `relayBatchBytes` in one record batch a partition), plus the headers.
 * With less, the broker refuses the batch on every retry and the outbox relay,
 * which publishes in order, stops behind it.
 */
export function deadLetterRoom(inputMaxMessageBytes: number, source: DeadLetterSource): number {
  return Math.max(inputMaxMessageBytes, source.relayBatchBytes) + DEAD_LETTER_HEADROOM_BYTES;
}

const MAX_MESSAGE_BYTES = 'max.message.bytes';
const DESCRIBE_ATTEMPTS = 5;
const DESCRIBE_RETRY_MS = 500;

/** A dead-letter topic that may refuse what it must hold. */
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
      holdsDeadLettersOf: { topic: topics.roleChanges, relayBatchBytes: config.outbox.batchBytes },
    },
    {
      topic: deadLetterTopic(config, topics.businessChanges),
      numPartitions: 1,
      holdsDeadLettersOf: { topic: topics.businessChanges, relayBatchBytes: config.outbox.batchBytes },
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
 * broker's default); a dead-letter topic after its input topic, with the room
 * deadLetterRoom says. Should the broker not tell an input topic's limit (no
 * DescribeConfigs permission), the dead-letter topic is created with the
 * broker's default and undersizedTopics reports that it cannot check it.
 */
export async function ensureTopics(kafka: Kafka, specs: readonly TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    const inputs = missing.filter((spec) => !isDeadLetterTopic(spec));
    const deadLetters = missing.filter(isDeadLetterTopic);
    await createTopics(admin, inputs);
    if (deadLetters.length > 0) {
      const limits = await maxMessageBytes(
        admin,
        deadLetters.map((spec) => spec.holdsDeadLettersOf.topic),
      ).catch(() => undefined);
      await createTopics(
        admin,
        deadLetters.map((spec) => {
          const inputLimit = limits?.get(spec.holdsDeadLettersOf.topic);
          if (inputLimit === undefined) return spec;
          const room = {
            name: MAX_MESSAGE_BYTES,
            value: String(deadLetterRoom(inputLimit, spec.holdsDeadLettersOf)),
          };
          return { ...spec, configEntries: [...(spec.configEntries ?? []), room] };
        }),
      );
    }
    return missing.map((spec) => spec.topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The dead-letter topics of the plan with less room than deadLetterRoom: made
 * by hand, or by a version before it. Checked at start-up so that an operator
 * hears of it before a poison record stops the relay.
 */
export async function undersizedTopics(
  kafka: Kafka,
  specs: readonly TopicSpec[],
): Promise<UndersizedTopic[]> {
  const deadLetters = specs.filter(isDeadLetterTopic);
  if (deadLetters.length === 0) return [];
  const admin = kafka.admin();
  await admin.connect();
  try {
    const limits = await maxMessageBytes(admin, [
      ...new Set(deadLetters.flatMap((spec) => [spec.topic, spec.holdsDeadLettersOf.topic])),
    ]);
    return deadLetters.flatMap((spec) => {
      const source = spec.holdsDeadLettersOf;
      const maxBytes = limits.get(spec.topic)!;
      const requiredBytes = deadLetterRoom(limits.get(source.topic)!, source);
      return maxBytes < requiredBytes
        ? [{ topic: spec.topic, maxMessageBytes: maxBytes, source: source.topic, requiredBytes }]
        : [];
    });
  } finally {
    await admin.disconnect();
  }
}

/** Creates the topics and waits for their leaders (our wait: kafkajs's misses an answer of Kafka 4). */
async function createTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  if (specs.length === 0) return;
  await admin.createTopics({
    waitForLeaders: false,
    topics: specs.map((spec) => ({
      topic: spec.topic,
      numPartitions: spec.numPartitions,
      configEntries: spec.configEntries ? [...spec.configEntries] : [],
    })),
  });
  await waitForTopicLeaders(
    admin,
    specs.map((spec) => spec.topic),
  );
}

/**
 * Each topic's effective `max.message.bytes` (its own, or the broker's
 * default). Retried briefly: in a cluster of several brokers, the one asked
 * may not know a topic created a moment ago.
 */
export async function maxMessageBytes(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await describeMaxMessageBytes(admin, topics);
    } catch (error) {
      if (attempt >= DESCRIBE_ATTEMPTS) {
        throw new Error(
          `cannot read ${MAX_MESSAGE_BYTES} of ${topics.join(', ')}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, DESCRIBE_RETRY_MS));
    }
  }
}

async function describeMaxMessageBytes(
  admin: Admin,
  topics: readonly string[],
): Promise<Map<string, number>> {
  // kafkajs throws on the first resource the broker reports an error for.
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
    const entry = resource.configEntries.find((candidate) => candidate.configName === MAX_MESSAGE_BYTES);
    const value = Number(entry?.configValue);
    if (!Number.isSafeInteger(value)) throw new Error(`no ${MAX_MESSAGE_BYTES} for ${resource.resourceName}`);
    limits.set(resource.resourceName, value);
  }
  return limits;
}
