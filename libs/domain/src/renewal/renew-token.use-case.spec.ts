import { describe, expect, it } from 'vitest';
import { DomainError, type DomainErrorKind, type ErrorCodeName } from '../errors';
import { EventType } from '../events/event-types';
import { parseRequirement } from '../requirements/requirement-expression';
import type { Session } from '../sessions/session';
import { SessionTokenIssuer } from '../sessions/session-token-issuer';
import { FakeClock } from '../testing/fake-clock';
import { FakeRefreshTokenHasher } from '../testing/fake-refresh-token-hasher';
import { decodeFakeToken, FakeTokenSigner } from '../testing/fake-token-signer';
import { clientToken, FakeTokenVerifier, userToken } from '../testing/fake-token-verifier';
import { InMemorySessionRepository } from '../testing/in-memory-session-repository';
import { FakeRoleSnapshotLoader, type RoleFacts } from '../testing/role-facts';
import { SequentialIds, uuidNumber } from '../testing/sequential-ids';
import { aSession, DAY, HOUR, MINUTE, TEST_POLICY } from '../testing/session-fixtures';
import { CallerAuthenticator } from './caller-authenticator';
import type { RenewTokenCommand } from './renew-token.command';
import { RenewTokenUseCase } from './renew-token.use-case';

const t0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const epoch = (date: Date) => Math.floor(date.getTime() / 1000);
const hash = (token: string) => `hash(${token})`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const REQUIREMENT = parseRequirement(
  '(CLI-AUTH-IDENTIFIED and CLI-1STPARTY) or (CLI-AUTH-IDENTIFIED and CLI-1STPARTY and AUTH-BASIC and USER)',
);
const CLIENT_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'];

// Caller tokens.
const APP_C1 = 'caller-app-c1';
const APP_C2 = 'caller-app-c2';
const USER_CALLER_C1 = 'caller-user-c1';
const OTHER_USER_CALLER_C1 = 'caller-other-user-c1';
const ENDED_SESSION_CALLER_C1 = 'caller-ended-session-c1';
const WEAK_CALLER = 'caller-weak';

// User tokens (JWT-shaped).
const TOKEN_S1 = 'user.s1.sig';
const TOKEN_S1_BIZ_A = 'user.s1-biz-a.sig';
const TOKEN_S1_BIZ_B = 'user.s1-biz-b.sig';
const TOKEN_S1_OTHER_USER = 'user.s1-other-user.sig';
const TOKEN_MISSING_SESSION = 'user.missing.sig';
const TOKEN_OF_CLIENT = 'client.c1.sig';
const TOKEN_S2 = 'user.s2.sig';

// Refresh tokens (UUID-shaped).
const R1 = uuidNumber(0xa001);
const R0 = uuidNumber(0xa000);
const R_UNKNOWN = uuidNumber(0xafff);

const facts: RoleFacts = {
  users: {
    u1: { roles: ['USER', 'PERSON'] },
    locked: { locked: true, roles: ['USER'] },
  },
  clients: {
    c1: { roles: CLIENT_ROLES, serviceId: 'svc1', scopes: ['READ', 'WRITE'] },
    c2: { roles: CLIENT_ROLES },
  },
  businesses: {
    bA: { roles: ['BIZ-A'] },
    bB: { roles: ['BIZ-B'] },
    bInactive: { active: false, roles: ['BIZ-X'] },
    bForeign: { roles: ['BIZ-F'] },
  },
  memberships: [
    { businessId: 'bA', userId: 'u1', roles: ['BUSINESSOWNER'] },
    { businessId: 'bB', userId: 'u1', roles: ['BUSINESSUSER'] },
    { businessId: 'bInactive', userId: 'u1', roles: ['BUSINESSOWNER'] },
  ],
  groups: {
    gUser: { roles: ['G-USER'], members: [{ type: 'USER', id: 'u1' }] },
    gSvc: { roles: ['G-SVC'], dependsOn: ['gDep'], members: [{ type: 'SERVICE', id: 'svc1' }] },
    gDep: { roles: ['G-DEP'] },
    gBizA: { roles: ['G-BIZ-A'], members: [{ type: 'BUSINESS', id: 'bA' }] },
  },
};

/** What u1 acting for themself through c1 at AUTH-BASIC holds. */
const U1_ALONE = [
  'ROLE_AUTH-BASIC',
  'ROLE_CLI-1STPARTY',
  'ROLE_CLI-AUTH-IDENTIFIED',
  'ROLE_G-DEP',
  'ROLE_G-SVC',
  'ROLE_G-USER',
  'ROLE_PERSON',
  'ROLE_USER',
];
const U1_FOR_A = [...U1_ALONE, 'ROLE_BIZ-A', 'ROLE_BUSINESS', 'ROLE_BUSINESSOWNER', 'ROLE_G-BIZ-A'].sort();
const U1_FOR_B = [...U1_ALONE, 'ROLE_BIZ-B', 'ROLE_BUSINESS', 'ROLE_BUSINESSUSER'].sort();

/** u1's ordinary session with c1, one hour old, acting for themself, holding an older token. */
const s1: Session = aSession({
  id: 's1',
  userId: 'u1',
  clientId: 'c1',
  businessId: null,
  authLevel: 'AUTH-BASIC',
  rememberMe: false,
  createdAt: at(-1 * HOUR),
  expiresAt: at(7 * HOUR),
  claimsVersion: 3,
  authorities: ['ROLE_AUTH-BASIC', 'ROLE_USER', 'ROLE_STALE'],
  scope: ['READ', 'WRITE'],
  tokenId: 'old-token-id',
  tokenExpiresAt: at(-45 * MINUTE),
});

/** The same session, but remembered (30 days). */
const s1Remembered: Session = { ...s1, rememberMe: true, expiresAt: at(30 * DAY - 1 * HOUR) };

function setup(
  options: { session?: Session | null; refreshTokens?: { hash: string; rotatedAt?: Date }[] } = {},
) {
  const clock = new FakeClock(t0);
  const ids = new SequentialIds();
  const signer = new FakeTokenSigner();
  const verifier = new FakeTokenVerifier()
    .accept(APP_C1, clientToken('c1', CLIENT_ROLES))
    .accept(APP_C2, clientToken('c2', CLIENT_ROLES))
    .accept(
      USER_CALLER_C1,
      userToken({
        sessionId: 's1',
        userId: 'u1',
        clientId: 'c1',
        roles: [...CLIENT_ROLES, 'AUTH-BASIC', 'USER'],
      }),
    )
    .accept(
      ENDED_SESSION_CALLER_C1,
      userToken({
        sessionId: 'ended',
        userId: 'u1',
        clientId: 'c1',
        roles: [...CLIENT_ROLES, 'AUTH-BASIC', 'USER'],
      }),
    )
    .accept(
      OTHER_USER_CALLER_C1,
      userToken({
        sessionId: 'other-9',
        userId: 'u9',
        clientId: 'c1',
        roles: [...CLIENT_ROLES, 'AUTH-BASIC', 'USER'],
      }),
    )
    .accept(WEAK_CALLER, clientToken('c1', ['CLI-AUTH-IDENTIFIED']))
    .accept(TOKEN_S1, userToken({ sessionId: 's1', userId: 'u1', clientId: 'c1' }))
    .accept(TOKEN_S1_BIZ_A, userToken({ sessionId: 's1', userId: 'u1', clientId: 'c1', businessId: 'bA' }))
    .accept(TOKEN_S1_BIZ_B, userToken({ sessionId: 's1', userId: 'u1', clientId: 'c1', businessId: 'bB' }))
    .accept(TOKEN_S1_OTHER_USER, userToken({ sessionId: 's1', userId: 'u-other', clientId: 'c1' }))
    .accept(TOKEN_MISSING_SESSION, userToken({ sessionId: 'missing', userId: 'u1', clientId: 'c1' }))
    .accept(TOKEN_OF_CLIENT, clientToken('c1', CLIENT_ROLES))
    .accept(TOKEN_S2, userToken({ sessionId: 's2', userId: 'locked', clientId: 'c1' }));
  const sessions = new InMemorySessionRepository();
  const session = options.session === undefined ? s1 : options.session;
  if (session) sessions.seed(session, options.refreshTokens ?? []);
  const roles = new FakeRoleSnapshotLoader(facts);
  const issuer = new SessionTokenIssuer(signer, ids, 'https://iam.test', TEST_POLICY);
  const useCase = new RenewTokenUseCase({
    caller: new CallerAuthenticator(verifier, REQUIREMENT),
    verifier,
    sessions,
    roles,
    issuer,
    refreshTokens: new FakeRefreshTokenHasher(),
    ids,
    clock,
    settings: {
      policy: TEST_POLICY,
      defaultScope: ['DEFAULT'],
      identityProviderAuthLevel: 'AUTH-IDENTIFIED',
    },
  });
  return { clock, ids, signer, verifier, sessions, roles, useCase };
}

const command = (overrides: Partial<RenewTokenCommand> = {}): RenewTokenCommand => ({
  callerToken: APP_C1,
  token: TOKEN_S1,
  rememberMe: false,
  clientId: undefined,
  userId: undefined,
  businessId: undefined,
  ...overrides,
});

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  let result: unknown;
  try {
    result = await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error(`the renewal succeeded: ${JSON.stringify(result)}`);
}

async function expectRefusal(
  promise: Promise<unknown>,
  kind: DomainErrorKind,
  code: ErrorCodeName,
): Promise<DomainError> {
  const error = await refusal(promise);
  expect({ kind: error.kind, code: error.code }).toEqual({ kind, code });
  return error;
}

describe('RenewTokenUseCase: with the user access token', () => {
  it("re-issues the session's token with the user's roles now", async () => {
    const { useCase, sessions } = setup();
    const result = await useCase.execute(command());

    expect(result.refreshToken).toBeUndefined();
    expect(result.expiresAt).toEqual(at(15 * MINUTE));
    expect(result.scope).toEqual(['READ', 'WRITE']);
    const claims = decodeFakeToken(result.accessToken);
    expect(claims).toEqual({
      jti: uuidNumber(1),
      iss: 'https://iam.test',
      sub: 'u1',
      sid: 's1',
      client_id: 'c1',
      user_id: 'u1',
      business_id: null,
      scope: ['READ', 'WRITE'],
      authorities: U1_ALONE,
      claims_version: 4,
      iat: epoch(t0),
      nbf: epoch(t0),
      exp: epoch(at(15 * MINUTE)),
    });
    expect(sessions.get('s1')).toEqual({
      ...s1,
      authorities: U1_ALONE,
      claimsVersion: 4,
      revision: 4,
      tokenId: uuidNumber(1),
      tokenExpiresAt: at(15 * MINUTE),
    });
  });

  it('writes the session once, guarded by the revision it read, and publishes the update with an http cause', async () => {
    const { useCase, sessions } = setup();
    const result = await useCase.execute(command());
    expect(sessions.committed).toHaveLength(1);
    const write = sessions.committed[0]!;
    expect(write.expectedRevision).toBe(3);
    expect(write.refreshToken).toEqual({ issueHash: null, at: t0 });
    expect(write.update).toEqual({
      type: EventType.SessionTokenRenewed,
      sessionId: 's1',
      userId: 'u1',
      clientId: 'c1',
      businessId: null,
      accessToken: result.accessToken,
      expiresAt: at(15 * MINUTE),
      scope: ['READ', 'WRITE'],
      authorities: U1_ALONE,
      added: [
        'ROLE_CLI-1STPARTY',
        'ROLE_CLI-AUTH-IDENTIFIED',
        'ROLE_G-DEP',
        'ROLE_G-SVC',
        'ROLE_G-USER',
        'ROLE_PERSON',
      ],
      removed: ['ROLE_STALE'],
      claimsVersion: 4,
      cause: { kind: 'http' },
    });
  });

  it('loads the role facts of the principal only', async () => {
    const { useCase, roles } = setup();
    await useCase.execute(command());
    // Twice: s1's token was stale, so the facts are read again after the write.
    const principal = [{ userId: 'u1', clientId: 'c1', businessId: null }];
    expect(roles.loads).toEqual([principal, principal]);
  });

  it("accepts a user's token of a first-party application as the caller", async () => {
    const { useCase } = setup();
    const result = await useCase.execute(command({ callerToken: USER_CALLER_C1 }));
    expect(decodeFakeToken(result.accessToken).sid).toBe('s1');
  });

  it("refuses a user's token as the caller once its own session has ended", async () => {
    const { useCase } = setup();
    await expect(useCase.execute(command({ callerToken: ENDED_SESSION_CALLER_C1 }))).rejects.toMatchObject({
      kind: 'unauthenticated',
      code: 'INVALID_CALLER_TOKEN',
    });
  });

  it("refuses a user's token as the caller for another user's token", async () => {
    const { useCase } = setup();
    await expect(useCase.execute(command({ callerToken: OTHER_USER_CALLER_C1 }))).rejects.toMatchObject({
      kind: 'forbidden',
      code: 'NOT_THE_TOKEN_CLIENT',
    });
  });

  it('refuses to start a session for a user when the caller is a user token (impersonation)', async () => {
    const { useCase } = setup();
    await expect(
      useCase.execute(
        command({ callerToken: OTHER_USER_CALLER_C1, token: undefined, userId: 'u1', clientId: 'c1' }),
      ),
    ).rejects.toMatchObject({ kind: 'forbidden', code: 'APPLICATION_TOKEN_REQUIRED' });
  });

  it('accepts userId and clientId that name the token’s own session', async () => {
    const { useCase } = setup();
    const result = await useCase.execute(command({ userId: 'u1', clientId: 'c1' }));
    expect(decodeFakeToken(result.accessToken).user_id).toBe('u1');
  });

  it('issues a refresh token when the user chose remember-me, rotating out the current one', async () => {
    const { useCase, sessions } = setup({ session: s1Remembered, refreshTokens: [{ hash: hash(R1) }] });
    const result = await useCase.execute(command({ rememberMe: true }));
    expect(result.refreshToken).toMatch(UUID);
    expect(result.refreshToken).not.toBe(R1);
    expect(sessions.committed[0]!.refreshToken).toEqual({ issueHash: hash(result.refreshToken!), at: t0 });
    const tokens = sessions.refreshTokensOf('s1');
    expect(tokens.map((t) => [t.hash, t.rotatedAt])).toEqual([
      [hash(R1), t0],
      [hash(result.refreshToken!), null],
    ]);
  });

  it('uses the default scope when the client has no scopes of its own', async () => {
    const { useCase, verifier } = setup({ session: { ...s1, clientId: 'c2' } });
    verifier.accept(TOKEN_S1, userToken({ sessionId: 's1', userId: 'u1', clientId: 'c2' }));
    const result = await useCase.execute(command({ callerToken: APP_C2 }));
    expect(result.scope).toEqual(['DEFAULT']);
    expect(decodeFakeToken(result.accessToken).scope).toEqual(['DEFAULT']);
  });

  it('never raises the authentication level of the session', async () => {
    const { useCase, sessions } = setup();
    const result = await useCase.execute(command());
    expect(sessions.get('s1')!.authLevel).toBe('AUTH-BASIC');
    const authorities = decodeFakeToken(result.accessToken).authorities;
    expect(authorities).toContain('ROLE_AUTH-BASIC');
    expect(authorities).not.toContain('ROLE_AUTH-IDENTIFIED');
  });
});

describe('RenewTokenUseCase: with the refresh token', () => {
  it('renews the session of a current refresh token and rotates it', async () => {
    const { useCase, sessions } = setup({ session: s1Remembered, refreshTokens: [{ hash: hash(R1) }] });
    const result = await useCase.execute(command({ token: R1, rememberMe: true }));

    expect(decodeFakeToken(result.accessToken)).toMatchObject({
      sid: 's1',
      user_id: 'u1',
      claims_version: 4,
    });
    expect(result.refreshToken).toMatch(UUID);
    expect(await sessions.findByRefreshTokenHash(hash(R1))).toEqual({
      sessionId: 's1',
      rotatedAt: t0,
      latestRotated: true,
    });
    expect(await sessions.findByRefreshTokenHash(hash(result.refreshToken!))).toEqual({
      sessionId: 's1',
      rotatedAt: null,
      latestRotated: false,
    });
  });

  it('keeps the business the session acts for', async () => {
    const { useCase } = setup({
      session: { ...s1Remembered, businessId: 'bA' },
      refreshTokens: [{ hash: hash(R1) }],
    });
    const result = await useCase.execute(command({ token: R1, rememberMe: true }));
    const claims = decodeFakeToken(result.accessToken);
    expect(claims.business_id).toBe('bA');
    expect(claims.authorities).toEqual(U1_FOR_A);
  });

  it('issues no new refresh token without remember-me, and the old one stops being current', async () => {
    const { useCase, sessions } = setup({ session: s1Remembered, refreshTokens: [{ hash: hash(R1) }] });
    const result = await useCase.execute(command({ token: R1, rememberMe: false }));
    expect(result.refreshToken).toBeUndefined();
    expect(sessions.committed[0]!.refreshToken).toEqual({ issueHash: null, at: t0 });
    expect(sessions.refreshTokensOf('s1').map((t) => [t.hash, t.rotatedAt])).toEqual([[hash(R1), t0]]);
  });

  it('refuses an unknown refresh token: unauthenticated INVALID_REFRESH_TOKEN', async () => {
    const { useCase, sessions } = setup({ session: s1Remembered, refreshTokens: [{ hash: hash(R1) }] });
    await expectRefusal(
      useCase.execute(command({ token: R_UNKNOWN, rememberMe: true })),
      'unauthenticated',
      'INVALID_REFRESH_TOKEN',
    );
    expect(sessions.attempted).toHaveLength(0);
  });

  it("refuses another client's refresh token: forbidden NOT_THE_TOKEN_CLIENT", async () => {
    const { useCase, sessions } = setup({ session: s1Remembered, refreshTokens: [{ hash: hash(R1) }] });
    await expectRefusal(
      useCase.execute(command({ callerToken: APP_C2, token: R1, rememberMe: true })),
      'forbidden',
      'NOT_THE_TOKEN_CLIENT',
    );
    expect(sessions.attempted).toHaveLength(0);
  });

  it('refuses a rotated refresh token of another client without revoking the session', async () => {
    const { useCase, sessions } = setup({
      session: s1Remembered,
      refreshTokens: [{ hash: hash(R0), rotatedAt: at(-1 * HOUR) }],
    });
    await expectRefusal(
      useCase.execute(command({ callerToken: APP_C2, token: R0, rememberMe: true })),
      'forbidden',
      'NOT_THE_TOKEN_CLIENT',
    );
    expect(sessions.get('s1')!.status).toBe('ACTIVE');
  });

  it('refuses the current refresh token of a revoked session: precondition-failed SESSION_REVOKED', async () => {
    const revoked = {
      ...s1Remembered,
      status: 'REVOKED' as const,
      revokedReason: 'operator-request',
      revokedAt: at(-1),
    };
    const { useCase, sessions } = setup({ session: revoked, refreshTokens: [{ hash: hash(R1) }] });
    await expectRefusal(
      useCase.execute(command({ token: R1, rememberMe: true })),
      'precondition-failed',
      'SESSION_REVOKED',
    );
    expect(sessions.attempted).toHaveLength(0);
  });

  it('refuses the refresh token of a session past its lifetime: precondition-failed SESSION_EXPIRED', async () => {
    const expired = { ...s1Remembered, expiresAt: at(-1) };
    const { useCase, sessions } = setup({ session: expired, refreshTokens: [{ hash: hash(R1) }] });
    await expectRefusal(
      useCase.execute(command({ token: R1, rememberMe: true })),
      'precondition-failed',
      'SESSION_EXPIRED',
    );
    expect(sessions.attempted).toHaveLength(0);
  });

  it('switches the business with businessId', async () => {
    const { useCase, sessions } = setup({
      session: { ...s1Remembered, businessId: 'bA', authorities: U1_FOR_A },
      refreshTokens: [{ hash: hash(R1) }],
    });
    const result = await useCase.execute(command({ token: R1, rememberMe: true, businessId: 'bB' }));
    expect(decodeFakeToken(result.accessToken).authorities).toEqual(U1_FOR_B);
    expect(sessions.get('s1')!.businessId).toBe('bB');
  });
});

describe('RenewTokenUseCase: refresh-token reuse', () => {
  it('revokes the session when a rotated token comes back after the grace window', async () => {
    const { useCase, sessions } = setup({
      session: s1Remembered,
      refreshTokens: [{ hash: hash(R0), rotatedAt: at(-31_000) }, { hash: hash(R1) }],
    });
    await expectRefusal(
      useCase.execute(command({ token: R0, rememberMe: true })),
      'precondition-failed',
      'REFRESH_TOKEN_REUSED',
    );
    expect(sessions.committed).toHaveLength(1);
    const write = sessions.committed[0]!;
    expect(write.expectedRevision).toBe(3);
    expect(write.session).toEqual({
      ...s1Remembered,
      status: 'REVOKED',
      revokedReason: 'refresh-token-reused',
      revokedAt: t0,
      claimsVersion: 4,
      revision: 4,
    });
    expect(write.update).toEqual({
      type: EventType.SessionRevoked,
      sessionId: 's1',
      userId: 'u1',
      clientId: 'c1',
      reason: 'refresh-token-reused',
      claimsVersion: 4,
      cause: { kind: 'http' },
    });
    expect(sessions.get('s1')!.status).toBe('REVOKED');
  });

  it('refuses the current refresh token too once the family was revoked', async () => {
    const { useCase } = setup({
      session: s1Remembered,
      refreshTokens: [{ hash: hash(R0), rotatedAt: at(-31_000) }, { hash: hash(R1) }],
    });
    await refusal(useCase.execute(command({ token: R0, rememberMe: true })));
    await expectRefusal(
      useCase.execute(command({ token: R1, rememberMe: true })),
      'precondition-failed',
      'SESSION_REVOKED',
    );
  });

  it('accepts the latest rotated token again within the grace window (a retried request)', async () => {
    const { useCase, sessions, clock } = setup({
      session: s1Remembered,
      refreshTokens: [{ hash: hash(R1) }],
    });
    const first = await useCase.execute(command({ token: R1, rememberMe: true }));
    clock.advance(10_000);
    const retried = await useCase.execute(command({ token: R1, rememberMe: true }));

    expect(retried.refreshToken).toMatch(UUID);
    expect(retried.refreshToken).not.toBe(first.refreshToken);
    expect(sessions.get('s1')!.status).toBe('ACTIVE');
    expect(sessions.get('s1')!.claimsVersion).toBe(5);
    // The first response's refresh token was rotated out by the retry; the retry's is current.
    expect(await sessions.findByRefreshTokenHash(hash(first.refreshToken!))).toEqual({
      sessionId: 's1',
      rotatedAt: at(10_000),
      latestRotated: true,
    });
    expect((await sessions.findByRefreshTokenHash(hash(retried.refreshToken!)))?.rotatedAt).toBeNull();
  });

  it('accepts the latest rotated token exactly at the end of the grace window', async () => {
    const { useCase } = setup({
      session: s1Remembered,
      refreshTokens: [{ hash: hash(R1), rotatedAt: at(-30_000) }],
    });
    const result = await useCase.execute(command({ token: R1, rememberMe: true }));
    expect(result.refreshToken).toMatch(UUID);
  });

  it('refuses the latest rotated token one millisecond after the grace window', async () => {
    const { useCase, sessions } = setup({
      session: s1Remembered,
      refreshTokens: [{ hash: hash(R1), rotatedAt: at(-30_001) }],
    });
    await expectRefusal(
      useCase.execute(command({ token: R1, rememberMe: true })),
      'precondition-failed',
      'REFRESH_TOKEN_REUSED',
    );
    expect(sessions.get('s1')!.revokedReason).toBe('refresh-token-reused');
  });

  it('refuses an older rotated token even within the grace window, and revokes', async () => {
    const { useCase, sessions, clock } = setup({
      session: s1Remembered,
      refreshTokens: [{ hash: hash(R1) }],
    });
    const first = await useCase.execute(command({ token: R1, rememberMe: true }));
    clock.advance(5_000);
    await useCase.execute(command({ token: first.refreshToken, rememberMe: true }));
    clock.advance(5_000);
    // R1 was rotated 10 s ago, but it is no longer the latest rotated token.
    await expectRefusal(
      useCase.execute(command({ token: R1, rememberMe: true })),
      'precondition-failed',
      'REFRESH_TOKEN_REUSED',
    );
    expect(sessions.get('s1')).toMatchObject({ status: 'REVOKED', revokedReason: 'refresh-token-reused' });
  });

  it('refuses a rotated token of an already revoked session without writing again', async () => {
    const revoked = {
      ...s1Remembered,
      status: 'REVOKED' as const,
      revokedReason: 'user-locked',
      revokedAt: at(-1),
    };
    const { useCase, sessions } = setup({
      session: revoked,
      refreshTokens: [{ hash: hash(R0), rotatedAt: at(-1 * HOUR) }],
    });
    await expectRefusal(
      useCase.execute(command({ token: R0, rememberMe: true })),
      'precondition-failed',
      'REFRESH_TOKEN_REUSED',
    );
    expect(sessions.attempted).toHaveLength(0);
    expect(sessions.get('s1')!.revokedReason).toBe('user-locked');
  });

  it('retries the revocation when a concurrent write wins, then refuses', async () => {
    const { useCase, sessions } = setup({
      session: s1Remembered,
      refreshTokens: [{ hash: hash(R0), rotatedAt: at(-1 * HOUR) }],
    });
    sessions.interfere('s1', 1);
    await expectRefusal(
      useCase.execute(command({ token: R0, rememberMe: true })),
      'precondition-failed',
      'REFRESH_TOKEN_REUSED',
    );
    expect(sessions.attempted).toHaveLength(2);
    expect(sessions.committed).toHaveLength(1);
    expect(sessions.get('s1')).toMatchObject({ status: 'REVOKED', claimsVersion: 5 });
  });
});

describe('RenewTokenUseCase: identity-provider case (userId and clientId, no token)', () => {
  const idp = (overrides: Partial<RenewTokenCommand> = {}) =>
    command({ token: undefined, userId: 'u1', clientId: 'c1', ...overrides });

  it('starts a new session when the user has none with the client', async () => {
    const { useCase, sessions } = setup({ session: null });
    const result = await useCase.execute(idp());

    const created = sessions.all();
    expect(created).toHaveLength(1);
    const session = created[0]!;
    expect(session).toEqual({
      id: uuidNumber(1),
      userId: 'u1',
      clientId: 'c1',
      businessId: null,
      authLevel: 'AUTH-IDENTIFIED',
      rememberMe: false,
      status: 'ACTIVE',
      revokedReason: null,
      revokedAt: null,
      createdAt: t0,
      expiresAt: at(8 * HOUR),
      claimsVersion: 1,
      revision: 1,
      authorities: U1_ALONE.map((a) => (a === 'ROLE_AUTH-BASIC' ? 'ROLE_AUTH-IDENTIFIED' : a)).sort(),
      scope: ['READ', 'WRITE'],
      tokenId: uuidNumber(2),
      tokenExpiresAt: at(15 * MINUTE),
    });
    expect(sessions.committed[0]!.expectedRevision).toBeNull();
    expect(result.refreshToken).toBeUndefined();
    expect(decodeFakeToken(result.accessToken)).toMatchObject({ sid: uuidNumber(1), claims_version: 1 });
    expect(sessions.committed[0]!.update).toMatchObject({ added: session.authorities, removed: [] });
  });

  it('starts a remembered session with a refresh token when remember-me is chosen', async () => {
    const { useCase, sessions } = setup({ session: null });
    const result = await useCase.execute(idp({ rememberMe: true }));
    const session = sessions.all()[0]!;
    expect(session.rememberMe).toBe(true);
    expect(session.expiresAt).toEqual(at(30 * DAY));
    expect(result.refreshToken).toMatch(UUID);
    expect(await sessions.findByRefreshTokenHash(hash(result.refreshToken!))).toEqual({
      sessionId: session.id,
      rotatedAt: null,
      latestRotated: false,
    });
  });

  it('continues the live session of the user with the client', async () => {
    const { useCase, sessions } = setup({ session: { ...s1, businessId: 'bA' } });
    const result = await useCase.execute(idp());
    expect(sessions.all().map((s) => s.id)).toEqual(['s1']);
    expect(sessions.committed[0]!.expectedRevision).toBe(3);
    const claims = decodeFakeToken(result.accessToken);
    expect(claims).toMatchObject({ sid: 's1', claims_version: 4, business_id: 'bA' });
    expect(claims.authorities).toEqual(U1_FOR_A);
    // The continued session keeps its own level and lifetime.
    expect(sessions.get('s1')).toMatchObject({ authLevel: 'AUTH-BASIC', expiresAt: at(7 * HOUR) });
  });

  it('switches the continued session to businessId', async () => {
    const { useCase } = setup({ session: { ...s1, businessId: 'bA' } });
    const result = await useCase.execute(idp({ businessId: 'bB' }));
    expect(decodeFakeToken(result.accessToken).authorities).toEqual(U1_FOR_B);
  });

  it('starts a new session acting for businessId', async () => {
    const { useCase, sessions } = setup({ session: null });
    await useCase.execute(idp({ businessId: 'bA' }));
    expect(sessions.all()[0]!.businessId).toBe('bA');
  });

  it('does not continue a revoked or an expired session', async () => {
    for (const dead of [
      { ...s1, status: 'REVOKED' as const },
      { ...s1, expiresAt: t0 },
    ]) {
      const { useCase, sessions } = setup({ session: dead });
      await useCase.execute(idp());
      expect(sessions.all()).toHaveLength(2);
      expect(sessions.get('s1')).toEqual(dead);
      expect(sessions.committed[0]!.expectedRevision).toBeNull();
    }
  });

  it("does not continue the user's session with another client", async () => {
    const { useCase, sessions } = setup({ session: { ...s1, clientId: 'c2' } });
    await useCase.execute(idp());
    expect(sessions.all()).toHaveLength(2);
  });

  it.each([
    ['userId', { userId: undefined }],
    ['clientId', { clientId: undefined }],
    ['both', { userId: undefined, clientId: undefined }],
  ])('refuses a request without token and without %s: bad-request MISSING_PARAMETER', async (_, missing) => {
    const { useCase, sessions } = setup({ session: null });
    await expectRefusal(useCase.execute(idp(missing)), 'bad-request', 'MISSING_PARAMETER');
    expect(sessions.attempted).toHaveLength(0);
  });

  it('refuses an application starting a session for another client: forbidden NOT_THE_TOKEN_CLIENT', async () => {
    const { useCase, sessions } = setup({ session: null });
    await expectRefusal(useCase.execute(idp({ callerToken: APP_C2 })), 'forbidden', 'NOT_THE_TOKEN_CLIENT');
    expect(sessions.attempted).toHaveLength(0);
  });

  it('refuses a locked user: precondition-failed USER_LOCKED', async () => {
    const { useCase, sessions } = setup({ session: null });
    await expectRefusal(useCase.execute(idp({ userId: 'locked' })), 'precondition-failed', 'USER_LOCKED');
    expect(sessions.attempted).toHaveLength(0);
  });
});

describe('RenewTokenUseCase: refusals', () => {
  it.each([undefined, ''])(
    'refuses a missing bearer (%j): unauthenticated INVALID_CALLER_TOKEN',
    async (bearer) => {
      const { useCase, sessions } = setup();
      await expectRefusal(
        useCase.execute(command({ callerToken: bearer })),
        'unauthenticated',
        'INVALID_CALLER_TOKEN',
      );
      expect(sessions.attempted).toHaveLength(0);
    },
  );

  it('refuses a bearer that does not verify: unauthenticated INVALID_CALLER_TOKEN', async () => {
    const { useCase } = setup();
    await expectRefusal(
      useCase.execute(command({ callerToken: 'forged.caller.token' })),
      'unauthenticated',
      'INVALID_CALLER_TOKEN',
    );
  });

  it('refuses a caller whose client lacks the roles: forbidden CLIENT_REQUIREMENT_NOT_MET', async () => {
    const { useCase, sessions, verifier } = setup();
    await expectRefusal(
      useCase.execute(command({ callerToken: WEAK_CALLER })),
      'forbidden',
      'CLIENT_REQUIREMENT_NOT_MET',
    );
    expect(sessions.attempted).toHaveLength(0);
    expect(verifier.verified).toEqual([WEAK_CALLER]);
  });

  it("refuses another client's user token: forbidden NOT_THE_TOKEN_CLIENT", async () => {
    const { useCase, sessions } = setup();
    await expectRefusal(
      useCase.execute(command({ callerToken: APP_C2 })),
      'forbidden',
      'NOT_THE_TOKEN_CLIENT',
    );
    expect(sessions.attempted).toHaveLength(0);
  });

  it.each(['garbage.token.x', 'not a token', '', 'a.b', 'eyJ.eyJ.sig.extra'])(
    'refuses the token %j: unauthenticated INVALID_TOKEN',
    async (token) => {
      const { useCase, sessions } = setup();
      await expectRefusal(useCase.execute(command({ token })), 'unauthenticated', 'INVALID_TOKEN');
      expect(sessions.attempted).toHaveLength(0);
    },
  );

  it('refuses a client token presented as the user token: unauthenticated INVALID_TOKEN', async () => {
    const { useCase } = setup();
    await expectRefusal(
      useCase.execute(command({ token: TOKEN_OF_CLIENT })),
      'unauthenticated',
      'INVALID_TOKEN',
    );
  });

  it("refuses a token whose user is not its session's user: unauthenticated INVALID_TOKEN", async () => {
    const { useCase } = setup();
    await expectRefusal(
      useCase.execute(command({ token: TOKEN_S1_OTHER_USER })),
      'unauthenticated',
      'INVALID_TOKEN',
    );
  });

  it('refuses a token whose session does not exist: precondition-failed SESSION_NOT_FOUND', async () => {
    const { useCase } = setup();
    await expectRefusal(
      useCase.execute(command({ token: TOKEN_MISSING_SESSION })),
      'precondition-failed',
      'SESSION_NOT_FOUND',
    );
  });

  it('refuses the token of a revoked session: precondition-failed SESSION_REVOKED', async () => {
    const { useCase, sessions } = setup({
      session: { ...s1, status: 'REVOKED', revokedReason: 'user-locked', revokedAt: at(-1) },
    });
    await expectRefusal(useCase.execute(command()), 'precondition-failed', 'SESSION_REVOKED');
    expect(sessions.attempted).toHaveLength(0);
  });

  it('refuses the token of a session past its lifetime: precondition-failed SESSION_EXPIRED', async () => {
    const { useCase, sessions } = setup({ session: { ...s1, expiresAt: t0 } });
    await expectRefusal(useCase.execute(command()), 'precondition-failed', 'SESSION_EXPIRED');
    expect(sessions.attempted).toHaveLength(0);
  });

  it('refuses a locked user: precondition-failed USER_LOCKED', async () => {
    const { useCase, sessions } = setup({ session: { ...s1, id: 's2', userId: 'locked' } });
    await expectRefusal(useCase.execute(command({ token: TOKEN_S2 })), 'precondition-failed', 'USER_LOCKED');
    expect(sessions.attempted).toHaveLength(0);
  });

  it.each([
    ['a business the user does not belong to', 'bForeign'],
    ['an inactive business', 'bInactive'],
    ['an unknown business', 'bUnknown'],
  ])('refuses businessId of %s: precondition-failed NOT_A_BUSINESS_MEMBER', async (_, businessId) => {
    const { useCase, sessions } = setup();
    await expectRefusal(
      useCase.execute(command({ businessId })),
      'precondition-failed',
      'NOT_A_BUSINESS_MEMBER',
    );
    expect(sessions.attempted).toHaveLength(0);
  });

  it('refuses a token of a business the user has left: precondition-failed NOT_A_BUSINESS_MEMBER', async () => {
    const { useCase, roles } = setup({ session: { ...s1, businessId: 'bA' } });
    roles.setFacts({ ...facts, memberships: facts.memberships!.filter((m) => m.businessId !== 'bA') });
    await expectRefusal(
      useCase.execute(command({ token: TOKEN_S1_BIZ_A })),
      'precondition-failed',
      'NOT_A_BUSINESS_MEMBER',
    );
  });

  it('refuses a userId that is not the token’s user: bad-request CONFLICTING_PARAMETERS', async () => {
    const { useCase, sessions } = setup();
    await expectRefusal(
      useCase.execute(command({ userId: 'someone-else' })),
      'bad-request',
      'CONFLICTING_PARAMETERS',
    );
    expect(sessions.attempted).toHaveLength(0);
  });

  it('refuses a clientId that is not the token’s client: bad-request CONFLICTING_PARAMETERS', async () => {
    const { useCase } = setup();
    await expectRefusal(
      useCase.execute(command({ clientId: 'c2' })),
      'bad-request',
      'CONFLICTING_PARAMETERS',
    );
  });

  it('refuses a userId that is not the refresh token’s user: bad-request CONFLICTING_PARAMETERS', async () => {
    const { useCase } = setup({ session: s1Remembered, refreshTokens: [{ hash: hash(R1) }] });
    await expectRefusal(
      useCase.execute(command({ token: R1, rememberMe: true, userId: 'someone-else' })),
      'bad-request',
      'CONFLICTING_PARAMETERS',
    );
  });

  it('lets errors other than token rejections through unchanged', async () => {
    const { useCase, verifier } = setup();
    const failure = new Error('key store unavailable');
    verifier.verify = async () => {
      throw failure;
    };
    await expect(useCase.execute(command())).rejects.toBe(failure);
  });
});

describe('RenewTokenUseCase: business switch', () => {
  const actingForA: Session = { ...s1, businessId: 'bA', authorities: U1_FOR_A };

  it("switches with businessId: A's roles leave, B's arrive", async () => {
    const { useCase, sessions } = setup({ session: actingForA });
    const result = await useCase.execute(command({ token: TOKEN_S1_BIZ_A, businessId: 'bB' }));
    const claims = decodeFakeToken(result.accessToken);
    expect(claims.business_id).toBe('bB');
    expect(claims.authorities).toEqual(U1_FOR_B);
    expect(sessions.get('s1')!.businessId).toBe('bB');
    expect(sessions.committed[0]!.update).toMatchObject({
      businessId: 'bB',
      added: ['ROLE_BIZ-B', 'ROLE_BUSINESSUSER'],
      removed: ['ROLE_BIZ-A', 'ROLE_BUSINESSOWNER', 'ROLE_G-BIZ-A'],
    });
  });

  it('switches when the token carries another business than the session (promotion)', async () => {
    const { useCase, sessions } = setup({ session: actingForA });
    const result = await useCase.execute(command({ token: TOKEN_S1_BIZ_B }));
    expect(decodeFakeToken(result.accessToken)).toMatchObject({ business_id: 'bB', authorities: U1_FOR_B });
    expect(sessions.get('s1')!.businessId).toBe('bB');
  });

  it('starts acting for a business from a session acting for the user alone', async () => {
    const { useCase } = setup();
    const result = await useCase.execute(command({ businessId: 'bA' }));
    expect(decodeFakeToken(result.accessToken)).toMatchObject({ business_id: 'bA', authorities: U1_FOR_A });
  });

  it('keeps the business when the token carries the session’s business', async () => {
    const { useCase } = setup({ session: actingForA });
    const result = await useCase.execute(command({ token: TOKEN_S1_BIZ_A }));
    expect(decodeFakeToken(result.accessToken)).toMatchObject({ business_id: 'bA', authorities: U1_FOR_A });
  });

  it('prefers businessId over the business of the token', async () => {
    const { useCase } = setup({ session: actingForA });
    const result = await useCase.execute(command({ token: TOKEN_S1_BIZ_B, businessId: 'bA' }));
    expect(decodeFakeToken(result.accessToken).business_id).toBe('bA');
  });
});

describe('RenewTokenUseCase: session lifetime', () => {
  it('never extends an ordinary session, even with remember-me', async () => {
    const { useCase, sessions } = setup();
    await useCase.execute(command({ rememberMe: true }));
    expect(sessions.get('s1')!.expiresAt).toEqual(at(7 * HOUR));
  });

  it('keeps the end of a remembered session renewed with remember-me', async () => {
    const { useCase, sessions, clock } = setup({ session: s1Remembered });
    clock.advance(10 * DAY);
    await useCase.execute(command({ rememberMe: true }));
    expect(sessions.get('s1')!.expiresAt).toEqual(at(30 * DAY - 1 * HOUR));
  });

  it('shortens a remembered session to the ordinary lifetime when remember-me is dropped', async () => {
    const { useCase, sessions } = setup({ session: s1Remembered });
    await useCase.execute(command({ rememberMe: false }));
    expect(sessions.get('s1')!.expiresAt).toEqual(at(7 * HOUR));
  });

  it('lets the access token end with the session', async () => {
    const { useCase } = setup({ session: { ...s1, expiresAt: at(5 * MINUTE) } });
    const result = await useCase.execute(command());
    expect(result.expiresAt).toEqual(at(5 * MINUTE));
    expect(decodeFakeToken(result.accessToken).exp).toBe(epoch(at(5 * MINUTE)));
  });

  it('does not issue an already expired token when dropping remember-me ends the session', async () => {
    // Remembered for two days: without remember-me its lifetime (8 h from its start) is already over.
    const old: Session = { ...s1Remembered, createdAt: at(-2 * DAY), expiresAt: at(28 * DAY) };
    const { useCase, sessions } = setup({ session: old });
    await expectRefusal(
      useCase.execute(command({ rememberMe: false })),
      'precondition-failed',
      'SESSION_EXPIRED',
    );
    expect(sessions.committed).toHaveLength(0);
  });
});

describe('RenewTokenUseCase: concurrent renewals', () => {
  it('retries on the newer state when a concurrent write wins once', async () => {
    const { useCase, sessions } = setup();
    sessions.interfere('s1', 1);
    const result = await useCase.execute(command());
    expect(sessions.attempted.map((w) => w.expectedRevision)).toEqual([3, 4]);
    expect(sessions.committed).toHaveLength(1);
    expect(sessions.get('s1')!.claimsVersion).toBe(5);
    expect(decodeFakeToken(result.accessToken).claims_version).toBe(5);
  });

  it('succeeds on the fifth attempt after four lost writes', async () => {
    const { useCase, sessions } = setup();
    sessions.interfere('s1', 4);
    await useCase.execute(command());
    expect(sessions.attempted).toHaveLength(5);
    expect(sessions.get('s1')!.claimsVersion).toBe(8);
  });

  it('gives up after five lost writes: precondition-failed CONCURRENT_RENEWAL', async () => {
    const { useCase, sessions } = setup();
    sessions.interfere('s1', 5);
    await expectRefusal(useCase.execute(command()), 'precondition-failed', 'CONCURRENT_RENEWAL');
    expect(sessions.attempted).toHaveLength(5);
    expect(sessions.committed).toHaveLength(0);
  });

  it('compare-and-sets on the revision, not the claims version, of a session confirmed since its last token', async () => {
    const { useCase, sessions } = setup({ session: { ...s1, revision: 9 } });
    await useCase.execute(command());
    expect(sessions.committed.map((write) => [write.expectedRevision, write.session.revision])).toEqual([
      [9, 10],
    ]);
    expect(sessions.get('s1')).toMatchObject({ claimsVersion: 4, revision: 10 });
  });

  it('re-reads the session on each attempt (a concurrent revocation is seen)', async () => {
    const { useCase, sessions } = setup();
    sessions.interfere('s1', 1, (stored) => ({
      ...stored,
      status: 'REVOKED',
      revokedReason: 'user-locked',
      claimsVersion: stored.claimsVersion + 1,
    }));
    await expectRefusal(useCase.execute(command()), 'precondition-failed', 'SESSION_REVOKED');
    expect(sessions.committed).toHaveLength(0);
  });

  it('retries a refresh-token renewal on a lost write and rotates once', async () => {
    const { useCase, sessions } = setup({ session: s1Remembered, refreshTokens: [{ hash: hash(R1) }] });
    sessions.interfere('s1', 1);
    const result = await useCase.execute(command({ token: R1, rememberMe: true }));
    expect(sessions.committed).toHaveLength(1);
    expect(sessions.refreshTokensOf('s1').map((t) => [t.hash, t.rotatedAt])).toEqual([
      [hash(R1), t0],
      [hash(result.refreshToken!), null],
    ]);
  });
});

describe('RenewTokenUseCase: a role change committed while the session entered a new scope', () => {
  const idp = (overrides: Partial<RenewTokenCommand> = {}) =>
    command({ token: undefined, userId: 'u1', clientId: 'c1', ...overrides });
  const withoutPerson: RoleFacts = { ...facts, users: { ...facts.users, u1: { roles: ['USER'] } } };
  const U1_IDP = U1_ALONE.map((a) => (a === 'ROLE_AUTH-BASIC' ? 'ROLE_AUTH-IDENTIFIED' : a)).sort();
  const U1_IDP_WITHOUT_PERSON = U1_IDP.filter((a) => a !== 'ROLE_PERSON');

  it('reads the facts once more after creating a session, and writes nothing more when they held', async () => {
    const { useCase, sessions, roles } = setup({ session: null });
    const result = await useCase.execute(idp());
    expect(roles.loads).toHaveLength(2);
    expect(sessions.committed).toHaveLength(1);
    expect(decodeFakeToken(result.accessToken)).toMatchObject({ claims_version: 1, authorities: U1_IDP });
  });

  it('reads the facts once for a renewal that changes nothing but the token', async () => {
    const { useCase, roles, sessions } = setup({ session: { ...s1, authorities: U1_ALONE } });
    await useCase.execute(command());
    expect(roles.loads).toHaveLength(1);
    expect(sessions.committed).toHaveLength(1);
  });

  it('a role revoked between the read and the write of a renewal that changed the authorities: re-issued without it', async () => {
    // s1's token lacks roles u1 holds now; PERSON is revoked just after this renewal read them.
    const { useCase, sessions, roles } = setup();
    roles.changeAfterNextLoad(withoutPerson);
    const result = await useCase.execute(command());
    const withoutPersonNow = U1_ALONE.filter((a) => a !== 'ROLE_PERSON');
    expect(decodeFakeToken(result.accessToken)).toMatchObject({
      claims_version: 5,
      authorities: withoutPersonNow,
    });
    expect(sessions.committed.map((write) => write.session.authorities)).toEqual([
      U1_ALONE,
      withoutPersonNow,
    ]);
    expect(roles.loads).toHaveLength(3);
  });

  it('a role revoked meanwhile: the new session is re-issued without it and the caller gets that token', async () => {
    const { useCase, sessions, roles } = setup({ session: null });
    roles.changeAfterNextLoad(withoutPerson);
    const result = await useCase.execute(idp({ rememberMe: true }));

    expect(decodeFakeToken(result.accessToken)).toMatchObject({
      claims_version: 2,
      authorities: U1_IDP_WITHOUT_PERSON,
    });
    expect(sessions.committed.map((write) => write.expectedRevision)).toEqual([null, 1]);
    expect(sessions.committed[1]!.update).toMatchObject({ added: [], removed: ['ROLE_PERSON'] });
    // The refresh token handed out with the session stays its current one.
    expect(sessions.committed[1]!.refreshToken).toBeNull();
    expect(await sessions.findByRefreshTokenHash(hash(result.refreshToken!))).toMatchObject({
      rotatedAt: null,
    });
  });

  it('the user locked meanwhile: the new session is revoked, precondition-failed USER_LOCKED', async () => {
    const { useCase, sessions, roles } = setup({ session: null });
    roles.changeAfterNextLoad({ ...facts, users: { ...facts.users, u1: { locked: true, roles: ['USER'] } } });
    await expectRefusal(useCase.execute(idp()), 'precondition-failed', 'USER_LOCKED');
    expect(sessions.all()).toMatchObject([{ status: 'REVOKED', revokedReason: 'user-locked' }]);
  });

  it('the membership removed while switching to the business: the session acts for the user alone, NOT_A_BUSINESS_MEMBER', async () => {
    const { useCase, sessions, roles } = setup();
    roles.changeAfterNextLoad({
      ...facts,
      memberships: facts.memberships!.filter((membership) => membership.businessId !== 'bA'),
    });
    await expectRefusal(
      useCase.execute(command({ businessId: 'bA' })),
      'precondition-failed',
      'NOT_A_BUSINESS_MEMBER',
    );
    // Read, switch, read again, fall back, read again.
    expect(roles.loads).toHaveLength(3);
    expect(sessions.get('s1')).toMatchObject({ businessId: null, authorities: U1_ALONE, claimsVersion: 5 });
  });

  it('a fan-out takes the session out of the business before the confirmation writes: NOT_A_BUSINESS_MEMBER', async () => {
    const { useCase, sessions, roles } = setup();
    roles.changeAfterNextLoad({
      ...facts,
      memberships: facts.memberships!.filter((membership) => membership.businessId !== 'bA'),
    });
    // The membership removal's fan-out writes the session just before this renewal's second write.
    const write = sessions.write.bind(sessions);
    let writes = 0;
    sessions.write = async (change) => {
      writes += 1;
      if (writes === 2) {
        sessions.interfere('s1', 1, (stored) => ({
          ...stored,
          businessId: null,
          authorities: U1_ALONE,
          claimsVersion: stored.claimsVersion + 1,
        }));
      }
      return write(change);
    };
    await expectRefusal(
      useCase.execute(command({ businessId: 'bA' })),
      'precondition-failed',
      'NOT_A_BUSINESS_MEMBER',
    );
    expect(sessions.get('s1')).toMatchObject({ businessId: null, authorities: U1_ALONE });
  });

  it('a fan-out only confirms the session meanwhile: the caller keeps its token, no spare one is issued', async () => {
    // PERSON is revoked just after this renewal read the facts, and granted again while a
    // fan-out confirms the new session (same token, next revision) ahead of the renewal's re-issue.
    const { useCase, sessions, roles } = setup({ session: null });
    roles.changeAfterNextLoad(withoutPerson);
    const write = sessions.write.bind(sessions);
    let writes = 0;
    sessions.write = async (change) => {
      writes += 1;
      if (writes === 2) {
        sessions.interfere(uuidNumber(1), 1, (stored) => stored);
        roles.setFacts(facts);
      }
      return write(change);
    };
    const result = await useCase.execute(idp());
    expect(sessions.committed).toHaveLength(1);
    expect(decodeFakeToken(result.accessToken)).toMatchObject({ claims_version: 1, authorities: U1_IDP });
    expect(sessions.get(uuidNumber(1))).toMatchObject({ claimsVersion: 1, revision: 2 });
  });

  it('a fan-out re-issues the new session first: the caller gets a token of what the fan-out left', async () => {
    const { useCase, sessions, roles } = setup({ session: null });
    roles.changeAfterNextLoad(withoutPerson);
    sessions.interfere(uuidNumber(1), 1, (stored) => ({
      ...stored,
      claimsVersion: stored.claimsVersion + 1,
      authorities: U1_IDP_WITHOUT_PERSON,
      tokenId: 'fan-out-token',
    }));
    const result = await useCase.execute(idp());
    expect(decodeFakeToken(result.accessToken)).toMatchObject({
      claims_version: 3,
      authorities: U1_IDP_WITHOUT_PERSON,
    });
    expect(sessions.attempted.map((write) => write.expectedRevision)).toEqual([null, 1, 2]);
    expect(sessions.get(uuidNumber(1))!.claimsVersion).toBe(3);
  });
});
