import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../events/change';
import { EventType } from '../events/event-types';
import type { Session } from '../sessions/session';
import type { SessionWrite } from '../sessions/session-repository';
import { SessionTokenIssuer } from '../sessions/session-token-issuer';
import type { TokenRenewed } from '../sessions/session-update';
import { FakeClock } from '../testing/fake-clock';
import { decodeFakeToken, FakeTokenSigner } from '../testing/fake-token-signer';
import { FakeChangeStore, InMemoryAffectedSessionFinder } from '../testing/in-memory-changes';
import { InMemorySessionRepository } from '../testing/in-memory-session-repository';
import { FakeRoleSnapshotLoader, type RoleFacts } from '../testing/role-facts';
import { SequentialIds } from '../testing/sequential-ids';
import { aSession, HOUR, MINUTE, TEST_POLICY } from '../testing/session-fixtures';
import { ApplyChangeUseCase, SessionContentionError } from './apply-change.use-case';
import { EMPTY_SCOPE, type ChangeScope } from './change-scope';
import type { AffectedSessionFinder, AppliedChange } from './change-store';

const t0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

const event: ChangeEvent = {
  id: 'evt-1',
  source: '/iam/users',
  subject: 'u1',
  time: at(-1_000),
  timestamp: '2026-03-01T09:59:59.000000Z',
  change: { type: EventType.UserRoleGranted, data: { userId: 'u1', role: 'NEW' } },
  origin: { topic: 'iam.role-changes.v1', partition: 0, offset: '42' },
};
const EVENT_CAUSE = { kind: 'event', eventId: 'evt-1', eventType: 'iam.user.role.granted' } as const;
const scopeOfU1: ChangeScope = { ...EMPTY_SCOPE, userIds: ['u1'] };

const facts: RoleFacts = {
  users: {
    u1: { roles: ['USER', 'NEW'] },
    u2: { roles: ['USER'] },
    locked: { locked: true, roles: ['USER'] },
  },
  clients: { c1: { roles: ['CLI-1STPARTY'] } },
  businesses: { bA: { roles: ['BIZ-A'] } },
  memberships: [{ businessId: 'bA', userId: 'u2', roles: ['BUSINESSOWNER'] }],
};

/** What u1 holds now, and what u1's tokens held before the event. */
const U1_NOW = ['ROLE_AUTH-BASIC', 'ROLE_CLI-1STPARTY', 'ROLE_NEW', 'ROLE_USER'];
const U1_BEFORE = ['ROLE_AUTH-BASIC', 'ROLE_CLI-1STPARTY', 'ROLE_USER'];
const U2_ALONE = ['ROLE_AUTH-BASIC', 'ROLE_CLI-1STPARTY', 'ROLE_USER'];
const U2_FOR_A = [
  'ROLE_AUTH-BASIC',
  'ROLE_BIZ-A',
  'ROLE_BUSINESS',
  'ROLE_BUSINESSOWNER',
  'ROLE_CLI-1STPARTY',
  'ROLE_USER',
];

const sessionOf = (id: string, overrides: Partial<Session> = {}): Session =>
  aSession({
    id,
    userId: 'u1',
    clientId: 'c1',
    createdAt: at(-1 * HOUR),
    expiresAt: at(7 * HOUR),
    claimsVersion: 2,
    authorities: U1_BEFORE,
    scope: ['READ'],
    ...overrides,
  });

const sessionId = (n: number) => `s${String(n).padStart(5, '0')}`;

function setup(
  options: {
    result?: AppliedChange;
    resultFor?: (event: ChangeEvent) => AppliedChange | undefined;
    sessions?: readonly Session[];
    batchSize?: number;
    facts?: RoleFacts;
    finder?: AffectedSessionFinder;
  } = {},
) {
  const clock = new FakeClock(t0);
  const sessions = new InMemorySessionRepository();
  for (const session of options.sessions ?? []) sessions.seed(session);
  const changes = new FakeChangeStore(
    options.result ?? { kind: 'fan-out', scope: scopeOfU1 },
    options.resultFor,
  );
  const finder = new InMemoryAffectedSessionFinder(sessions);
  const roles = new FakeRoleSnapshotLoader(options.facts ?? facts);
  const signer = new FakeTokenSigner();
  const issuer = new SessionTokenIssuer(signer, new SequentialIds(), 'https://iam.test', TEST_POLICY);
  const useCase = new ApplyChangeUseCase({
    changes,
    affected: options.finder ?? finder,
    sessions,
    roles,
    issuer,
    clock,
    batchSize: options.batchSize ?? 100,
  });
  return { clock, sessions, changes, finder, roles, signer, useCase };
}

describe('ApplyChangeUseCase: nothing to fan out', () => {
  it.each([{ kind: 'duplicate' }, { kind: 'no-effect' }] as const)(
    'does nothing for a $kind event',
    async (result) => {
      const { useCase, changes, finder, sessions, roles } = setup({ result, sessions: [sessionOf('s1')] });
      let heartbeats = 0;
      const outcome = await useCase.execute(event, { beforeBatch: async () => void (heartbeats += 1) });
      expect(outcome).toEqual({ applied: result.kind, reissued: 0, revoked: 0 });
      expect(changes.applied).toEqual([event]);
      expect(changes.completed).toEqual([]);
      expect(finder.calls).toHaveLength(0);
      expect(roles.loads).toHaveLength(0);
      expect(sessions.attempted).toHaveLength(0);
      expect(heartbeats).toBe(0);
      expect(sessions.get('s1')).toEqual(sessionOf('s1'));
    },
  );
});

describe('ApplyChangeUseCase: fan-out', () => {
  it('re-issues the token of every affected session whose authorities change', async () => {
    const { useCase, sessions, changes } = setup({
      sessions: [sessionOf('s1'), sessionOf('s2', { clientId: 'c1' })],
    });
    const outcome = await useCase.execute(event);

    expect(outcome).toEqual({ applied: 'fan-out', reissued: 2, revoked: 0 });
    expect(changes.completed).toEqual(['evt-1']);
    expect(sessions.batches).toHaveLength(1);
    expect(sessions.committed.map((w) => w.session.id)).toEqual(['s1', 's2']);
    for (const write of sessions.committed) {
      expect(write.expectedRevision).toBe(2);
      expect(write.refreshToken).toBeNull();
      expect(write.session).toMatchObject({ claimsVersion: 3, authorities: U1_NOW, expiresAt: at(7 * HOUR) });
      const update = write.update as TokenRenewed;
      expect(update).toMatchObject({
        type: EventType.SessionTokenRenewed,
        sessionId: write.session.id,
        userId: 'u1',
        clientId: 'c1',
        businessId: null,
        authorities: U1_NOW,
        added: ['ROLE_NEW'],
        removed: [],
        claimsVersion: 3,
        scope: ['READ'],
        expiresAt: at(15 * MINUTE),
        cause: EVENT_CAUSE,
      });
      expect(decodeFakeToken(update.accessToken)).toMatchObject({
        sid: write.session.id,
        authorities: U1_NOW,
        claims_version: 3,
      });
    }
  });

  it('gives no token to sessions whose authorities do not change, and confirms them in the same batch', async () => {
    const { useCase, sessions, changes } = setup({
      sessions: [
        sessionOf('s1', { authorities: U1_NOW }),
        sessionOf('s2'),
        sessionOf('s3', { authorities: U1_NOW }),
      ],
    });
    const outcome = await useCase.execute(event);
    expect(outcome).toEqual({ applied: 'fan-out', reissued: 1, revoked: 0 });
    expect(sessions.batches.map((batch) => batch.map((w) => [w.session.id, w.update?.type ?? null]))).toEqual(
      [
        [
          ['s1', null],
          ['s2', EventType.SessionTokenRenewed],
          ['s3', null],
        ],
      ],
    );
    // A confirmation moves the revision and nothing else: same token, same claims version, nothing published.
    expect(sessions.get('s1')).toEqual(sessionOf('s1', { authorities: U1_NOW, revision: 3 }));
    expect(sessions.get('s3')).toMatchObject({ claimsVersion: 2, revision: 3 });
    expect(sessions.get('s2')).toMatchObject({ claimsVersion: 3, revision: 3 });
    expect(changes.completed).toEqual(['evt-1']);
  });

  it('confirms a session it finds right, guarded by the revision it read, and publishes nothing', async () => {
    const { useCase, sessions, changes } = setup({ sessions: [sessionOf('s1', { authorities: U1_NOW })] });
    expect(await useCase.execute(event)).toEqual({ applied: 'fan-out', reissued: 0, revoked: 0 });
    expect(sessions.committed).toEqual([
      {
        session: sessionOf('s1', { authorities: U1_NOW, revision: 3 }),
        expectedRevision: 2,
        refreshToken: null,
        update: null,
      },
    ]);
    expect(changes.completed).toEqual(['evt-1']);
  });

  it('leaves sessions outside the scope alone', async () => {
    const { useCase, sessions } = setup({ sessions: [sessionOf('s1'), sessionOf('s9', { userId: 'u2' })] });
    await useCase.execute(event);
    expect(sessions.committed.map((w) => w.session.id)).toEqual(['s1']);
    expect(sessions.get('s9')!.claimsVersion).toBe(2);
  });

  it("revokes a locked user's sessions", async () => {
    const lockedEvent: ChangeEvent = {
      ...event,
      change: { type: EventType.UserLocked, data: { userId: 'locked' } },
    };
    const { useCase, sessions } = setup({
      result: { kind: 'fan-out', scope: { ...EMPTY_SCOPE, userIds: ['locked'] } },
      sessions: [sessionOf('s1', { userId: 'locked' }), sessionOf('s2', { userId: 'locked' })],
    });
    const outcome = await useCase.execute(lockedEvent);
    expect(outcome).toEqual({ applied: 'fan-out', reissued: 0, revoked: 2 });
    for (const id of ['s1', 's2']) {
      expect(sessions.get(id)).toMatchObject({
        status: 'REVOKED',
        revokedReason: 'user-locked',
        revokedAt: t0,
        claimsVersion: 3,
      });
    }
    expect(sessions.committed[0]!.update).toEqual({
      type: EventType.SessionRevoked,
      sessionId: 's1',
      userId: 'locked',
      clientId: 'c1',
      reason: 'user-locked',
      claimsVersion: 3,
      cause: { kind: 'event', eventId: 'evt-1', eventType: 'iam.user.locked', occurredAt: event.time },
    });
    expect(sessions.committed[0]!.refreshToken).toBeNull();
  });

  it('falls back to the user alone for a session acting for a business the user left', async () => {
    const removed: ChangeEvent = {
      ...event,
      change: { type: EventType.BusinessMemberRemoved, data: { businessId: 'bA', userId: 'u2' } },
    };
    const { useCase, sessions } = setup({
      result: {
        kind: 'fan-out',
        scope: { ...EMPTY_SCOPE, memberships: [{ businessId: 'bA', userId: 'u2' }] },
      },
      sessions: [sessionOf('s1', { userId: 'u2', businessId: 'bA', authorities: U2_FOR_A })],
      facts: { ...facts, memberships: [] },
    });
    const outcome = await useCase.execute(removed);
    expect(outcome).toEqual({ applied: 'fan-out', reissued: 1, revoked: 0 });
    expect(sessions.get('s1')).toMatchObject({ businessId: null, authorities: U2_ALONE, status: 'ACTIVE' });
    expect(sessions.committed[0]!.update).toMatchObject({
      businessId: null,
      added: [],
      removed: ['ROLE_BIZ-A', 'ROLE_BUSINESS', 'ROLE_BUSINESSOWNER'],
      cause: { kind: 'event', eventId: 'evt-1', eventType: 'iam.business.member.removed' },
    });
    expect(
      decodeFakeToken((sessions.committed[0]!.update as TokenRenewed).accessToken).business_id,
    ).toBeNull();
  });

  it('leaves expired and revoked sessions unchanged even if the finder hands them over', async () => {
    const dead = [
      sessionOf('s1', { expiresAt: t0 }),
      sessionOf('s2', { status: 'REVOKED', revokedReason: 'operator-request', revokedAt: at(-1) }),
    ];
    const finder: AffectedSessionFinder = {
      findAffected: async (_scope, after) => (after === null ? dead : []),
    };
    const { useCase, sessions, changes } = setup({ sessions: dead, finder });
    expect(await useCase.execute(event)).toEqual({ applied: 'fan-out', reissued: 0, revoked: 0 });
    expect(sessions.attempted).toHaveLength(0);
    expect(sessions.get('s1')).toEqual(dead[0]);
    expect(sessions.get('s2')).toEqual(dead[1]);
    expect(changes.completed).toEqual(['evt-1']);
  });

  it('completes an empty fan-out after one look', async () => {
    const { useCase, finder, changes } = setup({ sessions: [] });
    let heartbeats = 0;
    const outcome = await useCase.execute(event, { beforeBatch: async () => void (heartbeats += 1) });
    expect(outcome).toEqual({ applied: 'fan-out', reissued: 0, revoked: 0 });
    expect(finder.calls.map((c) => c.afterSessionId)).toEqual([null]);
    expect(heartbeats).toBe(0);
    expect(changes.completed).toEqual(['evt-1']);
  });

  it('asks the finder with the scope, the batch size and the current time', async () => {
    const { useCase, finder, clock } = setup({ sessions: [sessionOf('s1')], batchSize: 7 });
    clock.set(at(5 * MINUTE));
    await useCase.execute(event);
    expect(finder.calls[0]).toMatchObject({
      scope: scopeOfU1,
      afterSessionId: null,
      limit: 7,
      now: at(5 * MINUTE),
    });
  });
});

describe('ApplyChangeUseCase: paging', () => {
  const many = (count: number) => Array.from({ length: count }, (_, i) => sessionOf(sessionId(i + 1)));

  it('pages through 2,500 sessions in batches of 500, with a heartbeat before settling each', async () => {
    const { useCase, finder, sessions, roles, changes } = setup({ sessions: many(2_500), batchSize: 500 });
    const log: string[] = [];
    const outcome = await useCase.execute(event, {
      beforeBatch: async () => {
        log.push(`heartbeat after ${finder.calls.length} pages`);
      },
    });

    expect(outcome).toEqual({ applied: 'fan-out', reissued: 2_500, revoked: 0 });
    const pages = finder.calls.filter((call) => call.returned.length > 0);
    expect(pages).toHaveLength(5);
    expect(pages.map((call) => call.returned.length)).toEqual([500, 500, 500, 500, 500]);
    expect(finder.calls.map((call) => call.afterSessionId)).toEqual([
      null,
      sessionId(500),
      sessionId(1_000),
      sessionId(1_500),
      sessionId(2_000),
      sessionId(2_500),
    ]);
    // Five full pages, each read then settled, then one look that finds nothing more: a fan-out of
    // exactly one full page sees the hook once, so the consumer does not hand it off for nothing.
    expect(log).toEqual([1, 2, 3, 4, 5].map((n) => `heartbeat after ${n} pages`));
    expect(sessions.batches.map((batch) => batch.length)).toEqual([500, 500, 500, 500, 500]);
    // One read of the facts per batch: no write lost, so nothing to decide again.
    expect(roles.loads.map((subjects) => subjects.length)).toEqual(Array(5).fill(500));
    expect(new Set(sessions.committed.map((w) => w.session.id)).size).toBe(2_500);
    expect(sessions.all().every((s) => s.claimsVersion === 3)).toBe(true);
    expect(changes.completed).toEqual(['evt-1']);
  });

  it('stops after a short last page without another look', async () => {
    const { useCase, finder, sessions } = setup({ sessions: many(2_400), batchSize: 500 });
    let heartbeats = 0;
    await useCase.execute(event, { beforeBatch: async () => void (heartbeats += 1) });
    expect(finder.calls.map((call) => call.returned.length)).toEqual([500, 500, 500, 500, 400]);
    expect(heartbeats).toBe(5);
    expect(sessions.committed).toHaveLength(2_400);
  });

  it('pages through batches where only some sessions change', async () => {
    const mixed = Array.from({ length: 10 }, (_, i) =>
      sessionOf(sessionId(i + 1), { authorities: i % 2 === 0 ? U1_BEFORE : U1_NOW }),
    );
    const { useCase, sessions } = setup({ sessions: mixed, batchSize: 4 });
    expect(await useCase.execute(event)).toEqual({ applied: 'fan-out', reissued: 5, revoked: 0 });
    const reissued = (batch: readonly SessionWrite[]) =>
      batch.filter((w) => w.update !== null).map((w) => w.session.id);
    expect(sessions.batches.map(reissued)).toEqual([
      [sessionId(1), sessionId(3)],
      [sessionId(5), sessionId(7)],
      [sessionId(9)],
    ]);
    expect(sessions.batches.map((batch) => batch.length)).toEqual([4, 4, 2]);
  });
});

describe('ApplyChangeUseCase: concurrent writers', () => {
  it('retries a session a concurrent writer changed, on its fresh state', async () => {
    const { useCase, sessions, changes } = setup({ sessions: [sessionOf('s1'), sessionOf('s2')] });
    sessions.interfere('s2', 1);
    const outcome = await useCase.execute(event);

    expect(outcome).toEqual({ applied: 'fan-out', reissued: 2, revoked: 0 });
    expect(sessions.batches.map((batch) => batch.map((w) => [w.session.id, w.expectedRevision]))).toEqual([
      [
        ['s1', 2],
        ['s2', 2],
      ],
      [['s2', 3]],
    ]);
    expect(sessions.findByIdsCalls).toEqual([['s2']]);
    expect(sessions.get('s2')).toMatchObject({ claimsVersion: 4, authorities: U1_NOW });
    expect(changes.completed).toEqual(['evt-1']);
  });

  it('gives no second token when the concurrent writer already brought the session up to date', async () => {
    const { useCase, sessions } = setup({ sessions: [sessionOf('s1')] });
    sessions.interfere('s1', 1, (stored) => ({
      ...stored,
      authorities: U1_NOW,
      claimsVersion: stored.claimsVersion + 1,
    }));
    expect(await useCase.execute(event)).toEqual({ applied: 'fan-out', reissued: 0, revoked: 0 });
    expect(sessions.batches.map((batch) => batch.map((w) => w.update?.type ?? 'confirmation'))).toEqual([
      [EventType.SessionTokenRenewed],
      ['confirmation'],
    ]);
    expect(sessions.get('s1')).toMatchObject({ claimsVersion: 3, revision: 4, authorities: U1_NOW });
  });

  it('does not touch a session the concurrent writer revoked', async () => {
    const { useCase, sessions } = setup({ sessions: [sessionOf('s1')] });
    sessions.interfere('s1', 1, (stored) => ({
      ...stored,
      status: 'REVOKED',
      revokedReason: 'operator-request',
      claimsVersion: stored.claimsVersion + 1,
    }));
    expect(await useCase.execute(event)).toEqual({ applied: 'fan-out', reissued: 0, revoked: 0 });
    expect(sessions.get('s1')).toMatchObject({ status: 'REVOKED', claimsVersion: 3 });
  });

  it('loses to a change that confirmed the session after this batch read the facts, and decides again', async () => {
    // Another change (say, u1's role revoked through a group on another partition) commits after
    // this batch read the facts; its own fan-out finds the session right and confirms it. The
    // confirmation moved the revision, so this batch's token of stale facts is not written.
    const { useCase, sessions, roles } = setup({ sessions: [sessionOf('s1')] });
    roles.changeAfterNextLoad({ ...facts, users: { ...facts.users, u1: { roles: ['USER'] } } });
    sessions.interfere('s1', 1, (stored) => stored);
    const outcome = await useCase.execute(event);

    expect(outcome).toEqual({ applied: 'fan-out', reissued: 0, revoked: 0 });
    expect(sessions.attempted.map((w) => [w.session.authorities, w.update?.type ?? 'confirmation'])).toEqual([
      [U1_NOW, EventType.SessionTokenRenewed],
      [U1_BEFORE, 'confirmation'],
    ]);
    expect(sessions.get('s1')).toMatchObject({ claimsVersion: 2, revision: 4, authorities: U1_BEFORE });
    // Read, lose, read the session and the facts again: right as it is.
    expect(roles.loads).toHaveLength(2);
  });

  it('succeeds on the fifth attempt after four conflicts', async () => {
    const { useCase, sessions, changes } = setup({ sessions: [sessionOf('s1')] });
    sessions.interfere('s1', 4);
    expect(await useCase.execute(event)).toEqual({ applied: 'fan-out', reissued: 1, revoked: 0 });
    expect(sessions.batches).toHaveLength(5);
    expect(changes.completed).toEqual(['evt-1']);
  });

  it('gives up with SessionContentionError after eight conflicts, without completing the event', async () => {
    const { useCase, sessions, changes } = setup({ sessions: [sessionOf('s1'), sessionOf('s2')] });
    sessions.interfere('s2', 8);
    const error = await useCase.execute(event).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionContentionError);
    expect((error as SessionContentionError).sessionIds).toEqual(['s2']);
    expect((error as SessionContentionError).message).toBe('1 session(s) kept changing concurrently');
    expect(sessions.batches).toHaveLength(8);
    expect(sessions.get('s1')!.claimsVersion).toBe(3);
    expect(changes.completed).toEqual([]);
  });

  it('does not complete the event when loading the role facts fails', async () => {
    const { useCase, roles, changes } = setup({ sessions: [sessionOf('s1')] });
    const failure = new Error('database down');
    roles.load = async () => {
      throw failure;
    };
    await expect(useCase.execute(event)).rejects.toBe(failure);
    expect(changes.completed).toEqual([]);
  });

  it('does not complete the event when the heartbeat fails', async () => {
    const { useCase, changes, sessions } = setup({ sessions: [sessionOf('s1')] });
    const failure = new Error('rebalanced');
    await expect(useCase.execute(event, { beforeBatch: async () => Promise.reject(failure) })).rejects.toBe(
      failure,
    );
    expect(changes.completed).toEqual([]);
    expect(sessions.attempted).toHaveLength(0);
  });
});

describe('ApplyChangeUseCase: a run of independent events', () => {
  const eventFor = (id: string, change: ChangeEvent['change'], offset: string): ChangeEvent => ({
    ...event,
    id,
    subject: 'userId' in change.data ? change.data.userId : '',
    change,
    origin: { ...event.origin, offset },
  });
  const grantU1 = eventFor(
    'e1',
    { type: EventType.UserRoleGranted, data: { userId: 'u1', role: 'NEW' } },
    '1',
  );
  const revokeU2 = eventFor(
    'e2',
    { type: EventType.UserRoleRevoked, data: { userId: 'u2', role: 'OLD' } },
    '2',
  );
  const lock = eventFor('e3', { type: EventType.UserLocked, data: { userId: 'locked' } }, '3');
  const run = [grantU1, revokeU2, lock];
  const scopeOf = (e: ChangeEvent): AppliedChange => ({
    kind: 'fan-out',
    scope: { ...EMPTY_SCOPE, userIds: [e.subject] },
  });
  const runSessions = [
    sessionOf('s1'),
    sessionOf('s2', { userId: 'u2', authorities: [...U2_ALONE, 'ROLE_OLD'].sort() }),
    sessionOf('s3', { userId: 'locked', authorities: ['ROLE_USER'] }),
  ];

  it('applies the run in one call and settles its sessions in one page, each caused by its own event', async () => {
    const { useCase, changes, finder, roles, sessions } = setup({
      resultFor: scopeOf,
      sessions: runSessions,
    });
    const outcomes = await useCase.executeRun(run);
    expect(outcomes).toEqual([
      { applied: 'fan-out', reissued: 1, revoked: 0 },
      { applied: 'fan-out', reissued: 1, revoked: 0 },
      { applied: 'fan-out', reissued: 0, revoked: 1 },
    ]);
    expect(changes.applyCalls).toBe(1);
    expect(changes.applied).toEqual(run);
    expect(finder.calls).toHaveLength(1);
    expect(finder.calls[0]!.scope.userIds).toEqual(['u1', 'u2', 'locked']);
    expect(roles.loads).toHaveLength(1);
    expect(sessions.batches).toHaveLength(1);
    const causes = Object.fromEntries(
      sessions.committed.map((write) => [write.session.id, write.update?.cause]),
    );
    expect(causes).toEqual({
      s1: expect.objectContaining({ eventId: 'e1', eventType: EventType.UserRoleGranted }),
      s2: expect.objectContaining({ eventId: 'e2', eventType: EventType.UserRoleRevoked }),
      s3: expect.objectContaining({ eventId: 'e3', eventType: EventType.UserLocked }),
    });
    expect(sessions.get('s1')!.authorities).toEqual(U1_NOW);
    expect(sessions.get('s2')!.authorities).toEqual(U2_ALONE);
    expect(sessions.get('s3')!.status).toBe('REVOKED');
    expect(changes.completed).toEqual(['e1', 'e2', 'e3']);
  });

  it('settles only the events that changed something, and completes only those', async () => {
    const { useCase, changes, finder, sessions } = setup({
      resultFor: (e) =>
        e === revokeU2 ? { kind: 'duplicate' } : e === lock ? { kind: 'no-effect' } : scopeOf(e),
      sessions: runSessions,
    });
    expect(await useCase.executeRun(run)).toEqual([
      { applied: 'fan-out', reissued: 1, revoked: 0 },
      { applied: 'duplicate', reissued: 0, revoked: 0 },
      { applied: 'no-effect', reissued: 0, revoked: 0 },
    ]);
    expect(finder.calls[0]!.scope.userIds).toEqual(['u1']);
    expect(sessions.committed.map((write) => write.session.id)).toEqual(['s1']);
    expect(changes.completed).toEqual(['e1']);
  });

  it('refuses a run whose events are not confined to users of their own, before writing anything', async () => {
    const again = eventFor(
      'e4',
      { type: EventType.UserRoleRevoked, data: { userId: 'u1', role: 'NEW' } },
      '4',
    );
    const { useCase, changes, sessions } = setup({ resultFor: scopeOf, sessions: runSessions });
    await expect(useCase.executeRun([grantU1, again])).rejects.toThrow(/not confined to a user of its own/);
    expect(sessions.attempted).toHaveLength(0);
    expect(changes.completed).toEqual([]);
  });

  it('does not complete a run whose settling fails', async () => {
    const { useCase, roles, changes } = setup({ resultFor: scopeOf, sessions: runSessions });
    roles.load = async () => Promise.reject(new Error('database down'));
    await expect(useCase.executeRun(run)).rejects.toThrow('database down');
    expect(changes.completed).toEqual([]);
  });
});
