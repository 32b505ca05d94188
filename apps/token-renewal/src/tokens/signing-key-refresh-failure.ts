import type { Logger } from 'pino';
import { KeyFileError, SigningKeyFileMissingError, type SigningKeyRing } from '@iam/tokens';

/** Where an instance that cannot follow the keys reports it (FatalErrors in the service). */
export interface FatalReporter {
  report(error: unknown, context: Record<string, unknown>): void;
}

/**
 * Whether a refresh failed on this instance's own keys directory: the registry
 * answered, but its ACTIVE key has no readable private key file here. Other
 * instances, reading the same registry, may sign on.
 */
export function isLocalKeyFault(error: unknown): boolean {
  return error instanceof SigningKeyFileMissingError || error instanceof KeyFileError;
}

/**
 * What a failed refresh of the signing keys means for this instance.
 *
 * The registry unreachable (the database down) is every instance's fault:
 * renewals get 503 and events wait until it answers, and nothing else changes.
 *
 * A fault of this instance's keys directory is this instance's alone. While it
 * may still sign on its last read it carries on; once it may not, it stops.
 * Otherwise its Kafka consumer would keep its partitions and retry their
 * records until an operator noticed, while instances that can sign stand by.
 * Stopping hands the partitions over, and the restart fails at boot while the
 * key is missing, naming it, which is where an operator looks.
 */
export function signingKeyRefreshFailureHandler(
  ring: () => Pick<SigningKeyRing, 'signingStatus'>,
  logger: Pick<Logger, 'warn'>,
  fatal: FatalReporter,
): (error: unknown) => void {
  return (error) => {
    const { current, lastReadAt } = ring().signingStatus();
    if (isLocalKeyFault(error) && !current) {
      fatal.report(error, {
        reason:
          'this instance cannot read the signing key that the registry names; other instances take its work',
        lastReadAt,
      });
      return;
    }
    // A failed refresh keeps the keys already loaded; say so, and try again next time.
    logger.warn({ err: error, signing: current, lastReadAt }, 'signing keys could not be refreshed');
  };
}
