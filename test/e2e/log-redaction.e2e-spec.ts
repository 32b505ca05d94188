import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginClient, renewToken } from '../support/http';
import { forgeJwt, freshRsaKey, rsaSigner } from '../support/jwt';
import { authMeId, LOGIN_PATH, registerClient, RENEW_PATH, renewOk, sleep } from '../support/renewal';
import { createDeployment, destroyDeployment, ServiceInstance, type Deployment } from '../support/service';

/**
 * What the service writes to its logs while tokens are issued every way and
 * refused every way: no access token, refresh token, client secret or
 * Authorization value, and request lines with `token=[REDACTED]`.
 */

const APP = { id: 'log-app', secret: 'log-app-secret-0123456789' };
const OTHER = { id: 'log-other', secret: 'log-other-secret-0123456789' };

interface LogLine {
  level?: string;
  msg?: string;
  req?: { id?: string; method?: string; url?: string; headers?: unknown };
  res?: { statusCode?: number };
}

describe('log redaction (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  /** Every value that must never be logged. */
  const secrets = new Set<string>();
  const accessTokens: string[] = [];
  let renewRequestsWithToken = 0;

  const remember = (...values: Array<string | undefined>) =>
    values.forEach((value) => value && secrets.add(value));

  function rememberToken(token: string): void {
    accessTokens.push(token);
    remember(token, token.split('.')[2]);
  }

  function post(path: string, headers: Record<string, string>, body?: string): Promise<Response> {
    remember(headers.authorization, headers.authorization?.replace(/^\S+\s+/, ''));
    if (path.startsWith(RENEW_PATH) && /[?&](token|%74oken)=/i.test(path)) renewRequestsWithToken += 1;
    return service.fetch(path, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) });
  }

  const basic = (id: string, secret: string) => {
    remember(secret);
    return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  };

  beforeAll(async () => {
    // The most verbose level: whatever is written at all must be clean.
    deployment = await createDeployment('logs', { LOG_LEVEL: 'trace', REFRESH_TOKEN_REUSE_GRACE: '1s' });
    service = await ServiceInstance.start(deployment);
    await registerClient(deployment, { ...APP, roles: ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'] });
    await registerClient(deployment, { ...OTHER, roles: ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'] });
    remember(APP.secret, OTHER.secret);
  });

  afterAll(async () => {
    await service?.stop();
    if (deployment) await destroyDeployment(deployment);
  });

  it('issues tokens through every path, and is refused through many', async () => {
    // Login Client: success, wrong secret, unknown client, garbage.
    const login = await post(LOGIN_PATH, { authorization: basic(APP.id, APP.secret) });
    expect(login.status).toBe(200);
    const app = ((await login.json()) as { accessToken: string }).accessToken;
    rememberToken(app);
    const other = (await loginClient(service, OTHER.id, OTHER.secret)).accessToken;
    rememberToken(other);
    expect(
      (await post(LOGIN_PATH, { authorization: basic(APP.id, 'wrong-secret-wrong-secret') })).status,
    ).toBe(401);
    expect((await post(LOGIN_PATH, { authorization: basic('nobody', 'nobody-secret-123456') })).status).toBe(
      401,
    );
    expect((await post(LOGIN_PATH, { authorization: 'Basic c2VjcmV0LWdhcmJhZ2U=' })).status).toBe(401);

    // Renew Token: identity provider, access token, refresh token, a user token as the caller.
    const user = authMeId();
    const query = (params: Record<string, string>) =>
      `${RENEW_PATH}?${new URLSearchParams(params).toString()}`;
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const first = await post(query({ userId: user, clientId: APP.id, 'remember-me': 'true' }), auth(app));
    expect(first.status).toBe(200);
    const started = (await first.json()) as { accessToken: string; refreshToken: string };
    rememberToken(started.accessToken);
    remember(started.refreshToken);

    const byAccess = await post(query({ token: started.accessToken, 'remember-me': 'true' }), auth(app));
    expect(byAccess.status).toBe(200);
    const second = (await byAccess.json()) as { accessToken: string; refreshToken: string };
    rememberToken(second.accessToken);
    remember(second.refreshToken);

    const byRefresh = await post(query({ token: second.refreshToken, 'remember-me': 'true' }), auth(app));
    expect(byRefresh.status).toBe(200);
    const third = (await byRefresh.json()) as { accessToken: string; refreshToken: string };
    rememberToken(third.accessToken);
    remember(third.refreshToken);

    // The parameter name percent-encoded (%74 is "t") is still the token, and still redacted.
    const encoded = await post(
      `${RENEW_PATH}?%74oken=${third.accessToken}&remember-me=true`,
      auth(third.accessToken),
    );
    expect(encoded.status).toBe(200);
    const fourth = (await encoded.json()) as { accessToken: string; refreshToken: string };
    rememberToken(fourth.accessToken);
    remember(fourth.refreshToken);

    // A body carrying secrets is not logged either (Renew Token reads its query).
    const withBody = await post(
      query({ userId: user, clientId: APP.id, 'remember-me': 'false' }),
      { ...auth(app), 'content-type': 'application/json' },
      JSON.stringify({ token: fourth.accessToken, refreshToken: fourth.refreshToken, secret: APP.secret }),
    );
    expect(withBody.status).toBe(200);
    rememberToken(((await withBody.json()) as { accessToken: string }).accessToken);

    // Refusals: a forged caller, a garbage token, another client's token, an unknown and a reused refresh token.
    const forged = forgeJwt(
      { alg: 'RS512', typ: 'JWT', kid: 'forged-kid' },
      { jti: 'x', client_id: APP.id, authorities: [] },
      rsaSigner('sha512', freshRsaKey().privateKey),
    );
    rememberToken(forged);
    const refusals: Array<[string, Record<string, string>, number]> = [
      [query({ token: fourth.accessToken, 'remember-me': 'true' }), auth(forged), 401],
      [query({ token: 'garbage.garbage.garbage', 'remember-me': 'true' }), auth(app), 401],
      [query({ token: fourth.accessToken, 'remember-me': 'true' }), auth(other), 403],
      [query({ token: '6f9619ff-8b86-4d01-b42d-00cf4fc964ff', 'remember-me': 'true' }), auth(app), 401],
      [query({ token: fourth.accessToken, 'remember-me': 'maybe' }), auth(app), 400],
      [query({ token: fourth.accessToken, 'remember-me': 'true' }), { authorization: `Token ${app}` }, 401],
    ];
    remember('garbage.garbage.garbage', '6f9619ff-8b86-4d01-b42d-00cf4fc964ff');
    for (const [path, headers, status] of refusals) {
      const response = await post(path, headers);
      expect(response.status, await response.text()).toBe(status);
    }
    await sleep(1_300);
    const reused = await post(query({ token: started.refreshToken, 'remember-me': 'true' }), auth(app));
    expect(reused.status).toBe(412);
    // An over-long request line, refused by the HTTP parser.
    const overLong = await post(
      `${RENEW_PATH}?token=${fourth.accessToken}${'A'.repeat(20_000)}&remember-me=true`,
      auth(app),
    );
    expect(overLong.status).toBeGreaterThanOrEqual(400);
    expect(overLong.status).toBeLessThan(500);
    renewRequestsWithToken -= 1; // refused by Node's HTTP parser: it never reaches the request log

    // Renewals presented through the helper, too (as other tests do).
    const viaHelper = await renewOk(service, app, {
      userId: authMeId(),
      clientId: APP.id,
      'remember-me': 'true',
    });
    rememberToken(viaHelper.accessToken);
    remember(viaHelper.refreshToken);
    const refused = await renewToken(service, other, { token: viaHelper.accessToken, 'remember-me': 'true' });
    renewRequestsWithToken += 1;
    expect(refused.status).toBe(403);
  });

  describe('after the service stopped (every log line flushed)', () => {
    let lines: string[];
    let parsed: LogLine[];

    beforeAll(async () => {
      await service.stop();
      lines = service.logs;
      parsed = lines.map((line) => JSON.parse(line) as LogLine);
    });

    it('wrote JSON lines, request lines among them', () => {
      expect(lines.length).toBeGreaterThan(20);
      expect(parsed.filter((line) => line.req?.url?.startsWith(RENEW_PATH)).length).toBeGreaterThan(10);
    });

    it('never wrote an access token, a refresh token, a client secret or an Authorization value', () => {
      const text = lines.join('\n');
      expect(secrets.size).toBeGreaterThan(30);
      for (const secret of secrets) {
        expect(text.includes(secret), `the logs contain ${secret.slice(0, 24)}…`).toBe(false);
      }
      // No JWT at all: a header of ours starts with eyJhbGciOi ({"alg":).
      expect(text).not.toMatch(/eyJhbGciOi[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\./);
      for (const token of accessTokens) expect(text).not.toContain(token.split('.')[1]!);
    });

    it('logs request lines with token=[REDACTED] and no request headers', () => {
      const renewLines = parsed.filter(
        (line) => line.req?.url?.startsWith(RENEW_PATH) && /[?&](token|%74oken)=/i.test(line.req.url),
      );
      expect(renewLines).toHaveLength(renewRequestsWithToken);
      for (const line of renewLines) {
        expect(line.req!.url).toMatch(/[?&](token|%74oken)=\[REDACTED\](&|$)/i);
      }
      for (const line of parsed) {
        if (line.req) expect(line.req).not.toHaveProperty('headers');
      }
    });
  });
});
