import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginClient, renewToken } from '../support/http';
import {
  authMeId,
  expectAuthMeError,
  expectNoInternals,
  LOGIN_PATH,
  registerClient,
  RENEW_PATH,
  type AuthMeError,
} from '../support/renewal';
import { createDeployment, destroyDeployment, ServiceInstance, type Deployment } from '../support/service';

/**
 * Malformed and hostile input at the HTTP edge: never a 5xx, always an AuthMe
 * error body, never an internal detail; and the failed-login limit.
 */

const APP = { id: 'input-app', secret: 'input-app-secret-0123456789' };
const WRONG_SECRET_APP = { id: 'wrong-secret-app', secret: 'wrong-secret-app-secret-0123' };
const THROTTLED = { id: 'throttled-app', secret: 'throttled-app-secret-0123456789' };
const FIRST_PARTY = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'];
const MAX_FAILURES = 3;

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

describe('malformed HTTP input (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let app: string;
  let userToken: string;
  const user = authMeId();

  /** POSTs to Renew Token with a raw query string (so repeated and odd parameters go through as written). */
  const renewRaw = (query: string, init: { headers?: Record<string, string>; body?: string } = {}) =>
    service.fetch(`${RENEW_PATH}?${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app}`, ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });

  const login = (authorization?: string, init: { headers?: Record<string, string>; body?: string } = {}) =>
    service.fetch(LOGIN_PATH, {
      method: 'POST',
      headers: { ...(authorization ? { authorization } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });

  const identityProvider = () => `userId=${user}&clientId=${APP.id}&remember-me=true`;

  /** A 4xx of any status, as long as it is an AuthMe error body (for answers the HTTP parser gives). */
  async function expectClientError(response: Response): Promise<void> {
    const text = await response.text();
    expect(response.status, text).toBeGreaterThanOrEqual(400);
    expect(response.status, text).toBeLessThan(500);
    expect(response.headers.get('content-type') ?? '').toMatch(/^application\/json/);
    const body = JSON.parse(text) as AuthMeError[];
    expect(Array.isArray(body)).toBe(true);
    expect(body.length).toBeGreaterThan(0);
    for (const entry of body) expect(Object.keys(entry).sort()).toEqual(['code', 'message']);
    expectNoInternals(text);
  }

  beforeAll(async () => {
    deployment = await createDeployment('input', { LOGIN_MAX_FAILURES: String(MAX_FAILURES) });
    service = await ServiceInstance.start(deployment);
    await Promise.all(
      [APP, WRONG_SECRET_APP, THROTTLED].map((client) =>
        registerClient(deployment, { ...client, roles: FIRST_PARTY }),
      ),
    );
    app = (await loginClient(service, APP.id, APP.secret)).accessToken;
    const response = await renewToken(service, app, {
      userId: user,
      clientId: APP.id,
      'remember-me': 'true',
    });
    expect(response.status).toBe(200);
    userToken = ((await response.json()) as { accessToken: string }).accessToken;
  });

  afterAll(async () => {
    await service?.stop();
    if (deployment) await destroyDeployment(deployment);
  });

  describe('Renew Token query parameters', () => {
    it('refuses a missing remember-me: 400 MISSING_PARAMETER', async () => {
      await expectAuthMeError(await renewRaw(`token=${userToken}`), 400, 'MISSING_PARAMETER');
      await expectAuthMeError(await renewRaw(`userId=${user}&clientId=${APP.id}`), 400, 'MISSING_PARAMETER');
    });

    it('refuses repeated parameters: 400 INVALID_PARAMETER', async () => {
      await expectAuthMeError(
        await renewRaw(`token=${userToken}&token=${userToken}&remember-me=true`),
        400,
        'INVALID_PARAMETER',
      );
      await expectAuthMeError(
        await renewRaw(`token=${userToken}&remember-me=true&remember-me=true`),
        400,
        'INVALID_PARAMETER',
      );
      await expectAuthMeError(
        await renewRaw(`token=${userToken}&remember-me=true&remember-me=false`),
        400,
        'INVALID_PARAMETER',
      );
      await expectAuthMeError(
        await renewRaw(`${identityProvider()}&userId=${authMeId()}`),
        400,
        'INVALID_PARAMETER',
      );
    });

    it.each(['yes', 'no', '1', '0', 'on', 'truee', 'null', '%20true', 'true%00'])(
      'refuses remember-me=%s: 400 INVALID_PARAMETER',
      async (value) => {
        await expectAuthMeError(
          await renewRaw(`token=${userToken}&remember-me=${value}`),
          400,
          'INVALID_PARAMETER',
        );
      },
    );

    it('refuses an empty token or remember-me: 400', async () => {
      await expectAuthMeError(await renewRaw('token=&remember-me=true'), 400, 'INVALID_PARAMETER');
      await expectAuthMeError(await renewRaw(`token=${userToken}&remember-me=`), 400, 'INVALID_PARAMETER');
      await expectAuthMeError(await renewRaw(`token=${userToken}&remember-me`), 400);
    });

    it.each([
      ['plain text', 'garbage'],
      ['three empty-ish segments', 'a.b.c'],
      ['dots only', '...'],
      ['a JSON header without signature', `${Buffer.from('{"alg":"none"}').toString('base64url')}.e30.`],
      ['an almost-UUID', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'],
      ['a bad percent escape', '%E0%A4%A'],
    ])('refuses a garbage token (%s): 401 INVALID_TOKEN', async (_name, token) => {
      await expectAuthMeError(await renewRaw(`token=${token}&remember-me=true`), 401, 'INVALID_TOKEN');
    });

    it.each([
      ['a NUL byte', '%00'],
      ['non-ASCII text', encodeURIComponent('tøkén-😀')],
      ['a space', 'abc%20def'],
    ])('refuses a token with characters no token has (%s): 400 INVALID_PARAMETER', async (_name, token) => {
      await expectAuthMeError(await renewRaw(`token=${token}&remember-me=true`), 400, 'INVALID_PARAMETER');
    });

    it('refuses missing identity-provider parameters and parameters that contradict the token: 400', async () => {
      await expectAuthMeError(await renewRaw('remember-me=true'), 400, 'MISSING_PARAMETER');
      await expectAuthMeError(await renewRaw(`userId=${user}&remember-me=true`), 400, 'MISSING_PARAMETER');
      await expectAuthMeError(
        await renewRaw(`clientId=${APP.id}&remember-me=true`),
        400,
        'MISSING_PARAMETER',
      );
      await expectAuthMeError(
        await renewRaw(`token=${userToken}&userId=${authMeId()}&remember-me=true`),
        400,
        'CONFLICTING_PARAMETERS',
      );
      await expectAuthMeError(
        await renewRaw(`${identityProvider()}&businessId=${'b'.repeat(300)}`),
        400,
        'INVALID_PARAMETER',
      );
    });

    it('answers a 1 MB token in the query with a 4xx AuthMe error', async () => {
      await expectClientError(await renewRaw(`token=${'A'.repeat(1024 * 1024)}&remember-me=true`));
      // The service still serves afterwards.
      expect((await renewRaw(identityProvider())).status).toBe(200);
    });

    it('answers a 20 KB token with a 4xx AuthMe error, and a token over its length limit with 400', async () => {
      await expectClientError(await renewRaw(`token=${'A'.repeat(20 * 1024)}&remember-me=true`));
      await expectAuthMeError(
        await renewRaw(`token=${'A'.repeat(9 * 1024)}&remember-me=true`),
        400,
        'INVALID_PARAMETER',
      );
      // As the caller's Bearer token, an over-long token is simply not valid.
      await expectAuthMeError(
        await renewRaw(identityProvider(), { headers: { authorization: `Bearer ${'A'.repeat(9 * 1024)}` } }),
        401,
        'INVALID_CALLER_TOKEN',
      );
    });
  });

  describe('the Authorization header of Renew Token', () => {
    it.each([
      ['Basic credentials', () => basic(`${APP.id}:${APP.secret}`)],
      ['another scheme', () => `Token ${app}`],
      ['Digest', () => 'Digest username="x", response="y"'],
      ['a bare token without scheme', () => app],
      ['Bearer without a token', () => 'Bearer'],
      ['Bearer with two tokens', () => `Bearer ${app} ${app}`],
      ['Bearer with a non-JWT', () => 'Bearer not-a-jwt'],
      ['an empty value', () => ''],
    ])('refuses %s: 401 INVALID_CALLER_TOKEN', async (_name, authorization) => {
      await expectAuthMeError(
        await renewRaw(identityProvider(), { headers: { authorization: authorization() } }),
        401,
        'INVALID_CALLER_TOKEN',
      );
    });
  });

  describe('request bodies (Renew Token reads its query)', () => {
    it('refuses an XML body: 415', async () => {
      await expectAuthMeError(
        await renewRaw(identityProvider(), {
          headers: { 'content-type': 'application/xml' },
          body: '<renew><token>x</token></renew>',
        }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
    });

    it('accepts an empty body labelled application/json', async () => {
      const response = await renewRaw(identityProvider(), {
        headers: { 'content-type': 'application/json' },
        body: '',
      });
      expect(response.status, await response.clone().text()).toBe(200);
    });

    it('accepts an empty form-urlencoded body', async () => {
      const response = await renewRaw(identityProvider(), {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      expect(response.status, await response.clone().text()).toBe(200);
    });

    it('refuses invalid JSON: 400', async () => {
      for (const body of ['{', '{"token":', 'not json', '\u0000']) {
        await expectAuthMeError(
          await renewRaw(identityProvider(), { headers: { 'content-type': 'application/json' }, body }),
          400,
        );
      }
    });

    it('refuses a body larger than the limit: 413', async () => {
      await expectAuthMeError(
        await renewRaw(identityProvider(), {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ padding: 'x'.repeat(64 * 1024) }),
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      await expectAuthMeError(
        await login(basic(`${APP.id}:${APP.secret}`), {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `a=${'x'.repeat(64 * 1024)}`,
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
    });

    it('answers another method on the route with a 4xx AuthMe error', async () => {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        await expectClientError(
          await service.fetch(`${RENEW_PATH}?${identityProvider()}`, {
            method,
            headers: { authorization: `Bearer ${app}` },
          }),
        );
      }
    });
  });

  describe('Login Client', () => {
    it.each([
      ['no Authorization header', undefined],
      ['Basic with garbage', 'Basic !!!not-base64!!!'],
      ['Basic without a colon', basic('no-colon-here')],
      ['Basic with an empty client id', basic(':some-secret')],
      ['Basic without credentials', 'Basic'],
      ['a Bearer token', 'Bearer abc.def.ghi'],
      ['an over-long Basic value', basic(`${APP.id}:${'s'.repeat(4_000)}`)],
    ])('refuses %s: 401 INVALID_CLIENT_CREDENTIALS', async (_name, authorization) => {
      await expectAuthMeError(await login(authorization), 401, 'INVALID_CLIENT_CREDENTIALS');
    });

    it('refuses a wrong secret and an unknown client alike: 401 with the same body', async () => {
      const wrong = await expectAuthMeError(
        await login(basic(`${WRONG_SECRET_APP.id}:not-the-secret-at-all`)),
        401,
        'INVALID_CLIENT_CREDENTIALS',
      );
      const unknown = await expectAuthMeError(
        await login(basic(`no-such-client-${authMeId()}:${WRONG_SECRET_APP.secret}`)),
        401,
        'INVALID_CLIENT_CREDENTIALS',
      );
      expect(unknown).toEqual(wrong);
      // The right secret still works.
      const ok = await login(basic(`${WRONG_SECRET_APP.id}:${WRONG_SECRET_APP.secret}`));
      expect(ok.status).toBe(200);
      expect(ok.headers.get('cache-control')).toContain('no-store');
    });

    it(`refuses every login after ${MAX_FAILURES} failures, even with the right secret: 429 with retry-after`, async () => {
      for (let attempt = 1; attempt <= MAX_FAILURES; attempt += 1) {
        await expectAuthMeError(
          await login(basic(`${THROTTLED.id}:wrong-secret-number-${attempt}`)),
          401,
          'INVALID_CLIENT_CREDENTIALS',
        );
      }
      for (const secret of [THROTTLED.secret, 'wrong-secret-again']) {
        const response = await login(basic(`${THROTTLED.id}:${secret}`));
        const retryAfter = response.headers.get('retry-after');
        await expectAuthMeError(response, 429, 'TOO_MANY_FAILED_LOGINS');
        expect(retryAfter).toMatch(/^\d+$/);
        expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      }
      // Another client is not affected.
      expect((await login(basic(`${APP.id}:${APP.secret}`))).status).toBe(200);
    });

    it('holds the limit across instances: failures spread over two count once', async () => {
      // Two instances of the deployment behind one load balancer: the count is in the database.
      const other = await ServiceInstance.start(deployment);
      try {
        const spread = `spread-${authMeId()}`;
        for (let attempt = 1; attempt <= MAX_FAILURES; attempt += 1) {
          const instance = attempt % 2 === 0 ? other : service;
          const response = await instance.fetch(LOGIN_PATH, {
            method: 'POST',
            headers: { authorization: basic(`${spread}:wrong-${attempt}`) },
          });
          await expectAuthMeError(response, 401, 'INVALID_CLIENT_CREDENTIALS');
        }
        for (const instance of [service, other]) {
          const response = await instance.fetch(LOGIN_PATH, {
            method: 'POST',
            headers: { authorization: basic(`${spread}:wrong-again`) },
          });
          expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
          await expectAuthMeError(response, 429, 'TOO_MANY_FAILED_LOGINS');
        }
      } finally {
        await other.stop();
      }
    });

    it('limits an unknown client id the same way', async () => {
      const ghost = `ghost-${authMeId()}`;
      for (let attempt = 1; attempt <= MAX_FAILURES; attempt += 1) {
        await expectAuthMeError(await login(basic(`${ghost}:whatever-${attempt}`)), 401);
      }
      const response = await login(basic(`${ghost}:whatever`));
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectAuthMeError(response, 429, 'TOO_MANY_FAILED_LOGINS');
    });
  });

  it('never answered with a 5xx', () => {
    const statuses = service.logs
      .map((line) => (JSON.parse(line) as { res?: { statusCode?: number } }).res?.statusCode)
      .filter((status): status is number => status !== undefined);
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(service.logs.join('\n')).not.toContain('request failed unexpectedly');
  });
});
