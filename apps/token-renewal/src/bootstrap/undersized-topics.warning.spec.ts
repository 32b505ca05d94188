import type { Kafka } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import { DEAD_LETTER_HEADROOM_BYTES, defaultContractConfig } from '@iam/messaging';
import type { RootLogger } from '@iam/observability';
import { warnOfUndersizedTopics } from './undersized-topics.warning';

const BROKER_DEFAULT = 1_048_588;

/** A broker whose every topic has the broker's default limit, or that refuses DescribeConfigs. */
function fakeKafka(describe: 'broker-default' | 'refused'): Kafka {
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    describeConfigs: async ({ resources }: { resources: Array<{ name: string }> }) => {
      if (describe === 'refused') throw new Error('Cluster authorization failed');
      return {
        resources: resources.map(({ name }) => ({
          resourceName: name,
          configEntries: [{ configName: 'max.message.bytes', configValue: String(BROKER_DEFAULT) }],
        })),
      };
    },
  };
  return { admin: () => admin } as unknown as Kafka;
}

function fakeLogger() {
  const warn = vi.fn();
  return { logger: { warn } as unknown as RootLogger, warn };
}

describe('warnOfUndersizedTopics', () => {
  const config = defaultContractConfig();

  it('warns of each dead-letter topic with no more room than its input topic, naming what it needs', async () => {
    const { logger, warn } = fakeLogger();
    await warnOfUndersizedTopics(fakeKafka('broker-default'), config, logger);
    expect(warn).toHaveBeenCalledTimes(2);
    const [fields, message] = warn.mock.calls[0]!;
    expect(fields).toEqual({
      topic: `${config.kafka.topics.roleChanges}.dlq`,
      maxMessageBytes: BROKER_DEFAULT,
      source: config.kafka.topics.roleChanges,
      requiredBytes: BROKER_DEFAULT + DEAD_LETTER_HEADROOM_BYTES,
    });
    expect(message).toContain('raise its max.message.bytes');
  });

  it('warns that it could not check, and does not throw, when the broker will not tell', async () => {
    const { logger, warn } = fakeLogger();
    await expect(warnOfUndersizedTopics(fakeKafka('refused'), config, logger)).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![1]).toBe('could not compare the dead-letter topics with their input topics');
  }, 10_000);
});
