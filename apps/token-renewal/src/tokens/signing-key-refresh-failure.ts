import type { Logger } from 'pino';
import type { Clock } from '@iam/domain';
import { SigningKeyFileMissingError, type SigningKeyRing } from '@iam/tokens';

/** Where an instance that cannot follow the keys reports it (FatalErrors in the service). */
export interface FatalReporter {
  report(error: unknown, context: Record<string, unknown>): void;
}

export interface SigningKeyRefreshFailureOptions {
  /** How long after its activation the active key's file may take to reach this instance. */
  readonly propagationGraceMs: number;
  readonly clock: Clock;
}

/**
 * What a failed refresh of the signing keys means for this instance.
 *
 * The registry unreachable (the database down) is every instance's outage:
 * renewals get 503 and events wait until it answers; this only warns.
 *
 * The active key's file not here is this instance's deployment at fault, for
 * a while possibly every instance's: a shared volume or a mounted secret may
 * take a minute or two to show a new key. So it only warns while the key has
 * been ACTIVE for less than the propagation grace (a retired key made ACTIVE
 * again counts from then), or while the instance may still sign on its last
 * read. Past both, it stops: its Kafka consumer would otherwise keep
 * its partitions and retry their records until someone noticed, while any
 * instance that has the key stands by. The partitions go to those, and the
 * restart fails at boot, naming the key and the directory, while the file is
 * still missing. (Every instance lacking it stops alike: a stall then becomes
 * a crash loop that says why.)
 */
export function signingKeyRefreshFailureHandler(
  ring: () => Pick<SigningKeyRing, 'signingStatus'>,
  logger: Pick<Logger, 'warn'>,
  fatal: FatalReporter,
  options: SigningKeyRefreshFailureOptions,
): (error: unknown) => void {
  return (error) => {
    const { current, lastReadAt } = ring().signingStatus();
    if (
      error instanceof SigningKeyFileMissingError &&
      !current &&
      options.clock.now().getTime() - error.activatedAt.getTime() > options.propagationGraceMs
    ) {
      fatal.report(error, {
        reason:
          'this instance cannot read the private key of the active signing key; instances that can take its work',
        lastReadAt,
      });
      return;
    }
    // A failed refresh keeps the keys already loaded; say so, and try again next time.
    logger.warn({ err: error, signing: current, lastReadAt }, 'signing keys could not be refreshed');
  };
}
