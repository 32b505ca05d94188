import { Client } from 'pg';
import type { Application, UserToken } from './applications';
import { events, publish } from './events';
import type { Deployment } from './service';
import { waitUntil } from './renewal';
import { waitUntilConsumed } from './session-updates';

/** Sessions opened at once while a fan-out's business is being populated. */
const OPENED_TOGETHER = 25;

/**
 * Makes the users members of the business (through its topic, as AuthMe
 * would) and opens a session for each acting for it: the sessions a change to
 * the business fans out to. Returns the session tokens in the users' order.
 */
export async function openBusinessSessions(
  deployment: Deployment,
  app: Application,
  businessId: string,
  userIds: readonly string[],
): Promise<UserToken[]> {
  await publish(
    deployment.topics.businessChanges,
    userIds.map((userId) => events.businessMemberAdded(businessId, userId, ['BUSINESSUSER'])),
  );
  await waitUntilConsumed(deployment, 60_000);
  const tokens: UserToken[] = [];
  for (let i = 0; i < userIds.length; i += OPENED_TOGETHER) {
    tokens.push(
      ...(await Promise.all(
        userIds.slice(i, i + OPENED_TOGETHER).map((userId) => app.session(userId, { businessId })),
      )),
    );
  }
  return tokens;
}

/** A session row held locked in an open transaction: a fan-out's write of it waits until released. */
export interface HeldSession {
  /** Resolves once another database session waits for the held row (the fan-out's write of it). */
  waitedOn(timeoutMs?: number): Promise<void>;
  release(): Promise<void>;
}

/**
 * Locks the business's session at `position` in id order, the order a
 * fan-out pages in (`'last'` for its last page), so that the fan-out stops at
 * the page holding it until the lock is released.
 */
export async function holdBusinessSession(
  deployment: Deployment,
  businessId: string,
  position: number | 'last',
): Promise<HeldSession> {
  const client = new Client({ connectionString: deployment.databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    // Found first, then locked: FOR UPDATE beside OFFSET would lock every row the OFFSET skips.
    await client.query(
      `SELECT id FROM sessions WHERE id = (
         SELECT id FROM sessions WHERE business_id = $1
         ORDER BY id ${position === 'last' ? 'DESC' : ''} OFFSET $2 LIMIT 1) FOR UPDATE`,
      [businessId, position === 'last' ? 0 : position],
    );
  } catch (error) {
    await client.end();
    throw error;
  }
  // pg_locks is read live, not from the transaction's statistics snapshot as pg_stat_activity is.
  const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [
    { pid: number },
  ];
  return {
    async waitedOn(timeoutMs = 30_000) {
      await waitUntil(
        'a statement waiting for the held session row',
        async () => {
          const { rows } = await client.query<{ waiting: number }>(
            'SELECT count(*)::int AS waiting FROM pg_locks WHERE NOT granted AND $1 = ANY(pg_blocking_pids(pid))',
            [pid],
          );
          return rows[0]!.waiting > 0 ? true : undefined;
        },
        { timeoutMs, intervalMs: 50 },
      );
    },
    async release() {
      try {
        await client.query('ROLLBACK');
      } finally {
        await client.end();
      }
    },
  };
}
