import { SessionContentionError } from '@iam/domain';
import { isTransientKafkaError } from '@iam/messaging';
import { isTransientDatabaseError } from '@iam/persistence';
import { SigningKeysStaleError } from '@iam/tokens';

/**
 * Failures worth waiting out: a dependency that is unavailable or busy. Only
 * these are retried; a record that can never be processed is dead-lettered
 * instead, and anything else stops the service.
 */
export function isTransientFailure(error: unknown): boolean {
  return (
    error instanceof SessionContentionError ||
    // The keys are read from the database: this passes with it.
    error instanceof SigningKeysStaleError ||
    isTransientDatabaseError(error) ||
    isTransientKafkaError(error)
  );
}
