import { afterAll, describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADROOM_BYTES,
  ensureTopics,
  maxMessageBytes,
  undersizedTopics,
  type TopicSpec,
} from '@iam/messaging';
import { uniqueName } from '../support/environment';
import { testKafka } from '../support/kafka';

/**
 * A dead-letter topic must take any record of its input topic with the headers
 * a dead letter adds (else the relay stops behind a poison record near the
 * input's limit; test/e2e/dead-letters.e2e-spec.ts shows the effect).
 */
describe('topic plan: room for dead letters (integration, real broker)', () => {
  const created: string[] = [];
  const admin = testKafka.admin();

  afterAll(async () => {
    if (created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  const limitOf = async (topic: string) => (await maxMessageBytes(admin, [topic])).get(topic);

  /** An input topic that takes 200,000-byte record batches, and a spec for its dead-letter topic. */
  async function inputWithDeadLetterSpec(
    name: string,
    relayBatchBytes = 100_000,
  ): Promise<{ input: string; dlq: TopicSpec }> {
    const input = uniqueName(`plan-${name}`);
    const dlq = `${input}.dlq`;
    created.push(input, dlq);
    await ensureTopics(testKafka, [
      { topic: input, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '200000' }] },
    ]);
    return {
      input,
      dlq: { topic: dlq, numPartitions: 1, holdsDeadLettersOf: { topic: input, relayBatchBytes } },
    };
  }

  it('creates a dead-letter topic with its input topic’s limit plus the headroom, and finds nothing to report', async () => {
    await admin.connect();
    const { dlq } = await inputWithDeadLetterSpec('fresh');
    expect(await ensureTopics(testKafka, [dlq])).toEqual([dlq.topic]);
    expect(await limitOf(dlq.topic)).toBe(200_000 + DEAD_LETTER_HEADROOM_BYTES);
    expect(await undersizedTopics(testKafka, [dlq])).toEqual([]);
  });

  it('gives a dead-letter topic room for a whole relay batch when that is larger than its input topic allows', async () => {
    await admin.connect();
    const { dlq } = await inputWithDeadLetterSpec('relay-batch', 300_000);
    await ensureTopics(testKafka, [dlq]);
    expect(await limitOf(dlq.topic)).toBe(300_000 + DEAD_LETTER_HEADROOM_BYTES);
  });

  it('reports a dead-letter topic that exists with less room than its input topic needs', async () => {
    await admin.connect();
    const { input, dlq } = await inputWithDeadLetterSpec('undersized');
    // As an operator might have made it by hand, before the service first started.
    await ensureTopics(testKafka, [
      { topic: dlq.topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '150000' }] },
    ]);
    expect(await ensureTopics(testKafka, [dlq])).toEqual([]);
    expect(await undersizedTopics(testKafka, [dlq])).toEqual([
      {
        topic: dlq.topic,
        maxMessageBytes: 150_000,
        source: input,
        requiredBytes: 200_000 + DEAD_LETTER_HEADROOM_BYTES,
      },
    ]);
  });
});
