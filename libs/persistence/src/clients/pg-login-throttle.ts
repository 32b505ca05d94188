import { secondsUntilAllowed, type LoginThrottle, type LoginThrottleSettings } from '@iam/domain';
import type { Sql } from '../database/sql';

/** Expired attempts one admission deletes: more than it adds, and never a long statement. */
const PURGE_BATCH = 100;

/**
 * Client login attempts in PostgreSQL, so the limit holds for the deployment
 * rather than for each instance: with the count in each process's memory, an
 * attacker spreading guesses over N instances behind a load balancer had N
 * times the allowance. Times come from the instance's clock, so instances
 * should keep theirs in sync (as token expiry already requires).
 */
export class PgLoginThrottle implements LoginThrottle {
  constructor(
    private readonly sql: Sql,
    private readonly settings: LoginThrottleSettings,
  ) {}

  /**
   * Counts and records under a transaction-scoped advisory lock on the client
   * id: one client's attempts, from any instance, take turns here, so the
   * limit holds however many guesses arrive at once.
   */
  admit(clientId: string, now: Date): Promise<number> {
    return this.sql.transaction(async (sql) => {
      await sql.query('login-attempts-lock', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `client-login:${clientId}`,
      ]);
      const recent = await sql.query<{ failed_at: Date }>(
        'login-attempts-recent',
        `SELECT failed_at FROM client_login_failures
         WHERE client_id = $1 AND failed_at > $2 ORDER BY failed_at DESC LIMIT $3`,
        [clientId, this.windowStart(now), this.settings.maxFailures],
      );
      const wait = secondsUntilAllowed(
        recent.map((row) => row.failed_at.getTime()),
        now,
        this.settings,
      );
      if (wait > 0) return wait;
      // Also deletes a batch of attempts that have left the window, whichever client made
      // them, so made-up client ids cannot grow the table; SKIP LOCKED: admissions never
      // wait for each other's purges.
      await sql.query(
        'login-attempt-record',
        `WITH expired AS (
           DELETE FROM client_login_failures WHERE id IN (
             SELECT id FROM client_login_failures WHERE failed_at <= $3
             ORDER BY id LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED))
         INSERT INTO client_login_failures (client_id, failed_at) VALUES ($1, $2)`,
        [clientId, now, this.windowStart(now)],
      );
      return 0;
    });
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
