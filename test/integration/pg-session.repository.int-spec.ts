import type { Pool } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  confirmation,
  EventType,
  revocation,
  RevocationReason,
  type RefreshTokenChange,
  type Session,
  type SessionUpdate,
  type SessionWrite,
  type TokenRenewed,
  type UpdateCause,
} from '@iam/domain';
import { SessionUpdateEncoder, type OutboxSignal } from '@iam/messaging';
import { PgSessionRepository, PgSql, PLAN_EACH_TIME_FROM, sessionWriteBatching } from '@iam/persistence';
import { PlaintextTokenSealer } from '@iam/tokens';
import { FakeClock, SequentialIds, uuidNumber } from '../../libs/domain/src/testing';
import {
  SELECT_CONTINUABLE_SESSION,
  SELECT_REFRESH_TOKEN_BY_HASH,
} from '../../libs/persistence/src/sessions/session-read.sql';
import { UPDATE_SESSIONS } from '../../libs/persistence/src/sessions/session-write.sql';
import type { MicroBatcherOptions } from '../../libs/persistence/src/database/micro-batcher';
import { countingSql } from '../support/counting-sql';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';
import { explain, indexConditions, indexesRead, scansOf } from '../support/query-plans';

const TOPIC = 'iam.session-updates.test';
const CREATED = new Date('2026-03-01T10:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const EVENT_TIME = new Date('2026-03-01T09:59:59.123Z');
const EVENT_CAUSE: UpdateCause = {
  kind: 'event',
  eventId: 'evt-42',
  eventType: EventType.UserRoleGranted,
  occurredAt: EVENT_TIME,
};
/** The cause as published: the source time travels in a header, not in the payload. */
const PUBLISHED_EVENT_CAUSE = { kind: 'event', eventId: 'evt-42', eventType: EventType.UserRoleGranted };

let database: TestDatabase;
let pool: Pool;
let repository: PgSessionRepository;
let clock: FakeClock;
let eventIds: SequentialIds;
let nextSession = 1;

const at = (offsetMs: number) => new Date(CREATED.getTime() + offsetMs);

function aSession(overrides: Partial<Session> = {}): Session {
  return {
    id: uuidNumber(nextSession++),
    userId: 'user-1',
    clientId: 'client-1',
    businessId: null,
    authLevel: 'AUTH-IDENTIFIED',
    rememberMe: true,
    status: 'ACTIVE',
    revokedReason: null,
    revokedAt: null,
    createdAt: CREATED,
    expiresAt: at(8 * HOUR),
    claimsVersion: 1,
    revision: 1,
    authorities: ['ROLE_AUTH-IDENTIFIED', 'ROLE_USER'],
    scope: ['READ', 'WRITE'],
    tokenId: 'token-1',
    tokenExpiresAt: at(15 * MINUTE),
    ...overrides,
  };
}

function renewedUpdate(session: Session, previous: readonly string[] = []): TokenRenewed {
  return {
    type: EventType.SessionTokenRenewed,
    sessionId: session.id,
    userId: session.userId,
    clientId: session.clientId,
    businessId: session.businessId,
    accessToken: `jwt-of-${session.tokenId}`,
    expiresAt: session.tokenExpiresAt,
    scope: session.scope,
    authorities: session.authorities,
    added: session.authorities.filter((a) => !previous.includes(a)),
    removed: previous.filter((a) => !session.authorities.includes(a)),
    claimsVersion: session.claimsVersion,
    cause: { kind: 'http' },
  };
}

function creation(session: Session, refreshHash: string | null): SessionWrite {
  return {
    session,
    expectedRevision: null,
    refreshToken: { issueHash: refreshHash, at: session.createdAt },
    update: renewedUpdate(session),
  };
}

/** The next token of a session: version and revision + 1, new token id, optionally new authorities. */
function renewal(
  current: Session,
  refreshToken: RefreshTokenChange | null,
  changes: Partial<Session> = {},
  cause: UpdateCause = { kind: 'http' },
): SessionWrite {
  const claimsVersion = current.claimsVersion + 1;
  const next: Session = {
    ...current,
    claimsVersion,
    revision: current.revision + 1,
    tokenId: `token-${claimsVersion}`,
    ...changes,
  };
  return {
    session: next,
    expectedRevision: current.revision,
    refreshToken,
    update: { ...renewedUpdate(next, current.authorities), cause },
  };
}

async function rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query(text, values)).rows as T[];
}

interface OutboxRecord {
  id: string;
  topic: string;
  key: string | null;
  value: Record<string, unknown>;
  headers: unknown;
  session_id: string | null;
  claims_version: number | null;
  batch_id: string | null;
}

async function outbox(): Promise<OutboxRecord[]> {
  const raw = await rows<{
    id: string;
    topic: string;
    message_key: Buffer | null;
    value: Buffer;
    headers: unknown;
    session_id: string | null;
    claims_version: number | null;
    batch_id: string | null;
  }>(
    `SELECT id::text AS id, topic, message_key, value, headers, session_id::text AS session_id, claims_version,
            batch_id::text AS batch_id
     FROM outbox ORDER BY id`,
  );
  return raw.map((row) => ({
    id: row.id,
    topic: row.topic,
    key: row.message_key?.toString('utf8') ?? null,
    value: JSON.parse(row.value.toString('utf8')) as Record<string, unknown>,
    headers: row.headers,
    session_id: row.session_id,
    claims_version: row.claims_version,
    batch_id: row.batch_id,
  }));
}

interface TokenRow {
  token_hash: string;
  issued_at: Date;
  rotated_at: Date | null;
}

async function refreshTokens(sessionId: string): Promise<TokenRow[]> {
  return rows<TokenRow>(
    'SELECT token_hash, issued_at, rotated_at FROM refresh_tokens WHERE session_id = $1 ORDER BY issued_at, token_hash',
    [sessionId],
  );
}

const base64 = (text: string) => Buffer.from(text).toString('base64');
const CONTENT_TYPE_HEADER = [['content-type', base64('application/cloudevents+json')]];
/** Stored headers of an update: the content type, and the source time of an event-caused one. */
const headersOf = (cause: UpdateCause) =>
  cause.kind === 'event'
    ? [...CONTENT_TYPE_HEADER, ['iam-event-time', base64(cause.occurredAt.toISOString())]]
    : CONTENT_TYPE_HEADER;
const publishedCause = (cause: UpdateCause) =>
  cause.kind === 'event' ? { kind: 'event', eventId: cause.eventId, eventType: cause.eventType } : cause;

/** The CloudEvent SessionUpdateEncoder writes for an update, encoded at `time` with event id `id`. */
function expectedEvent(update: SessionUpdate, id: string, time: Date): Record<string, unknown> {
  const data =
    update.type === EventType.SessionTokenRenewed
      ? {
          sessionId: update.sessionId,
          userId: update.userId,
          clientId: update.clientId,
          businessId: update.businessId,
          accessToken: update.accessToken,
          tokenEncryption: 'none',
          tokenType: 'Bearer',
          expiresIn: String(Math.floor(update.expiresAt.getTime() / 1000)),
          scope: [...update.scope],
          authorities: [...update.authorities],
          added: [...update.added],
          removed: [...update.removed],
          claimsVersion: update.claimsVersion,
          cause: publishedCause(update.cause),
        }
      : {
          sessionId: update.sessionId,
          userId: update.userId,
          clientId: update.clientId,
          reason: update.reason,
          claimsVersion: update.claimsVersion,
          cause: publishedCause(update.cause),
        };
  return {
    specversion: '1.0',
    id,
    source: '/iam/token-renewal',
    type: update.type,
    time: time.toISOString(),
    subject: update.sessionId,
    datacontenttype: 'application/json',
    data,
  };
}

const lastEventId = () => eventIds.issued[eventIds.issued.length - 1]!;

/** A repository of its own whose statements are counted by name. */
function countedRepository(batching?: MicroBatcherOptions<readonly SessionWrite[]>) {
  const { sql, statements } = countingSql(new PgSql(pool));
  const encoder = new SessionUpdateEncoder(TOPIC, new PlaintextTokenSealer(), eventIds, clock);
  return { repository: new PgSessionRepository(sql, encoder, undefined, batching), statements };
}

beforeAll(async () => {
  database = await createTestDatabase('session_repo');
  pool = testPool(database.url, 6);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE users, clients, sessions, refresh_tokens, outbox CASCADE');
  clock = new FakeClock('2026-03-01T10:00:00.500Z');
  eventIds = new SequentialIds(0xe000);
  repository = new PgSessionRepository(
    new PgSql(pool),
    new SessionUpdateEncoder(TOPIC, new PlaintextTokenSealer(), eventIds, clock),
  );
});

describe('PgSessionRepository: creating a session', () => {
  it('creates the missing user and client rows, the session, its refresh token and one outbox row', async () => {
    const session = aSession({ businessId: 'biz-1' });
    const write = creation(session, 'hash-initial');

    expect(await repository.write(write)).toBe(true);

    expect(await rows('SELECT id, locked FROM users')).toEqual([{ id: 'user-1', locked: false }]);
    expect(await rows('SELECT id, secret_hash, service_id, scopes FROM clients')).toEqual([
      { id: 'client-1', secret_hash: null, service_id: null, scopes: [] },
    ]);
    expect(await repository.findById(session.id)).toEqual(session);
    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-initial', issued_at: CREATED, rotated_at: null },
    ]);
    expect(await repository.findByRefreshTokenHash('hash-initial')).toEqual({
      sessionId: session.id,
      rotatedAt: null,
      latestRotated: false,
    });

    const published = await outbox();
    expect(published).toHaveLength(1);
    expect(published[0]).toEqual({
      id: expect.any(String),
      topic: TOPIC,
      key: 'user-1',
      value: expectedEvent(write.update!, lastEventId(), clock.now()),
      headers: CONTENT_TYPE_HEADER,
      session_id: session.id,
      claims_version: 1,
      batch_id: null,
    });
    // The access token is readable (plain sealer); the refresh token is never published.
    expect((published[0]!.value.data as { accessToken: string }).accessToken).toBe('jwt-of-token-1');
    expect(JSON.stringify(published[0]!.value)).not.toContain('hash-initial');
  });

  it('creates a session without a refresh token, reusing existing user and client rows', async () => {
    await pool.query(`INSERT INTO users (id, locked) VALUES ('user-1', true)`);
    await pool.query(
      `INSERT INTO clients (id, secret_hash, service_id, scopes) VALUES ('client-1', 'scrypt$x', 'svc-1', '{READ}')`,
    );
    const session = aSession({ rememberMe: false, businessId: null });

    expect(await repository.write(creation(session, null))).toBe(true);

    expect(await rows('SELECT id, locked FROM users')).toEqual([{ id: 'user-1', locked: true }]);
    expect(await rows('SELECT id, secret_hash, service_id, scopes FROM clients')).toEqual([
      { id: 'client-1', secret_hash: 'scrypt$x', service_id: 'svc-1', scopes: ['READ'] },
    ]);
    expect(await repository.findById(session.id)).toEqual(session);
    expect(await refreshTokens(session.id)).toEqual([]);
    expect(await rows('SELECT session_id::text, claims_version FROM outbox')).toEqual([
      { session_id: session.id, claims_version: 1 },
    ]);
  });

  it('stores empty authorities and scope as empty lists', async () => {
    const session = aSession({ authorities: [], scope: [] });
    expect(await repository.write(creation(session, null))).toBe(true);
    expect(await repository.findById(session.id)).toEqual(session);
  });

  it('refuses a second session with an existing id: false, nothing written (port contract)', async () => {
    const session = aSession();
    expect(await repository.write(creation(session, 'hash-a'))).toBe(true);

    const clash = aSession({ id: session.id, userId: 'user-2', tokenId: 'token-other' });
    // SessionRepository.write: "false when a concurrent write won" (the in-memory reference agrees).
    expect(await repository.write(creation(clash, 'hash-b'))).toBe(false);

    expect(await repository.findById(session.id)).toEqual(session);
    expect(await rows('SELECT id FROM users ORDER BY id')).toEqual([{ id: 'user-1' }]);
    expect(await rows('SELECT token_hash FROM refresh_tokens')).toEqual([{ token_hash: 'hash-a' }]);
    expect(await outbox()).toHaveLength(1);
  });
});

describe('PgSessionRepository: reading sessions', () => {
  it('finds a session by id, and answers null for unknown and non-UUID ids without an SQL error', async () => {
    const session = aSession();
    await repository.write(creation(session, null));

    expect(await repository.findById(session.id)).toEqual(session);
    expect(await repository.findById(session.id.toUpperCase())).toEqual(session);
    expect(await repository.findById(uuidNumber(999_999))).toBeNull();
    for (const bad of ['', 'not-a-uuid', "'; DROP TABLE sessions; --", `${session.id}x`, '123']) {
      expect(await repository.findById(bad)).toBeNull();
    }
    expect(await repository.findByIds(['not-a-uuid', ''])).toEqual([]);
  });

  it('finds many sessions by id in id order, skipping unknown and malformed ids', async () => {
    const sessions = [aSession(), aSession({ userId: 'user-2' }), aSession({ clientId: 'client-2' })];
    for (const session of [...sessions].reverse()) await repository.write(creation(session, null));

    const found = await repository.findByIds([
      sessions[2]!.id,
      'garbage',
      uuidNumber(888_888),
      sessions[0]!.id,
      sessions[2]!.id,
    ]);
    expect(found).toEqual([sessions[0], sessions[2]]);
    expect(await repository.findByIds([])).toEqual([]);
  });

  it('finds the latest live session of a user with a client, never a revoked or expired one', async () => {
    const now = at(2 * HOUR);
    const older = aSession({ createdAt: at(0), expiresAt: at(8 * HOUR) });
    const latestLive = aSession({ createdAt: at(10 * MINUTE), expiresAt: at(8 * HOUR) });
    const newerExpired = aSession({ createdAt: at(20 * MINUTE), expiresAt: now });
    const newerRevoked = aSession({ createdAt: at(30 * MINUTE) });
    const otherClient = aSession({ createdAt: at(40 * MINUTE), clientId: 'client-2' });
    const otherUser = aSession({ createdAt: at(50 * MINUTE), userId: 'user-2' });
    for (const session of [older, latestLive, newerExpired, newerRevoked, otherClient, otherUser]) {
      await repository.write(creation(session, null));
    }
    expect(
      await repository.write(revocation(newerRevoked, RevocationReason.OperatorRequest, now, EVENT_CAUSE)),
    ).toBe(true);

    expect(await repository.findContinuable('user-1', 'client-1', now)).toEqual(latestLive);
    expect(await repository.findContinuable('user-1', 'client-2', now)).toEqual(otherClient);
    expect(await repository.findContinuable('user-2', 'client-1', now)).toEqual(otherUser);
    // Just before the expired one's end it is the latest live one.
    expect(await repository.findContinuable('user-1', 'client-1', new Date(now.getTime() - 1))).toEqual(
      newerExpired,
    );
    expect(await repository.findContinuable('user-1', 'client-1', at(9 * HOUR))).toBeNull();
    expect(await repository.findContinuable('user-3', 'client-1', now)).toBeNull();
  });
});

describe('PgSessionRepository: updating a session (optimistic lock)', () => {
  it('writes the next token on the expected revision, with its outbox row', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    clock.advance(MINUTE);
    const next = renewal(
      session,
      null,
      {
        businessId: 'biz-9',
        authorities: ['ROLE_AUTH-IDENTIFIED', 'ROLE_BUSINESS', 'ROLE_ADMIN'],
        scope: ['READ'],
        expiresAt: at(7 * HOUR),
        tokenExpiresAt: at(20 * MINUTE),
        rememberMe: false,
      },
      EVENT_CAUSE,
    );

    expect(await repository.write(next)).toBe(true);

    expect(await repository.findById(session.id)).toEqual(next.session);
    const published = await outbox();
    expect(published.map((row) => [row.session_id, row.claims_version])).toEqual([
      [session.id, 1],
      [session.id, 2],
    ]);
    expect(published[1]!.value).toEqual(expectedEvent(next.update!, lastEventId(), clock.now()));
    expect(published[1]!.headers).toEqual(headersOf(EVENT_CAUSE));
    expect(published[0]!.headers).toEqual(headersOf({ kind: 'http' }));
    expect((published[1]!.value.data as { cause: unknown }).cause).toEqual(PUBLISHED_EVENT_CAUSE);
    expect((published[1]!.value.data as { added: string[]; removed: string[] }).added).toEqual([
      'ROLE_BUSINESS',
      'ROLE_ADMIN',
    ]);
    expect((published[1]!.value.data as { removed: string[] }).removed).toEqual(['ROLE_USER']);
    // refreshToken: null leaves the tokens alone.
    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: null },
    ]);
    const [{ updated_at: updatedAt } = { updated_at: null }] = await rows<{ updated_at: Date }>(
      'SELECT updated_at FROM sessions WHERE id = $1',
      [session.id],
    );
    expect(updatedAt?.getTime()).toBeGreaterThan(CREATED.getTime());
  });

  it('refuses a stale revision: returns false, writes nothing, publishes nothing', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    const winner = renewal(session, { issueHash: 'hash-2', at: at(MINUTE) });
    expect(await repository.write(winner)).toBe(true);
    const before = {
      session: await repository.findById(session.id),
      tokens: await refreshTokens(session.id),
      outbox: await outbox(),
    };

    // A writer that read revision 1 before the winner committed.
    const loser = renewal(session, { issueHash: 'hash-3', at: at(2 * MINUTE) }, { authorities: ['ROLE_X'] });
    expect(await repository.write(loser)).toBe(false);
    expect(await repository.writeMany([loser])).toEqual(new Set([session.id]));

    expect({
      session: await repository.findById(session.id),
      tokens: await refreshTokens(session.id),
      outbox: await outbox(),
    }).toEqual(before);
    expect(await repository.findByRefreshTokenHash('hash-3')).toBeNull();
  });

  it('moves the revision on an update that does not set it (a writer of the previous version), so a writer of the revision before it loses', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    // What an instance still on the previous version writes during a rolling deploy.
    await pool.query(
      `UPDATE sessions SET claims_version = 2, token_id = 'token-old' WHERE id = $1 AND claims_version = 1`,
      [session.id],
    );
    expect(await repository.findById(session.id)).toMatchObject({ claimsVersion: 2, revision: 2 });
    expect(await repository.write(confirmation(session))).toBe(false);
    expect(await repository.findById(session.id)).toMatchObject({
      claimsVersion: 2,
      revision: 2,
      tokenId: 'token-old',
    });
  });

  it('stores a confirmation as a new revision alone (nothing published), and a writer of the revision before it loses', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    const before = await outbox();

    expect(await repository.writeMany([confirmation(session)])).toEqual(new Set());
    expect(await repository.findById(session.id)).toEqual({ ...session, revision: 2 });
    expect(await outbox()).toEqual(before);

    // A writer that read the session before the confirmation, on facts older than the confirmer's.
    const stale = renewal(session, null, { authorities: ['ROLE_STALE'] });
    expect(await repository.writeMany([stale])).toEqual(new Set([session.id]));
    expect(await repository.write(confirmation(session))).toBe(false);
    expect(await repository.findById(session.id)).toEqual({ ...session, revision: 2 });
    expect(await outbox()).toEqual(before);
  });

  it('refuses an update of a session that does not exist', async () => {
    const ghost = aSession();
    expect(await repository.write(renewal(ghost, { issueHash: 'hash-g', at: at(MINUTE) }))).toBe(false);
    expect(await rows('SELECT count(*)::int AS n FROM sessions')).toEqual([{ n: 0 }]);
    expect(await outbox()).toEqual([]);
    expect(await rows('SELECT count(*)::int AS n FROM refresh_tokens')).toEqual([{ n: 0 }]);
  });

  it('revokes a session: status, reason and instant stored, revocation event published', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    const revokedAt = at(3 * HOUR + 123);
    const write = revocation(session, RevocationReason.UserLocked, revokedAt, EVENT_CAUSE);

    expect(await repository.write(write)).toBe(true);

    expect(await repository.findById(session.id)).toEqual({
      ...session,
      status: 'REVOKED',
      revokedReason: 'user-locked',
      revokedAt,
      claimsVersion: 2,
      revision: 2,
    });
    const published = await outbox();
    expect(published[1]).toMatchObject({ key: 'user-1', session_id: session.id, claims_version: 2 });
    expect(published[1]!.value).toEqual(expectedEvent(write.update!, lastEventId(), clock.now()));
    expect(published[1]!.headers).toEqual(headersOf(EVENT_CAUSE));
    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: null },
    ]);
  });
});

describe('PgSessionRepository: refresh token rotation', () => {
  it('rotates the current token at the write instant and reports rotatedAt/latestRotated across two rotations', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    const t1 = at(10 * MINUTE + 1);
    const first = renewal(session, { issueHash: 'hash-2', at: t1 });
    expect(await repository.write(first)).toBe(true);

    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: t1 },
      { token_hash: 'hash-2', issued_at: t1, rotated_at: null },
    ]);
    expect(await repository.findByRefreshTokenHash('hash-1')).toEqual({
      sessionId: session.id,
      rotatedAt: t1,
      latestRotated: true,
    });
    expect(await repository.findByRefreshTokenHash('hash-2')).toEqual({
      sessionId: session.id,
      rotatedAt: null,
      latestRotated: false,
    });

    const t2 = at(20 * MINUTE + 2);
    const second = renewal(first.session, { issueHash: 'hash-3', at: t2 });
    expect(await repository.write(second)).toBe(true);

    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: t1 },
      { token_hash: 'hash-2', issued_at: t1, rotated_at: t2 },
      { token_hash: 'hash-3', issued_at: t2, rotated_at: null },
    ]);
    expect(await repository.findByRefreshTokenHash('hash-1')).toEqual({
      sessionId: session.id,
      rotatedAt: t1,
      latestRotated: false,
    });
    expect(await repository.findByRefreshTokenHash('hash-2')).toEqual({
      sessionId: session.id,
      rotatedAt: t2,
      latestRotated: true,
    });
    expect(await repository.findByRefreshTokenHash('hash-3')).toEqual({
      sessionId: session.id,
      rotatedAt: null,
      latestRotated: false,
    });
    expect(await repository.findByRefreshTokenHash('hash-unknown')).toBeNull();
  });

  it('rotates every current token out without issuing one when issueHash is null', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    const t1 = at(5 * MINUTE);
    const write = renewal(session, { issueHash: null, at: t1 }, { rememberMe: false });
    expect(await repository.write(write)).toBe(true);

    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: t1 },
    ]);
    expect(await repository.findByRefreshTokenHash('hash-1')).toEqual({
      sessionId: session.id,
      rotatedAt: t1,
      latestRotated: true,
    });
  });

  it("leaves the tokens alone with refreshToken: null, and never touches another session's tokens", async () => {
    const session = aSession();
    const neighbour = aSession({ userId: 'user-2' });
    await repository.write(creation(session, 'hash-1'));
    await repository.write(creation(neighbour, 'hash-n'));
    const rotated = renewal(session, { issueHash: 'hash-2', at: at(MINUTE) });
    await repository.write(rotated);

    expect(await repository.write(renewal(rotated.session, null))).toBe(true);

    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: at(MINUTE) },
      { token_hash: 'hash-2', issued_at: at(MINUTE), rotated_at: null },
    ]);
    expect(await refreshTokens(neighbour.id)).toEqual([
      { token_hash: 'hash-n', issued_at: CREATED, rotated_at: null },
    ]);
  });
});

describe('PgSessionRepository: writing many sessions', () => {
  it('writes the fresh writes, returns the stale ids, and adds outbox rows in input order', async () => {
    const sessions = Array.from({ length: 6 }, (_, i) => aSession({ userId: `user-${i}` }));
    // Created in reverse so that outbox ids and session ids do not share an order by accident.
    for (const session of [...sessions].reverse())
      await repository.write(creation(session, `hash-${session.userId}`));
    await pool.query('DELETE FROM outbox');
    // Sessions 1 and 4 move on behind the batch's back.
    const moved = new Map<string, Session>();
    for (const index of [1, 4]) {
      const write = renewal(sessions[index]!, null, { authorities: ['ROLE_MOVED'] });
      await repository.write(write);
      moved.set(write.session.id, write.session);
    }
    await pool.query('DELETE FROM outbox');

    const order = [5, 1, 0, 4, 3, 2];
    const writes = order.map((index) =>
      renewal(
        sessions[index]!,
        { issueHash: `next-${index}`, at: at(HOUR) },
        { authorities: ['ROLE_BATCH'] },
        EVENT_CAUSE,
      ),
    );

    const stale = await repository.writeMany(writes);

    expect(stale).toEqual(new Set([sessions[1]!.id, sessions[4]!.id]));
    const fresh = writes.filter((write) => !stale.has(write.session.id));
    const published = await outbox();
    expect(published.map((row) => row.session_id)).toEqual(fresh.map((write) => write.session.id));
    expect(published.map((row) => row.key)).toEqual(['user-5', 'user-0', 'user-3', 'user-2']);
    expect(published.map((row) => row.claims_version)).toEqual([2, 2, 2, 2]);
    expect(published.map((row) => (row.value.data as { sessionId: string }).sessionId)).toEqual(
      fresh.map((write) => write.session.id),
    );
    for (const row of published) {
      expect(row.headers).toEqual([
        ['content-type', base64('application/cloudevents+json')],
        ['iam-event-time', base64('2026-03-01T09:59:59.123Z')],
      ]);
      expect(row.value).toMatchObject({
        type: 'iam.session.token-renewed',
        data: { cause: PUBLISHED_EVENT_CAUSE },
      });
    }

    for (const write of fresh) {
      expect(await repository.findById(write.session.id)).toEqual(write.session);
      const index = sessions.findIndex((s) => s.id === write.session.id);
      expect(await refreshTokens(write.session.id)).toEqual([
        { token_hash: `hash-user-${index}`, issued_at: CREATED, rotated_at: at(HOUR) },
        { token_hash: `next-${index}`, issued_at: at(HOUR), rotated_at: null },
      ]);
    }
    for (const [id, current] of moved) {
      expect(await repository.findById(id)).toEqual(current);
      const index = sessions.findIndex((s) => s.id === id);
      expect(await refreshTokens(id)).toEqual([
        { token_hash: `hash-user-${index}`, issued_at: CREATED, rotated_at: null },
      ]);
    }
    expect(await repository.writeMany([])).toEqual(new Set());
  });
});

describe('PgSessionRepository: waking the relay of this process', () => {
  it('signals the outbox after a write that added messages, never after a refused one', async () => {
    let notified = 0;
    const signal = { notify: () => void (notified += 1) } as unknown as OutboxSignal;
    const signalling = new PgSessionRepository(
      new PgSql(pool),
      new SessionUpdateEncoder(TOPIC, new PlaintextTokenSealer(), eventIds, clock),
      signal,
    );
    const session = aSession();
    const other = aSession({ userId: 'user-2' });
    const ghost = aSession({ userId: 'user-3' });

    expect(await signalling.write(creation(session, 'hash-1'))).toBe(true);
    expect(notified).toBe(1);
    expect(await signalling.write(creation(other, null))).toBe(true);
    expect(notified).toBe(2);
    const next = renewal(session, null);
    expect(await signalling.write(next)).toBe(true);
    expect(notified).toBe(3);
    // Refused: stale, or no such session.
    expect(await signalling.write(next)).toBe(false);
    expect(await signalling.writeMany([next, renewal(ghost, null)])).toEqual(new Set([session.id, ghost.id]));
    expect(notified).toBe(3);
    // Partly written: one signal.
    expect(await signalling.writeMany([next, renewal(other, null)])).toEqual(new Set([session.id]));
    expect(notified).toBe(4);
    expect(await rows('SELECT count(*)::int AS n FROM outbox')).toEqual([{ n: 4 }]);
  });
});

describe('PgSessionRepository: a batch holding two writes of one session', () => {
  it('applies only the write on the current version: the stale one rotates, issues and publishes nothing', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    const v2 = renewal(session, { issueHash: 'hash-2', at: at(MINUTE) });
    expect(await repository.write(v2)).toBe(true);
    // The relay has published versions 1 and 2 meanwhile.
    await pool.query('DELETE FROM outbox');

    // "Each write stands alone" (SessionRepository.writeMany): one on the current version 2,
    // one still on version 1 that must lose.
    const fresh = renewal(v2.session, null, { authorities: ['ROLE_FRESH'] });
    const stale = renewal(
      session,
      { issueHash: 'hash-stale', at: at(2 * MINUTE) },
      { authorities: ['ROLE_STALE'] },
    );
    // The lost write is reported by its session's id.
    expect(await repository.writeMany([stale, fresh])).toEqual(new Set([session.id]));

    expect(await repository.findById(session.id)).toEqual(fresh.session);
    expect(await rows('SELECT session_id::text, claims_version FROM outbox ORDER BY id')).toEqual([
      { session_id: session.id, claims_version: 3 },
    ]);
    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: at(MINUTE) },
      { token_hash: 'hash-2', issued_at: at(MINUTE), rotated_at: null },
    ]);
    expect(await repository.findByRefreshTokenHash('hash-stale')).toBeNull();
  });
});

describe('PgSessionRepository: two writes of one session on the same version in one statement', () => {
  it('writes exactly one of them with its effects; the other is reported lost', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    await pool.query('DELETE FROM outbox');
    const left = renewal(session, { issueHash: 'hash-left', at: at(MINUTE) }, { authorities: ['ROLE_LEFT'] });
    const right = renewal(
      session,
      { issueHash: 'hash-right', at: at(MINUTE) },
      { authorities: ['ROLE_RIGHT'] },
    );

    expect(await repository.writeMany([left, right])).toEqual(new Set([session.id]));

    const stored = await repository.findById(session.id);
    const winner = stored?.authorities.includes('ROLE_LEFT') ? 'left' : 'right';
    expect(stored).toEqual((winner === 'left' ? left : right).session);
    expect(await rows('SELECT session_id::text, claims_version FROM outbox')).toEqual([
      { session_id: session.id, claims_version: 2 },
    ]);
    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: at(MINUTE) },
      { token_hash: `hash-${winner}`, issued_at: at(MINUTE), rotated_at: null },
    ]);
  });
});

describe('PgSessionRepository: concurrent single writes', () => {
  it('share statements, and each caller learns its own outcome', async () => {
    const { repository: batching, statements } = countedRepository({ concurrency: 1, maxBatch: 64 });
    const sessions = Array.from({ length: 30 }, (_, i) => aSession({ userId: `user-${i}` }));
    for (const session of sessions) await repository.write(creation(session, null));
    const current = sessions.map((session) => renewal(session, null, { authorities: ['ROLE_NEXT'] }));
    await Promise.all(current.slice(0, 10).map((write) => repository.write(write)));
    statements.length = 0;

    // Sessions 0–9 have moved on: writing them on version 1 again must fail, each on its own.
    const outcomes = await Promise.all(current.map((write) => batching.write(write)));

    expect(outcomes).toEqual(current.map((_, index) => index >= 10));
    expect(statements.filter((name) => name === 'sessions-update').length).toBeLessThan(current.length / 2);
    for (const write of current.slice(10))
      expect(await repository.findById(write.session.id)).toEqual(write.session);
    expect(await rows('SELECT count(*)::int AS n FROM outbox WHERE claims_version = 2')).toEqual([{ n: 30 }]);
  });
});

describe('PgSessionRepository: a write waiting for a row lock', () => {
  it('holds back only its own statement: the writes behind it go out together in another once it has waited 50 ms', async () => {
    let stalls = 0;
    const { repository: counted, statements } = countedRepository(sessionWriteBatching(() => (stalls += 1)));
    const held = aSession({ userId: 'user-held' });
    const others = Array.from({ length: 3 }, (_, i) => aSession({ userId: `user-free-${i}` }));
    for (const session of [held, ...others]) await repository.write(creation(session, null));
    // Another transaction (a replay's dry run, say) holds the session's row.
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [held.id]);
    try {
      const sentAt = performance.now();
      const waiting = counted.write(renewal(held, null));
      const free = others.map((session) => counted.write(renewal(session, null)));

      await expect(Promise.all(free)).resolves.toEqual([true, true, true]);
      expect(performance.now() - sentAt).toBeGreaterThanOrEqual(50);
      expect(await Promise.race([waiting, 'still waiting'])).toBe('still waiting');
      // One statement in flight, then the three gathered behind it: not one each.
      expect(statements.filter((name) => name === 'sessions-update')).toHaveLength(2);
      expect(stalls).toBe(1);
      await holder.query('COMMIT');
      await expect(waiting).resolves.toBe(true);
    } finally {
      // Closed, not returned to the pool: a failed test must not leave the row held.
      holder.release(true);
    }
  });
});

describe('outbox: one message per session version', () => {
  it('rejects a second outbox row for the same (session_id, claims_version)', async () => {
    const session = aSession();
    await repository.write(creation(session, null));
    await expect(
      pool.query(`INSERT INTO outbox (topic, value, session_id, claims_version) VALUES ('t', 'x', $1, 1)`, [
        session.id,
      ]),
    ).rejects.toMatchObject({ code: '23505', constraint: 'outbox_session_id_claims_version_key' });
    // Another version of the same session, and rows without a session, are fine.
    await pool.query(
      `INSERT INTO outbox (topic, value, session_id, claims_version) VALUES ('t', 'x', $1, 2)`,
      [session.id],
    );
    await pool.query(
      `INSERT INTO outbox (topic, value) VALUES ('t', 'dead-letter-1'), ('t', 'dead-letter-2')`,
    );
    expect(await rows('SELECT count(*)::int AS n FROM outbox')).toEqual([{ n: 4 }]);
  });

  it('makes a write that would publish a version twice fail as a whole', async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-1'));
    // A buggy writer that does not advance the claims version.
    const sameVersion: SessionWrite = {
      ...renewal(session, { issueHash: 'hash-2', at: at(MINUTE) }),
    };
    const broken: SessionWrite = {
      ...sameVersion,
      session: { ...sameVersion.session, claimsVersion: 1, authorities: ['ROLE_CHANGED'] },
      update: { ...(sameVersion.update as TokenRenewed), claimsVersion: 1 },
    };

    await expect(repository.write(broken)).rejects.toMatchObject({
      code: '23505',
      constraint: 'outbox_session_id_claims_version_key',
    });

    expect(await repository.findById(session.id)).toEqual(session);
    expect(await refreshTokens(session.id)).toEqual([
      { token_hash: 'hash-1', issued_at: CREATED, rotated_at: null },
    ]);
    expect(await rows('SELECT count(*)::int AS n FROM outbox')).toEqual([{ n: 1 }]);
  });
});

describe('PgSessionRepository: plans on a table without statistics', () => {
  // On these machines autovacuum is off and nothing analyzes the table: the planner has no
  // statistics, prices the input at 100 rows, and scanned all 5,000 sessions before the ids
  // were named. With statistics it looks them up by key anyway.
  it('looks the sessions it writes up by key, without relying on the statistics of the table', async () => {
    await pool.query(`INSERT INTO users (id) VALUES ('user-1')`);
    await pool.query(`INSERT INTO clients (id) VALUES ('client-1')`);
    await pool.query(
      `INSERT INTO sessions (id, user_id, client_id, auth_level, remember_me, expires_at, claims_version,
                             token_id, token_expires_at)
       SELECT gen_random_uuid(), 'user-1', 'client-1', 'AUTH-IDENTIFIED', false, $1, 1, 't', $1
       FROM generate_series(1, 5000)`,
      [at(8 * HOUR)],
    );
    const ids = (await rows<{ id: string }>('SELECT id::text AS id FROM sessions LIMIT 3')).map(
      (row) => row.id,
    );
    const input = ids.map((id, ord) => ({
      ord,
      id,
      expected: 1,
      revision: 2,
      claims_version: 1,
      status: 'ACTIVE',
    }));

    const scans = scansOf(await explain(pool, UPDATE_SESSIONS, [JSON.stringify(input)]), 'sessions');

    expect(scans.length).toBeGreaterThan(0);
    expect(scans.filter((scan) => scan === 'Seq Scan')).toEqual([]);
  });

  // Without statistics the planner ANDed the user_id and client_id indexes, reading the client's
  // entry for every one of its sessions to find one user's (3.0 ms at 100,000 sessions; 0.02–0.07
  // ms through the pair). With statistics it would have picked user_id alone, but nothing forces it.
  it("finds a user's live session with a client through the (user_id, client_id) index, without statistics", async () => {
    await pool.query(`INSERT INTO clients (id) VALUES ('client-1')`);
    await pool.query(`INSERT INTO users (id) SELECT 'user-' || n FROM generate_series(1, 2000) n`);
    await pool.query(
      `INSERT INTO sessions (id, user_id, client_id, auth_level, remember_me, expires_at, claims_version,
                             token_id, token_expires_at)
       SELECT gen_random_uuid(), 'user-' || n, 'client-1', 'AUTH-IDENTIFIED', false, $1, 1, 't', $1
       FROM generate_series(1, 2000) n`,
      [at(8 * HOUR)],
    );

    const plan = await explain(pool, SELECT_CONTINUABLE_SESSION, ['user-7', 'client-1', at(HOUR)]);

    expect(indexesRead(plan)).toEqual(['sessions_user_id_client_id_idx']);
  });

  // A session keeps every refresh token it rotated (presenting one again revokes it), one more
  // with each renewal. Through an index on session_id alone, the rotation and the latest-rotation
  // lookup read all of them and filtered on rotated_at.
  it("finds a session's current refresh token and its latest rotation by index, not by reading every token", async () => {
    const session = aSession();
    await repository.write(creation(session, 'hash-current'));
    await pool.query(
      `INSERT INTO refresh_tokens (token_hash, session_id, issued_at, rotated_at)
       SELECT 'hash-' || n, $1, $2, $2 FROM generate_series(1, 300) n`,
      [session.id, CREATED],
    );
    const write = renewal(session, { issueHash: 'hash-next', at: at(MINUTE) });
    const input = [
      {
        ord: 0,
        id: session.id,
        expected: session.revision,
        revision: session.revision + 1,
        claims_version: 2,
      },
    ].map((row) => ({ ...row, status: 'ACTIVE', refresh_change: true, refresh_at: write.refreshToken!.at }));

    const rotation = await explain(pool, UPDATE_SESSIONS, [JSON.stringify(input)]);
    const lookup = await explain(pool, SELECT_REFRESH_TOKEN_BY_HASH, ['hash-7']);

    expect(indexConditions(rotation).filter((cond) => cond.includes('rotated_at IS NULL'))).toHaveLength(1);
    expect(indexConditions(lookup).filter((cond) => cond.includes('rotated_at IS NOT NULL'))).toHaveLength(1);
  });

  it('plans a large batch of writes for its own size each time (unnamed) and prepares a small one once', async () => {
    const { repository: counted, statements } = countedRepository();
    const sessions = Array.from({ length: PLAN_EACH_TIME_FROM * 2 - 1 }, (_, i) =>
      aSession({ userId: `user-${i}` }),
    );
    for (const session of sessions) await repository.write(creation(session, null));
    const writes = sessions.map((session) => renewal(session, null, { authorities: ['ROLE_NEXT'] }));
    statements.length = 0;

    const small = await counted.writeMany(writes.slice(0, PLAN_EACH_TIME_FROM - 1));
    const large = await counted.writeMany(writes.slice(PLAN_EACH_TIME_FROM - 1));

    expect(statements).toEqual(['sessions-update', '(unnamed)']);
    expect([...small, ...large]).toEqual([]);
    for (const write of writes) expect(await repository.findById(write.session.id)).toEqual(write.session);
  });
});
