/** Limits failed logins per client id (brute force on a client secret). */
export interface LoginThrottle {
  /**
   * Counts an attempt against the client's limit before its secret is checked,
   * so guesses sent at once cannot all pass the check: 0 admits it (it counts
   * as a failure until `recordSuccess`), otherwise the seconds to wait (the
   * refused attempt is not counted).
   */
  admit(clientId: string, now: Date): Promise<number>;
  /** The secret was right: the client's counted attempts are cleared. */
  recordSuccess(clientId: string): Promise<void>;
}

export interface LoginThrottleSettings {
  /** Failed attempts allowed per client within the window. */
  readonly maxFailures: number;
  readonly windowMs: number;
}

/**
 * The sliding-window rule: once `maxFailures` failures fall within the window,
 * attempts wait until the oldest of those leaves it. `recentFailures` are the
 * client's latest failure times (epoch ms, any order); only the last
 * `maxFailures` matter.
 */
export function secondsUntilAllowed(
  recentFailures: readonly number[],
  now: Date,
  settings: LoginThrottleSettings,
): number {
  const since = now.getTime() - settings.windowMs;
  const inWindow = recentFailures.filter((at) => at > since).sort((a, b) => a - b);
  if (inWindow.length < settings.maxFailures) return 0;
  const oldest = inWindow[inWindow.length - settings.maxFailures]!;
  return Math.max(1, Math.ceil((oldest + settings.windowMs - now.getTime()) / 1_000));
}
