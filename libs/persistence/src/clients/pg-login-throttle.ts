import { secondsUntilAllowed, type LoginThrottle, type LoginThrottleSettings } from '@iam/domain';
import type { Sql } from '../database/sql';

/**
 * Failed client logins in PostgreSQL, so the limit holds for the deployment
 * rather than for each instance: with the count in each process's memory, an
 * attacker spreading guesses over N instances behind a load balancer had N
 * times the allowance. Attempts that arrive at the same moment on different
 * instances may each pass the check before either failure is recorded, so the
 * limit can be exceeded by the attempts in flight at once, no more.
 */
export class PgLoginThrottle implements LoginThrottle {
  constructor(
    private readonly sql: Sql,
    private readonly settings: LoginThrottleSettings,
  ) {}

  async retryAfterSeconds(clientId: string, now: Date): Promise<number> {
    const rows = await this.sql.query<{ failed_at: Date }>(
      'login-failures-recent',
      `SELECT failed_at FROM client_login_failures
       WHERE client_id = $1 AND failed_at > $2 ORDER BY failed_at DESC LIMIT $3`,
      [clientId, this.windowStart(now), this.settings.maxFailures],
    );
    return secondsUntilAllowed(
      rows.map((row) => row.failed_at.getTime()),
      now,
      this.settings,
    );
  }

  /**
   * Records the failure and drops every failure that has left the window, so
   * made-up client ids cannot grow the table beyond one window's failures.
   */
  async recordFailure(clientId: string, now: Date): Promise<void> {
    await this.sql.query(
      'login-failure-record',
      `WITH expired AS (DELETE FROM client_login_failures WHERE failed_at <= $3)
       INSERT INTO client_login_failures (client_id, failed_at) VALUES ($1, $2)`,
      [clientId, now, this.windowStart(now)],
    );
  }

  async recordSuccess(clientId: string): Promise<void> {
    await this.sql.query('login-failures-clear', 'DELETE FROM client_login_failures WHERE client_id = $1', [
      clientId,
    ]);
  }

  private windowStart(now: Date): Date {
    return new Date(now.getTime() - this.settings.windowMs);
  }
}
