import type { Admin } from 'kafkajs';

export interface LeaderWaitOptions {
  readonly timeoutMs?: number;
  readonly pollMs?: number;
}

/** A broker may take a few seconds to learn of a new topic on a busy machine; start-up waits this long. */
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_POLL_MS = 100;

/**
 * What metadata answers about a topic created a moment ago, until the broker
 * asked knows it and its partitions have leaders. kafkajs's own
 * `createTopics({ waitForLeaders: true })` retries only LEADER_NOT_AVAILABLE;
 * Kafka 4 (KRaft) answers UNKNOWN_TOPIC_OR_PARTITION first, which made the
 * service exit during start-up (kafkajs issue #815).
 */
const NOT_YET_KNOWN = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

function isNotYetKnown(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (NOT_YET_KNOWN.has((current as { type?: string }).type ?? '')) return true;
  }
  return false;
}

/**
 * Whether to ask again rather than fail the start. What kafkajs marks final
 * (no authorization, an invalid topic name) fails at once; the rest is waited
 * through until the deadline: besides the answers above, a poll can fail as a
 * whole when no broker answered it (kafkajs then throws a TypeError on the
 * metadata it did not get).
 */
function isWorthWaiting(error: unknown): boolean {
  return isNotYetKnown(error) || (error as { retriable?: boolean }).retriable !== false;
}

/**
 * Waits until every partition of `topics` has a leader, as the broker's
 * metadata tells it, so that producers and consumers can use topics just
 * created. Final errors at once, and still no leaders after `timeoutMs`, throw.
 */
export async function waitForTopicLeaders(
  admin: Pick<Admin, 'fetchTopicMetadata'>,
  topics: readonly string[],
  { timeoutMs = DEFAULT_TIMEOUT_MS, pollMs = DEFAULT_POLL_MS }: LeaderWaitOptions = {},
): Promise<void> {
  if (topics.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  let lastReason = 'no metadata yet';
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
      const waiting = topics.filter((topic) => {
        const partitions = metadata.find((entry) => entry.name === topic)?.partitions ?? [];
        return partitions.length === 0 || partitions.some((partition) => partition.leader < 0);
      });
      if (waiting.length === 0) return;
      lastReason = `no leader yet for ${waiting.join(', ')}`;
    } catch (error) {
      if (!isWorthWaiting(error)) throw error;
      lastReason = (error as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new Error(`topics ${topics.join(', ')} not ready after ${timeoutMs} ms: ${lastReason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
