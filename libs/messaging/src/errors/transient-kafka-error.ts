import {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSRequestTimeoutError,
} from 'kafkajs';

/** Whether a Kafka failure is about the broker's availability (retry later). */
export function isTransientKafkaError(error: unknown): boolean {
  if (
    error instanceof KafkaJSConnectionError ||
    error instanceof KafkaJSRequestTimeoutError ||
    error instanceof KafkaJSNumberOfRetriesExceeded
  ) {
    return true;
  }
  return error instanceof KafkaJSError && error.retriable;
}
