import { Client } from 'pg';
import type { Application, UserToken } from './applications';
import { events, publish } from './events';
import type { Deployment } from './service';
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
  return {
    async release() {
      try {
        await client.query('ROLLBACK');
      } finally {
        await client.end();
      }
    },
  };
}
