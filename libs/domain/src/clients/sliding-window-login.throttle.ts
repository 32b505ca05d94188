import type { LoginThrottle } from './client-login.use-case';

export interface LoginThrottleSettings {
  /** Failed attempts allowed per client within the window. */
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Upper bound on tracked client ids, so a flood of made-up ids cannot exhaust memory. */
  readonly maxTrackedClients: number;
}

/**
 * Counts failed logins per client id in a sliding window, in this process.
 * Once the limit is reached, attempts are refused until the oldest failure
 * leaves the window; a success clears the client's record.
 */
export class SlidingWindowLoginThrottle implements LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly settings: LoginThrottleSettings) {}

  retryAfterSeconds(clientId: string, now: Date): number {
    const recent = this.recent(clientId, now);
    if (recent.length < this.settings.maxFailures) return 0;
    const oldest = recent[recent.length - this.settings.maxFailures]!;
    return Math.max(1, Math.ceil((oldest + this.settings.windowMs - now.getTime()) / 1_000));
  }

  recordFailure(clientId: string, now: Date): void {
    const recent = this.recent(clientId, now);
    recent.push(now.getTime());
    // Keep only what the limit needs; re-insert so the map's order is least-recently-failed first.
    this.failures.delete(clientId);
    this.failures.set(clientId, recent.slice(-this.settings.maxFailures));
    if (this.failures.size > this.settings.maxTrackedClients) {
      const stalest = this.failures.keys().next().value;
      if (stalest !== undefined) this.failures.delete(stalest);
    }
  }

  recordSuccess(clientId: string): void {
    this.failures.delete(clientId);
  }

  private recent(clientId: string, now: Date): number[] {
    const since = now.getTime() - this.settings.windowMs;
    return (this.failures.get(clientId) ?? []).filter((at) => at > since);
  }
}
