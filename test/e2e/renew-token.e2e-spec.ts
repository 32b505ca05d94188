import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, publish } from '../support/events';
import { loginClient, renewToken, type TokenResponse } from '../support/http';
import { decodeJwt, nowSeconds, type JsonWebKeySet } from '../support/jwt';
import { TopicReader } from '../support/kafka';
import {
  authMeId,
  expectAuthMeError,
  KEYS_PATH,
  openSealedToken,
  registerClient,
  renewOk,
  sessionUpdates,
  sleep,
  UUID,
  waitUntil,
  type SessionUpdateRecord,
} from '../support/renewal';
import {
  createDeployment,
  destroyDeployment,
  runCli,
  ServiceInstance,
  type Deployment,
} from '../support/service';

/**
 * Renew Token over HTTP against the built service: the three ways in, the
 * response and token format, the role model, business switches, refresh-token
 * rotation and reuse, the session's lifetime, and the session-update topic.
 */

const REUSE_GRACE_MS = 2_000;
const SESSION_TTL_S = 4;

const WEB = { id: 'shop-web', secret: 'shop-web-secret-0123456789', service: 'svc-shop' };
const WEB_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'CLI-SHOP'];
const WEB_SCOPES = ['READ', 'WRITE', 'PROFILE'];
// A second client of the same service: it observes when role facts have arrived without touching WEB's sessions.
const PROBE = { id: 'shop-probe', secret: 'shop-probe-secret-0123456789' };
const PROBE_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'];

const authorities = (...roles: string[]) => roles.map((role) => `ROLE_${role}`).sort();

interface Issued {
  readonly response: TokenResponse;
  readonly claims: Record<string, unknown>;
}

describe('Renew Token (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let updates: TopicReader;
  let jwks: JsonWebKeySet;
  let appToken: string;
  let probeToken: string;
  const issued: Issued[] = [];

  // Users and businesses of this file (ids are opaque; AuthMe's are 24-hex).
  const rich = authMeId(); // own roles, groups with dependencies, two businesses
  const plain = authMeId(); // identity-provider start and continuation
  const rotating = authMeId(); // refresh-token rotation and reuse
  const shortLived = authMeId(); // session lifetime
  const racer = authMeId(); // concurrent renewals (no role events: nothing else touches its session)
  const b1 = authMeId();
  const b2 = authMeId();
  const stranger = authMeId(); // a business the user does not belong to
  const groups = {
    user: authMeId(),
    dependency: authMeId(),
    deep: authMeId(),
    service: authMeId(),
    business: authMeId(),
    unrelated: authMeId(),
  };

  const ownRoles = ['USER', 'PERSON'];
  const groupRoles = ['GROUP-USER', 'GROUP-DEPENDENCY', 'GROUP-DEEP'];
  const serviceGroupRoles = ['GROUP-SERVICE'];
  const richBase = [...ownRoles, ...groupRoles, ...serviceGroupRoles, 'AUTH-BASIC'];
  const inB1 = ['BUSINESSOWNER', 'BUSINESS', 'B1-ROLE', 'GROUP-B1'];
  const inB2 = ['BUSINESSUSER', 'BUSINESS', 'B2-ROLE'];

  /** Renews, expects 200, and remembers the token for the session-update checks. */
  async function issue(caller: string, query: Record<string, string>): Promise<Issued> {
    const response = await renewOk(service, caller, query);
    const result = { response, claims: decodeJwt(response.accessToken).payload };
    issued.push(result);
    return result;
  }

  /** The response and token format every successful renewal must have. */
  function expectWellFormed(
    issuedToken: Issued,
    expected: { userId: string; businessId: string | null; rememberMe: boolean },
  ): void {
    const { response, claims } = issuedToken;
    expect(Object.keys(response).sort()).toEqual(
      expected.rememberMe
        ? ['accessToken', 'expiresIn', 'refreshToken', 'scope', 'tokenType']
        : ['accessToken', 'expiresIn', 'scope', 'tokenType'],
    );
    expect(response.tokenType).toBe('Bearer');
    if (expected.rememberMe) expect(response.refreshToken).toMatch(UUID);
    expect(typeof response.expiresIn).toBe('string');
    expect(response.expiresIn).toMatch(/^\d+$/);
    expect(Number(response.expiresIn)).toBe(claims.exp);
    expect(response.scope).toEqual(WEB_SCOPES);

    const jwt = decodeJwt(response.accessToken);
    expect(jwt.header.alg).toBe('RS512');
    expect(jwt.header.typ).toBe('JWT');
    expect(typeof jwt.header.kid).toBe('string');
    expect(jwks.keys.map((key) => key.kid)).toContain(jwt.header.kid);
    // `jti` is the first claim, in the serialised JSON itself.
    expect(jwt.rawPayload.startsWith('{"jti":')).toBe(true);
    expect(Object.keys(claims)[0]).toBe('jti');
    expect(Object.keys(claims)).toEqual(
      expect.arrayContaining([
        'jti',
        'iss',
        'sub',
        'sid',
        'client_id',
        'user_id',
        'business_id',
        'scope',
        'authorities',
        'claims_version',
        'iat',
        'nbf',
        'exp',
      ]),
    );
    expect(typeof claims.jti).toBe('string');
    expect(claims.iss).toBe(deployment.env.TOKEN_ISSUER);
    expect(claims.sub).toBe(expected.userId);
    expect(claims.user_id).toBe(expected.userId);
    expect(claims.sid).toMatch(UUID);
    expect(claims.client_id).toBe(WEB.id);
    expect(claims.business_id ?? null).toBe(expected.businessId);
    expect(claims.scope).toEqual(response.scope);
    const list = claims.authorities as string[];
    expect(list.every((authority) => authority.startsWith('ROLE_'))).toBe(true);
    expect(new Set(list).size).toBe(list.length);
    expect(Number.isInteger(claims.claims_version)).toBe(true);
    const iat = claims.iat as number;
    expect(Math.abs(iat - nowSeconds())).toBeLessThanOrEqual(5);
    expect(claims.nbf).toBeLessThanOrEqual(iat);
    expect(claims.exp).toBeGreaterThan(iat);
  }

  const sorted = (value: unknown) => [...(value as string[])].sort();

  /** Waits until a renewal through the probe client shows the expected roles (the events were applied). */
  async function waitForRoles(userId: string, roles: string[], businessId?: string): Promise<void> {
    const expected = authorities(...PROBE_ROLES, ...roles);
    await waitUntil(`the roles of ${userId}${businessId ? ` in ${businessId}` : ''}`, async () => {
      const token = await renewOk(service, probeToken, {
        userId,
        clientId: PROBE.id,
        'remember-me': 'true',
        ...(businessId ? { businessId } : {}),
      });
      const actual = sorted(decodeJwt(token.accessToken).payload.authorities);
      return JSON.stringify(actual) === JSON.stringify(expected) ? true : undefined;
    });
  }

  beforeAll(async () => {
    deployment = await createDeployment('renew', {
      REFRESH_TOKEN_REUSE_GRACE: `${REUSE_GRACE_MS}ms`,
      SESSION_TTL: `${SESSION_TTL_S}s`,
    });
    service = await ServiceInstance.start(deployment);
    updates = await TopicReader.open(deployment.topics.sessionUpdates);
    await Promise.all([
      registerClient(deployment, { ...WEB, roles: WEB_ROLES, scopes: WEB_SCOPES }),
      registerClient(deployment, { ...PROBE, roles: PROBE_ROLES, service: WEB.service }),
    ]);

    await publish(deployment.topics.roleChanges, [
      events.userRoleGranted(rich, 'USER'),
      events.userRoleGranted(rich, 'PERSON'),
      ...[plain, rotating, shortLived].map((user) => events.userRoleGranted(user, 'USER')),
      // rich → user group → dependency → deep → back to the user group (a cycle).
      events.groupMemberAdded(groups.user, 'USER', rich),
      events.groupRoleGranted(groups.user, 'GROUP-USER'),
      events.groupDependencyAdded(groups.user, groups.dependency),
      events.groupRoleGranted(groups.dependency, 'GROUP-DEPENDENCY'),
      events.groupDependencyAdded(groups.dependency, groups.deep),
      events.groupRoleGranted(groups.deep, 'GROUP-DEEP'),
      events.groupDependencyAdded(groups.deep, groups.user),
      events.groupMemberAdded(groups.service, 'SERVICE', WEB.service),
      events.groupRoleGranted(groups.service, 'GROUP-SERVICE'),
      events.groupMemberAdded(groups.business, 'BUSINESS', b1),
      events.groupRoleGranted(groups.business, 'GROUP-B1'),
      // A group of someone else and of a business nobody here acts for: its role must never appear.
      events.groupMemberAdded(groups.unrelated, 'USER', authMeId()),
      events.groupMemberAdded(groups.unrelated, 'BUSINESS', stranger),
      events.groupRoleGranted(groups.unrelated, 'GROUP-UNRELATED'),
    ]);
    await publish(deployment.topics.businessChanges, [
      events.businessRoleGranted(b1, 'B1-ROLE'),
      events.businessMemberAdded(b1, rich, ['BUSINESSOWNER']),
      events.businessRoleGranted(b2, 'B2-ROLE'),
      events.businessMemberAdded(b2, rich, ['BUSINESSUSER']),
      events.businessRoleGranted(stranger, 'STRANGER-ROLE'),
    ]);

    ({ accessToken: appToken } = await loginClient(service, WEB.id, WEB.secret));
    ({ accessToken: probeToken } = await loginClient(service, PROBE.id, PROBE.secret));
    await Promise.all([
      waitForRoles(rich, [...ownRoles, ...groupRoles, ...serviceGroupRoles, 'AUTH-BASIC']),
      waitForRoles(plain, ['USER', ...serviceGroupRoles, 'AUTH-BASIC']),
      waitForRoles(rotating, ['USER', ...serviceGroupRoles, 'AUTH-BASIC']),
      waitForRoles(shortLived, ['USER', ...serviceGroupRoles, 'AUTH-BASIC']),
    ]);
    await waitForRoles(rich, [...richBase, ...inB1], b1);
    await waitForRoles(rich, [...richBase, ...inB2], b2);
    jwks = (await (await service.fetch(KEYS_PATH)).json()) as JsonWebKeySet;
  });

  afterAll(async () => {
    await updates?.close();
    await service?.stop();
    if (deployment) await destroyDeployment(deployment);
  });

  it('starts a session in the identity-provider case and continues it; no refresh token without remember-me', async () => {
    const response = await renewToken(service, appToken, {
      userId: plain,
      clientId: WEB.id,
      'remember-me': 'false',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toContain('no-store');
    const body = (await response.json()) as TokenResponse;
    const started = { response: body, claims: decodeJwt(body.accessToken).payload };
    issued.push(started);
    expectWellFormed(started, { userId: plain, businessId: null, rememberMe: false });
    expect(started.claims.claims_version).toBe(1);
    expect(sorted(started.claims.authorities)).toEqual(
      authorities(...WEB_ROLES, 'AUTH-BASIC', 'USER', ...serviceGroupRoles),
    );

    const continued = await issue(appToken, { userId: plain, clientId: WEB.id, 'remember-me': 'true' });
    expectWellFormed(continued, { userId: plain, businessId: null, rememberMe: true });
    expect(continued.claims.sid).toBe(started.claims.sid);
    expect(continued.claims.claims_version).toBe(2);
    expect(continued.claims.jti).not.toBe(started.claims.jti);
  });

  it("renews the user's access token into a new one of the same session, one claims version later", async () => {
    const start = await issue(appToken, { userId: rich, clientId: WEB.id, 'remember-me': 'true' });
    expectWellFormed(start, { userId: rich, businessId: null, rememberMe: true });

    const response = await renewToken(service, appToken, {
      token: start.response.accessToken,
      'remember-me': 'true',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toContain('no-store');
    const body = (await response.json()) as TokenResponse;
    const renewed = { response: body, claims: decodeJwt(body.accessToken).payload };
    issued.push(renewed);
    expectWellFormed(renewed, { userId: rich, businessId: null, rememberMe: true });
    expect(body.accessToken).not.toBe(start.response.accessToken);
    expect(renewed.claims.jti).not.toBe(start.claims.jti);
    expect(renewed.claims.sid).toBe(start.claims.sid);
    expect(renewed.claims.claims_version).toBe((start.claims.claims_version as number) + 1);
    expect(body.refreshToken).not.toBe(start.response.refreshToken);

    // A user's token issued to a first-party application may itself be the caller, for that user.
    const self = await issue(body.accessToken, { token: body.accessToken, 'remember-me': 'true' });
    expect(self.claims.sid).toBe(start.claims.sid);
    expect(self.claims.claims_version).toBe((renewed.claims.claims_version as number) + 1);
  });

  it("carries the client's roles, AUTH-BASIC, the user's roles and every group's roles (dependencies, cycles, the client's service)", async () => {
    const token = await issue(appToken, { userId: rich, clientId: WEB.id, 'remember-me': 'true' });
    expect(sorted(token.claims.authorities)).toEqual(authorities(...WEB_ROLES, ...richBase));
    expect(token.claims.authorities).not.toContain('ROLE_GROUP-UNRELATED');
    expect(token.claims.authorities).not.toContain('ROLE_BUSINESS');
  });

  it("acting for a business adds its membership's roles, BUSINESS, its roles and its groups'; a switch replaces them", async () => {
    const start = await issue(appToken, { userId: rich, clientId: WEB.id, 'remember-me': 'true' });

    const forB1 = await issue(appToken, {
      token: start.response.accessToken,
      'remember-me': 'true',
      businessId: b1,
    });
    expectWellFormed(forB1, { userId: rich, businessId: b1, rememberMe: true });
    expect(sorted(forB1.claims.authorities)).toEqual(authorities(...WEB_ROLES, ...richBase, ...inB1));
    expect(forB1.claims.sid).toBe(start.claims.sid);

    const forB2 = await issue(appToken, {
      token: forB1.response.accessToken,
      'remember-me': 'true',
      businessId: b2,
    });
    expectWellFormed(forB2, { userId: rich, businessId: b2, rememberMe: true });
    expect(sorted(forB2.claims.authorities)).toEqual(authorities(...WEB_ROLES, ...richBase, ...inB2));
    for (const gone of authorities('BUSINESSOWNER', 'B1-ROLE', 'GROUP-B1')) {
      expect(forB2.claims.authorities).not.toContain(gone);
    }

    // Without businessId the session keeps acting for its business, through either kind of token.
    const kept = await issue(appToken, { token: forB2.response.accessToken, 'remember-me': 'true' });
    expect(kept.claims.business_id).toBe(b2);
    expect(sorted(kept.claims.authorities)).toEqual(sorted(forB2.claims.authorities));
    const viaRefresh = await issue(appToken, { token: kept.response.refreshToken!, 'remember-me': 'true' });
    expect(viaRefresh.claims.business_id).toBe(b2);
    expect(viaRefresh.claims.claims_version).toBe((kept.claims.claims_version as number) + 1);

    // A business the user does not belong to is refused, and the session stays as it was.
    await expectAuthMeError(
      await renewToken(service, appToken, {
        token: viaRefresh.response.accessToken,
        'remember-me': 'true',
        businessId: stranger,
      }),
      412,
      'NOT_A_BUSINESS_MEMBER',
    );
    const after = await issue(appToken, { token: viaRefresh.response.accessToken, 'remember-me': 'true' });
    expect(after.claims.business_id).toBe(b2);
  });

  it('serves concurrent renewals of one session, each with its own claims version', async () => {
    const start = await issue(appToken, { userId: racer, clientId: WEB.id, 'remember-me': 'true' });
    const sameAccessToken = await Promise.all(
      Array.from({ length: 4 }, () =>
        issue(appToken, { token: start.response.accessToken, 'remember-me': 'true' }),
      ),
    );
    const versions = sameAccessToken
      .map((token) => token.claims.claims_version as number)
      .sort((a, b) => a - b);
    const first = (start.claims.claims_version as number) + 1;
    expect(versions).toEqual([first, first + 1, first + 2, first + 3]);
    expect(new Set(sameAccessToken.map((token) => token.claims.sid))).toEqual(new Set([start.claims.sid]));

    // Two clients racing with the same refresh token: the loser's token is the previous one, within the grace.
    const latest = sameAccessToken.find((token) => token.claims.claims_version === first + 3)!;
    const racing = await Promise.all(
      [1, 2].map(() => issue(appToken, { token: latest.response.refreshToken!, 'remember-me': 'true' })),
    );
    expect(racing.map((token) => token.claims.claims_version).sort()).toEqual([first + 4, first + 5]);
  });

  let rotation: { sid: unknown; r1: Issued; r2: Issued; r3: Issued };

  it('renews with the refresh token, rotating it; the previous one still works within the grace window', async () => {
    const r1 = await issue(appToken, { userId: rotating, clientId: WEB.id, 'remember-me': 'true' });
    expectWellFormed(r1, { userId: rotating, businessId: null, rememberMe: true });

    const r2 = await issue(appToken, { token: r1.response.refreshToken!, 'remember-me': 'true' });
    expectWellFormed(r2, { userId: rotating, businessId: null, rememberMe: true });
    expect(r2.response.refreshToken).not.toBe(r1.response.refreshToken);
    expect(r2.claims.sid).toBe(r1.claims.sid);
    expect(r2.claims.claims_version).toBe((r1.claims.claims_version as number) + 1);

    // A client that lost the answer retries with the token it had: accepted within the grace.
    const r3 = await issue(appToken, { token: r1.response.refreshToken!, 'remember-me': 'true' });
    expect(r3.claims.sid).toBe(r1.claims.sid);
    expect(r3.claims.claims_version).toBe((r2.claims.claims_version as number) + 1);
    expect(new Set([r1, r2, r3].map((token) => token.response.refreshToken)).size).toBe(3);
    rotation = { sid: r1.claims.sid, r1, r2, r3 };
  });

  it('a rotated refresh token presented after the grace window is refused and revokes the session', async () => {
    expect(rotation).toBeDefined();
    const { sid, r2, r3 } = rotation;
    await sleep(REUSE_GRACE_MS + 700);

    // r2's refresh token is the one rotated most recently; past the grace it is a reuse.
    await expectAuthMeError(
      await renewToken(service, appToken, { token: r2.response.refreshToken!, 'remember-me': 'true' }),
      412,
      'REFRESH_TOKEN_REUSED',
    );
    await expectAuthMeError(
      await renewToken(service, appToken, { token: r3.response.accessToken, 'remember-me': 'true' }),
      412,
      'SESSION_REVOKED',
    );
    await expectAuthMeError(
      await renewToken(service, appToken, { token: r3.response.refreshToken!, 'remember-me': 'true' }),
      412,
    );

    await updates.waitFor((records) =>
      sessionUpdates(records).some(
        ({ event }) => event.type === 'iam.session.revoked' && event.data.sessionId === sid,
      ),
    );
    const revoked = sessionUpdates(updates.records).filter(
      ({ event }) => event.type === 'iam.session.revoked' && event.data.sessionId === sid,
    );
    expect(revoked).toHaveLength(1);
    const [{ record, event }] = revoked as [SessionUpdateRecord];
    expect(record.key).toBe(rotating);
    expect(record.headers['content-type']).toBe('application/cloudevents+json');
    expect(event).toMatchObject({ specversion: '1.0', type: 'iam.session.revoked', subject: sid });
    expect(event.data).toMatchObject({
      sessionId: sid,
      userId: rotating,
      clientId: WEB.id,
      reason: 'refresh-token-reused',
      cause: { kind: 'http' },
      claimsVersion: (r3.claims.claims_version as number) + 1,
    });
    expect(JSON.stringify(event)).not.toContain(r2.response.refreshToken!);

    // The user signs in again through the identity provider: a new session, not the revoked one.
    const fresh = await issue(appToken, { userId: rotating, clientId: WEB.id, 'remember-me': 'true' });
    expect(fresh.claims.sid).not.toBe(sid);
    expect(fresh.claims.claims_version).toBe(1);
  });

  it('a session refuses renewal past its lifetime, and renewals never extend it', async () => {
    const startedAt = Date.now();
    const start = await issue(appToken, { userId: shortLived, clientId: WEB.id, 'remember-me': 'false' });
    expectWellFormed(start, { userId: shortLived, businessId: null, rememberMe: false });
    const end = start.claims.exp as number;
    // The access token ends with the session: SESSION_TTL after its start.
    expect(end).toBeLessThanOrEqual(Math.ceil(startedAt / 1_000) + SESSION_TTL_S);
    expect(end).toBeGreaterThanOrEqual(Math.floor(startedAt / 1_000) + SESSION_TTL_S - 1);

    await sleep(1_200);
    // Neither a renewal nor remember-me=true moves the end.
    const renewed = await issue(appToken, { token: start.response.accessToken, 'remember-me': 'true' });
    expect(renewed.claims.exp).toBe(end);
    expect(Number(renewed.response.expiresIn)).toBe(end);
    const viaRefresh = await issue(appToken, {
      token: renewed.response.refreshToken!,
      'remember-me': 'true',
    });
    expect(viaRefresh.claims.exp).toBe(end);

    const presentRefreshToken = () =>
      renewToken(service, appToken, { token: viaRefresh.response.refreshToken!, 'remember-me': 'true' });
    await sleep(Math.max(0, (end + 1) * 1_000 + 300 - Date.now()));
    await expectAuthMeError(
      await renewToken(service, appToken, { token: viaRefresh.response.accessToken, 'remember-me': 'false' }),
      412,
      'SESSION_EXPIRED',
    );
    await expectAuthMeError(await presentRefreshToken(), 412, 'SESSION_EXPIRED');

    // Housekeeping deletes the ended session with its refresh-token hashes: the token is then unknown.
    const housekeeping = await runCli(deployment, ['housekeeping', 'run', '--json'], {
      ENDED_SESSION_RETENTION: '1ms',
    });
    expect(housekeeping.code, housekeeping.stderr).toBe(0);
    expect((JSON.parse(housekeeping.stdout) as { sessions: number }).sessions).toBeGreaterThanOrEqual(1);
    await expectAuthMeError(await presentRefreshToken(), 401, 'INVALID_REFRESH_TOKEN');

    // The identity provider's next login starts a new session.
    const next = await issue(appToken, { userId: shortLived, clientId: WEB.id, 'remember-me': 'false' });
    expect(next.claims.sid).not.toBe(start.claims.sid);
    expect(next.claims.claims_version).toBe(1);
  });

  it('publishes every issued token on the session-update topic, sealed for the recipient, never the refresh token', async () => {
    expect(issued.length).toBeGreaterThanOrEqual(20);
    const find = (token: Issued) =>
      sessionUpdates(updates.records).filter(
        ({ event }) =>
          event.type === 'iam.session.token-renewed' &&
          event.data.sessionId === token.claims.sid &&
          event.data.claimsVersion === token.claims.claims_version,
      );
    await updates.waitFor(() => issued.every((token) => find(token).length > 0));

    for (const token of issued) {
      const matches = find(token);
      expect(matches).toHaveLength(1);
      const [{ record, event }] = matches as [SessionUpdateRecord];
      expect(record.key).toBe(token.claims.user_id);
      expect(record.headers['content-type']).toBe('application/cloudevents+json');
      expect(event).toMatchObject({
        specversion: '1.0',
        type: 'iam.session.token-renewed',
        subject: token.claims.sid,
        datacontenttype: 'application/json',
      });
      expect(event.data).toEqual({
        sessionId: token.claims.sid,
        userId: token.claims.user_id,
        clientId: WEB.id,
        businessId: token.claims.business_id ?? null,
        accessToken: expect.any(String),
        tokenEncryption: 'jwe',
        tokenType: 'Bearer',
        expiresIn: token.response.expiresIn,
        scope: token.response.scope,
        authorities: token.claims.authorities,
        added: expect.any(Array),
        removed: expect.any(Array),
        claimsVersion: token.claims.claims_version,
        cause: { kind: 'http' },
      });
      // A compact JWE (five segments), which opens to exactly the JWT the caller received.
      expect(event.data.accessToken!.split('.')).toHaveLength(5);
      expect(await openSealedToken(deployment, event.data.accessToken!)).toBe(token.response.accessToken);
    }

    // The business switch says what left and what came.
    const switched = issued.find(
      (token) =>
        token.claims.business_id === b2 &&
        (token.claims.authorities as string[]).includes('ROLE_B2-ROLE') &&
        find(token)[0]?.event.data.removed?.includes('ROLE_B1-ROLE'),
    );
    expect(switched).toBeDefined();
    const switchEvent = find(switched!)[0]!.event;
    expect(switchEvent.data.added).toEqual(authorities('BUSINESSUSER', 'B2-ROLE'));
    expect(switchEvent.data.removed).toEqual(authorities('BUSINESSOWNER', 'B1-ROLE', 'GROUP-B1'));

    // Neither a refresh token nor a plain JWT ever travels on the topic.
    const topicText = updates.records
      .map((record) => `${record.value?.toString('utf8')}${JSON.stringify(record.headers)}`)
      .join('\n');
    for (const token of issued) {
      if (token.response.refreshToken) expect(topicText).not.toContain(token.response.refreshToken);
      expect(topicText).not.toContain(token.response.accessToken.split('.')[2]!);
    }
  });
});
