import type { AppConfig } from '@iam/config';
import type { SigningKeyRegistry, SigningKeyRingOptions } from '@iam/tokens';

/** How soon a rotation made by another instance or the CLI is picked up. */
const KEY_REFRESH_INTERVAL_MS = 10_000;

/**
 * The key ring's options, the same for the service and the CLI: a rotation
 * publishes the retired key for as long as the instances' refresh interval
 * requires, so whoever rotates must know the interval the instances use.
 */
export function signingKeyRingOptions(
  config: AppConfig,
  registry: SigningKeyRegistry,
  extra: Pick<SigningKeyRingOptions, 'clock' | 'onRefreshError'> = {},
): SigningKeyRingOptions {
  return {
    registry,
    dir: config.signingKeys.dir,
    generateIfMissing: config.signingKeys.generateIfMissing,
    maxTokenLifetimeMs:
      Math.max(config.tokens.accessTokenTtlMs, config.tokens.clientTokenTtlMs) +
      config.tokens.clockToleranceMs,
    refreshIntervalMs: KEY_REFRESH_INTERVAL_MS,
    ...extra,
  };
}
