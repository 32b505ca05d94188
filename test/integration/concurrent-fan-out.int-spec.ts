import type { Pool } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ApplyChangeUseCase,
  CallerAuthenticator,
  DomainError,
  parseRequirement,
  RenewTokenUseCase,
  ROLE_CHANGE_TYPES,
  SessionTokenIssuer,
  type ChangeEvent,
  type RoleSnapshotLoader,
  type Session,
} from '@iam/domain';
import { decodeChangeEvent, SessionUpdateEncoder } from '@iam/messaging';
import {
  PgAffectedSessionFinder,
  PgChangeStore,
  PgRoleSnapshotLoader,
  PgSessionRepository,
  PgSql,
  type Sql,
} from '@iam/persistence';
import { PlaintextTokenSealer } from '@iam/tokens';
import {
  aSession,
  clientToken,
  decodeFakeToken,
  FakeClock,
  FakeRefreshTokenHasher,
  FakeTokenSigner,
  FakeTokenVerifier,
  SequentialIds,
  TEST_POLICY,
  uuidNumber,
} from '../../libs/domain/src/testing';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';
import { events, type InboundCloudEvent } from '../support/events';

/**
 * A group change and a membership change travel on different partitions, so
 * the worker applies them concurrently; a renewal over HTTP can start a session
 * while a change about its user fans out. These tests stop one writer at the
 * worst moment while the other runs completely, on the real database: the
 * session must end with what the role facts say, whichever interleaving happened.
 */

const NOW = '2026-05-01T12:00:00.000Z';

let database: TestDatabase;
let pool: Pool;
let clock: FakeClock;
let offset = 0;

/** Sql whose transactions do all their work, then wait for `release()` before they commit. */
function holdBeforeCommit(sql: Sql): { sql: Sql; waiting: Promise<void>; release: () => void } {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const waiting = new Promise<void>((resolve) => (reached = resolve));
  return {
    sql: {
      query: (name, text, values) => sql.query(name, text, values),
      transaction: (work) =>
        sql.transaction(async (inner) => {
          const result = await work(inner);
          reached();
          await released;
          return result;
        }),
    },
    waiting,
    release,
  };
}

/** The change event the worker would decode from this CloudEvent. */
function decoded(cloudEvent: InboundCloudEvent): ChangeEvent {
  const result = decodeChangeEvent(
    {
      origin: { topic: 'iam.role-changes.v1', partition: 0, offset: String(offset++) },
      key: Buffer.from(cloudEvent.subject),
      value: Buffer.from(JSON.stringify(cloudEvent)),
      headers: [],
      timestamp: String(Date.parse(NOW)),
    },
    new Set(ROLE_CHANGE_TYPES),
  );
  if (!result.ok) throw new Error(`test event does not decode: ${result.detail}`);
  return result.event;
}

/** The real adapters the worker and the renewal share. */
function adapters(roles?: RoleSnapshotLoader) {
  const sql = new PgSql(pool);
  const ids = new SequentialIds(offset * 1_000);
  return {
    ids,
    sessions: new PgSessionRepository(
      sql,
      new SessionUpdateEncoder('iam.session-updates.test', new PlaintextTokenSealer(), ids, clock),
    ),
    roles: roles ?? new PgRoleSnapshotLoader(sql),
    issuer: new SessionTokenIssuer(new FakeTokenSigner(), ids, 'https://iam.test', TEST_POLICY),
    clock,
  };
}

function applying(changesSql: Sql, racing?: RoleSnapshotLoader): ApplyChangeUseCase {
  const { sessions, roles, issuer } = adapters(racing);
  return new ApplyChangeUseCase({
    changes: new PgChangeStore(changesSql),
    affected: new PgAffectedSessionFinder(new PgSql(pool)),
    sessions,
    roles,
    issuer,
    clock,
    batchSize: 100,
  });
}

async function apply(cloudEvents: readonly InboundCloudEvent[]): Promise<void> {
  const useCase = applying(new PgSql(pool));
  for (const cloudEvent of cloudEvents) await useCase.execute(decoded(cloudEvent));
}

/** A live session of the user, with the authorities the role tables give it now. */
async function liveSession(n: number, userId: string): Promise<Session> {
  const session = aSession({
    id: uuidNumber(n),
    userId,
    clientId: 'app',
    createdAt: new Date(NOW),
    authorities: ['ROLE_AUTH-BASIC'],
  });
  await pool.query('INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING', [userId]);
  await pool.query(`INSERT INTO clients (id) VALUES ('app') ON CONFLICT DO NOTHING`);
  await pool.query(
    `INSERT INTO sessions (id, user_id, client_id, auth_level, remember_me, status, created_at, expires_at,
                           claims_version, authorities, scope, token_id, token_expires_at)
     VALUES ($1, $2, $3, $4, false, 'ACTIVE', $5, $6, 1, $7, $8, $9, $10)`,
    [
      session.id,
      session.userId,
      session.clientId,
      session.authLevel,
      session.createdAt,
      session.expiresAt,
      session.authorities,
      session.scope,
      session.tokenId,
      session.tokenExpiresAt,
    ],
  );
  return session;
}

async function authoritiesOf(session: Pick<Session, 'id'>): Promise<string[]> {
  const { rows } = await pool.query<{ authorities: string[] }>(
    'SELECT authorities FROM sessions WHERE id = $1',
    [session.id],
  );
  return [...rows[0]!.authorities].sort();
}

/** Runs `held` until just before its COMMIT, applies `meanwhile` completely, then lets `held` finish. */
async function interleave(held: InboundCloudEvent, meanwhile: readonly InboundCloudEvent[]): Promise<void> {
  const gate = holdBeforeCommit(new PgSql(pool));
  const heldRun = applying(gate.sql).execute(decoded(held));
  await gate.waiting;
  await apply(meanwhile);
  gate.release();
  await heldRun;
}

beforeAll(async () => {
  database = await createTestDatabase('concurrent_fan_out');
  pool = testPool(database.url, 8);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE users, clients, businesses, groups, sessions, processed_events, outbox CASCADE');
  // The groups exist before either change: a change creating one would make the other wait for it.
  await pool.query(`INSERT INTO groups (id) VALUES ('doomed'), ('dependent')`);
  clock = new FakeClock(NOW);
});

describe('concurrent group and membership changes (real database, held commit)', () => {
  it('a role granted to a group reaches a member who joined a dependent group while it committed', async () => {
    const session = await liveSession(1, 'indirect');
    await interleave(events.groupRoleGranted('doomed', 'DOOMED'), [
      events.groupDependencyAdded('dependent', 'doomed'),
      events.groupMemberAdded('dependent', 'USER', 'indirect'),
    ]);
    expect(await authoritiesOf(session)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_DOOMED']);
  });

  it('a group deleted takes its roles from a member who joined a dependent group while it committed', async () => {
    await apply([
      events.groupRoleGranted('doomed', 'DOOMED'),
      events.groupDependencyAdded('dependent', 'doomed'),
    ]);
    const session = await liveSession(1, 'indirect');
    await interleave(events.groupDeleted('doomed'), [
      events.groupMemberAdded('dependent', 'USER', 'indirect'),
    ]);
    expect(await authoritiesOf(session)).toEqual(['ROLE_AUTH-BASIC']);
  });

  it('a dependency removed while a group role fanned out: the role granted on stale facts is taken back', async () => {
    // The dependency's removal commits after the grant's fan-out read the facts and before it
    // writes; the removal's own fan-out finds the session right (no role yet) and confirms it,
    // so the grant's write of the stale role loses its compare-and-set and is decided again.
    await apply([
      events.groupDependencyAdded('dependent', 'doomed'),
      events.groupMemberAdded('dependent', 'USER', 'indirect'),
    ]);
    const session = await liveSession(1, 'indirect');
    const grant = events.groupRoleGranted('doomed', 'DOOMED');
    const cut = changedAfterFirstRead([events.groupDependencyRemoved('dependent', 'doomed')]);
    await applying(new PgSql(pool), cut).execute(decoded(grant));
    expect(await authoritiesOf(session)).toEqual(['ROLE_AUTH-BASIC']);
  });

  it('a membership committed first is seen by the group change committed after it', async () => {
    // The other order of the first test: the role change commits last and must fan out to the member.
    const session = await liveSession(1, 'indirect');
    await apply([events.groupDependencyAdded('dependent', 'doomed')]);
    await interleave(events.groupMemberAdded('dependent', 'USER', 'indirect'), [
      events.groupRoleGranted('doomed', 'DOOMED'),
    ]);
    expect(await authoritiesOf(session)).toEqual(['ROLE_AUTH-BASIC', 'ROLE_DOOMED']);
  });
});

/**
 * Role facts read for real; the first read is followed, before its reader
 * writes, by `meanwhile` applied and fanned out completely.
 */
function changedAfterFirstRead(meanwhile: readonly InboundCloudEvent[]): RoleSnapshotLoader {
  const real = new PgRoleSnapshotLoader(new PgSql(pool));
  let pending = true;
  return {
    load: async (subjects) => {
      const snapshot = await real.load(subjects);
      if (pending) {
        pending = false;
        await apply(meanwhile);
      }
      return snapshot;
    },
  };
}

/** A renewal whose fan-out rival runs between its read of the facts and its write. */
function renewalRacing(meanwhile: readonly InboundCloudEvent[]): RenewTokenUseCase {
  const roles = changedAfterFirstRead(meanwhile);
  const { ids, sessions, issuer } = adapters(roles);
  const verifier = new FakeTokenVerifier().accept('caller', clientToken('app', ['CLI-AUTH-IDENTIFIED']));
  return new RenewTokenUseCase({
    caller: new CallerAuthenticator(verifier, parseRequirement('CLI-AUTH-IDENTIFIED')),
    verifier,
    sessions,
    roles,
    issuer,
    refreshTokens: new FakeRefreshTokenHasher(),
    ids,
    clock,
    settings: { policy: TEST_POLICY, defaultScope: ['READ'], identityProviderAuthLevel: 'AUTH-IDENTIFIED' },
  });
}

/** An identity provider's login for the user at client 'app': starts the user's session. */
const login = (userId: string) => ({
  callerToken: 'caller',
  token: undefined,
  rememberMe: false,
  userId,
  clientId: 'app',
  businessId: undefined,
});

async function sessionsOf(userId: string): Promise<Array<{ id: string; status: string }>> {
  const { rows } = await pool.query<{ id: string; status: string }>(
    'SELECT id, status::text AS status FROM sessions WHERE user_id = $1',
    [userId],
  );
  return rows;
}

describe('a renewal starting a session while a change about its user fans out (real database)', () => {
  it('a role revoked meanwhile is not in the session it starts, nor in the token it returns', async () => {
    await apply([events.userRoleGranted('newcomer', 'EDITOR')]);
    const result = await renewalRacing([events.userRoleRevoked('newcomer', 'EDITOR')]).execute(
      login('newcomer'),
    );
    const [session] = await sessionsOf('newcomer');
    expect(await authoritiesOf(session!)).toEqual(['ROLE_AUTH-IDENTIFIED']);
    expect(decodeFakeToken(result.accessToken).authorities).toEqual(['ROLE_AUTH-IDENTIFIED']);
  });

  it('a user locked meanwhile: the session it starts is revoked and the renewal refused', async () => {
    const refusal = await renewalRacing([events.userLocked('newcomer')])
      .execute(login('newcomer'))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refusal).toBeInstanceOf(DomainError);
    expect((refusal as DomainError).code).toBe('USER_LOCKED');
    expect(await sessionsOf('newcomer')).toMatchObject([{ status: 'REVOKED' }]);
  });
});
