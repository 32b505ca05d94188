import { KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, type Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { waitForTopicLeaders } from './topic-leaders';

type Metadata = Awaited<ReturnType<Admin['fetchTopicMetadata']>>;
type Answer = Metadata | Error;

const protocolError = (type: string, code: number, retriable = true) =>
  new KafkaJSProtocolError({ message: type, type, code, retriable } as never);
const unknownTopic = () => protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3);

/** Each partition's leader, by topic; -1 is no leader. */
function metadata(leaders: Record<string, number[]>): Metadata {
  return {
    topics: Object.entries(leaders).map(([name, partitions]) => ({
      name,
      partitions: partitions.map((leader, partitionId) => ({
        partitionId,
        leader,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
        offlineReplicas: [],
      })),
    })),
  };
}

/** An admin whose metadata answers are `answers` in turn (the last one repeated). */
function adminAnswering(...answers: Answer[]) {
  let calls = 0;
  const admin = {
    fetchTopicMetadata: () => {
      const answer = answers[Math.min(calls, answers.length - 1)]!;
      calls += 1;
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
  return { admin, calls: () => calls };
}

const fast = { pollMs: 1, timeoutMs: 500 };

describe('waitForTopicLeaders', () => {
  it('waits through a broker that does not know the new topics yet and then through partitions without a leader', async () => {
    const { admin, calls } = adminAnswering(
      unknownTopic(),
      new KafkaJSNumberOfRetriesExceeded(protocolError('LEADER_NOT_AVAILABLE', 5), {
        retryCount: 5,
        retryTime: 100,
      }),
      metadata({ a: [1, -1], b: [1] }),
      metadata({ a: [1, 1], b: [1] }),
    );
    await waitForTopicLeaders(admin, ['a', 'b'], fast);
    expect(calls()).toBe(4);
  });

  it('waits for a topic missing from the answer', async () => {
    const { admin, calls } = adminAnswering(metadata({ a: [1] }), metadata({ a: [1], b: [1] }));
    await waitForTopicLeaders(admin, ['a', 'b'], fast);
    expect(calls()).toBe(2);
  });

  it('waits through a poll no broker answered', async () => {
    const { admin, calls } = adminAnswering(
      new TypeError("Cannot read properties of null (reading 'topicMetadata')"),
      metadata({ a: [1] }),
    );
    await waitForTopicLeaders(admin, ['a'], fast);
    expect(calls()).toBe(2);
  });

  it('rethrows an error kafkajs marks final at once', async () => {
    const denied = protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false);
    const { admin, calls } = adminAnswering(denied);
    await expect(waitForTopicLeaders(admin, ['a'], fast)).rejects.toBe(denied);
    expect(calls()).toBe(1);
  });

  it('gives up after the timeout, saying what it was still waiting for', async () => {
    const { admin } = adminAnswering(metadata({ a: [-1] }));
    await expect(waitForTopicLeaders(admin, ['a'], { pollMs: 1, timeoutMs: 20 })).rejects.toThrow(
      'topics a not ready after 20 ms: no leader yet for a',
    );
  });

  it('asks nothing when there is no topic', async () => {
    const { admin, calls } = adminAnswering(unknownTopic());
    await waitForTopicLeaders(admin, []);
    expect(calls()).toBe(0);
  });
});
