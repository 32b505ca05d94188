import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginClient, renewToken } from '../support/http';
import { FORGERIES, type ForgeryMaterial } from '../support/forgeries';
import { decodeJwt, forgeJwt, readSigningKeys, rsaSigner, type JsonWebKeySet } from '../support/jwt';
import { authMeId, expectAuthMeError, KEYS_PATH, registerClient, renewOk, sleep } from '../support/renewal';
import { createDeployment, destroyDeployment, ServiceInstance, type Deployment } from '../support/service';

/**
 * The forged and misused token corpus (test/support/forgeries.ts, shared with
 * the hostile-input suite): every token that is not exactly one of ours, or is
 * ours but presented by the wrong party, is refused with its documented status
 * and an AuthMe error body, as the caller and as `token`.
 */

const FIRST_PARTY = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'];
const A = { id: 'app-a', secret: 'app-a-secret-0123456789' };
const B = { id: 'app-b', secret: 'app-b-secret-0123456789' };
const THIRD_PARTY = { id: 'app-3p', secret: 'app-3p-secret-0123456789' };
const REUSE_GRACE_MS = 1_000;

describe('forged and misused tokens (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let material: ForgeryMaterial;
  const tokens = {} as Record<'appA' | 'appB' | 'app3p' | 'userA1' | 'userA2', string>;
  let refreshA1: string;
  const user1 = authMeId();
  const user2 = authMeId();

  beforeAll(async () => {
    deployment = await createDeployment('security', { REFRESH_TOKEN_REUSE_GRACE: `${REUSE_GRACE_MS}ms` });
    service = await ServiceInstance.start(deployment);
    await Promise.all([
      registerClient(deployment, { ...A, roles: FIRST_PARTY }),
      registerClient(deployment, { ...B, roles: FIRST_PARTY }),
      registerClient(deployment, { ...THIRD_PARTY, roles: ['CLI-AUTH-IDENTIFIED'] }),
    ]);
    tokens.appA = (await loginClient(service, A.id, A.secret)).accessToken;
    tokens.appB = (await loginClient(service, B.id, B.secret)).accessToken;
    tokens.app3p = (await loginClient(service, THIRD_PARTY.id, THIRD_PARTY.secret)).accessToken;
    const a1 = await renewOk(service, tokens.appA, { userId: user1, clientId: A.id, 'remember-me': 'true' });
    tokens.userA1 = a1.accessToken;
    refreshA1 = a1.refreshToken!;
    tokens.userA2 = (
      await renewOk(service, tokens.appA, { userId: user2, clientId: A.id, 'remember-me': 'true' })
    ).accessToken;

    const user = decodeJwt(tokens.userA1);
    const jwks = (await (await service.fetch(KEYS_PATH)).json()) as JsonWebKeySet;
    const jwk = jwks.keys.find((key) => key.kid === user.header.kid)!;
    const signingKey = readSigningKeys(deployment.signingKeysDir).find((key) => key.kid === user.header.kid)!;
    expect(jwk).toBeDefined();
    expect(signingKey).toBeDefined();
    material = { user, jwk, signingKey };
  });

  afterAll(async () => {
    await service?.stop();
    if (deployment) await destroyDeployment(deployment);
  });

  it("control: the forger's own well-formed token (RS512, real key and kid, our claims) is accepted", async () => {
    const genuine = forgeJwt(
      material.user.header,
      material.user.payload,
      rsaSigner('sha512', material.signingKey.privateKey),
    );
    await renewOk(service, genuine, { token: tokens.userA1, 'remember-me': 'true' });
    await renewOk(service, tokens.appA, { token: genuine, 'remember-me': 'true' });
  });

  describe.each(FORGERIES)('a token with $name', ({ forge }) => {
    it('is refused as the caller: 401 INVALID_CALLER_TOKEN', async () => {
      const forged = forge(material);
      await expectAuthMeError(
        await renewToken(service, forged, { token: tokens.userA1, 'remember-me': 'true' }),
        401,
        'INVALID_CALLER_TOKEN',
      );
      await expectAuthMeError(
        await renewToken(service, forged, { userId: user1, clientId: A.id, 'remember-me': 'true' }),
        401,
        'INVALID_CALLER_TOKEN',
      );
    });

    it('is refused as the user token: 401 INVALID_TOKEN', async () => {
      await expectAuthMeError(
        await renewToken(service, tokens.appA, { token: forge(material), 'remember-me': 'true' }),
        401,
        'INVALID_TOKEN',
      );
    });
  });

  it("refuses client A's user token (and refresh token) presented by client B: 403 NOT_THE_TOKEN_CLIENT", async () => {
    await expectAuthMeError(
      await renewToken(service, tokens.appB, { token: tokens.userA1, 'remember-me': 'true' }),
      403,
      'NOT_THE_TOKEN_CLIENT',
    );
    await expectAuthMeError(
      await renewToken(service, tokens.appB, { token: refreshA1, 'remember-me': 'true' }),
      403,
      'NOT_THE_TOKEN_CLIENT',
    );
    // Nor may B start a session for A in the identity-provider case.
    await expectAuthMeError(
      await renewToken(service, tokens.appB, { userId: user1, clientId: A.id, 'remember-me': 'true' }),
      403,
      'NOT_THE_TOKEN_CLIENT',
    );
  });

  it("refuses a user's token presented with another user's token as the caller: 403", async () => {
    await expectAuthMeError(
      await renewToken(service, tokens.userA2, { token: tokens.userA1, 'remember-me': 'true' }),
      403,
      'NOT_THE_TOKEN_CLIENT',
    );
  });

  it("refuses the identity-provider case with a user's token as the caller: 403 APPLICATION_TOKEN_REQUIRED", async () => {
    await expectAuthMeError(
      await renewToken(service, tokens.userA1, { userId: user1, clientId: A.id, 'remember-me': 'true' }),
      403,
      'APPLICATION_TOKEN_REQUIRED',
    );
    await expectAuthMeError(
      await renewToken(service, tokens.userA1, { userId: user2, clientId: A.id, 'remember-me': 'true' }),
      403,
      'APPLICATION_TOKEN_REQUIRED',
    );
  });

  it('refuses a client token used as the user token: 401 INVALID_TOKEN', async () => {
    await expectAuthMeError(
      await renewToken(service, tokens.appA, { token: tokens.appA, 'remember-me': 'true' }),
      401,
      'INVALID_TOKEN',
    );
    await expectAuthMeError(
      await renewToken(service, tokens.appA, { token: tokens.appB, 'remember-me': 'true' }),
      401,
      'INVALID_TOKEN',
    );
  });

  it('refuses an unknown refresh token: 401 INVALID_REFRESH_TOKEN', async () => {
    await expectAuthMeError(
      await renewToken(service, tokens.appA, {
        token: '0f8fad5b-d9cb-469f-a165-70867728950e',
        'remember-me': 'true',
      }),
      401,
      'INVALID_REFRESH_TOKEN',
    );
  });

  it('refuses a caller whose client lacks CLI-1STPARTY: 403 CLIENT_REQUIREMENT_NOT_MET', async () => {
    await expectAuthMeError(
      await renewToken(service, tokens.app3p, {
        userId: user1,
        clientId: THIRD_PARTY.id,
        'remember-me': 'true',
      }),
      403,
      'CLIENT_REQUIREMENT_NOT_MET',
    );
    await expectAuthMeError(
      await renewToken(service, tokens.app3p, { token: tokens.userA1, 'remember-me': 'true' }),
      403,
      'CLIENT_REQUIREMENT_NOT_MET',
    );
  });

  it('refuses a request without an Authorization header: 401 INVALID_CALLER_TOKEN', async () => {
    await expectAuthMeError(
      await renewToken(service, undefined, { token: tokens.userA1, 'remember-me': 'true' }),
      401,
      'INVALID_CALLER_TOKEN',
    );
    await expectAuthMeError(
      await renewToken(service, undefined, { userId: user1, clientId: A.id, 'remember-me': 'true' }),
      401,
      'INVALID_CALLER_TOKEN',
    );
  });

  it("refuses a revoked session's tokens: 412", async () => {
    const user3 = authMeId();
    const start = await renewOk(service, tokens.appA, {
      userId: user3,
      clientId: A.id,
      'remember-me': 'true',
    });
    const rotated = await renewOk(service, tokens.appA, {
      token: start.refreshToken!,
      'remember-me': 'true',
    });
    await sleep(REUSE_GRACE_MS + 500);
    // The refresh token rotated out, presented after the grace: the session is revoked.
    await expectAuthMeError(
      await renewToken(service, tokens.appA, { token: start.refreshToken!, 'remember-me': 'true' }),
      412,
      'REFRESH_TOKEN_REUSED',
    );
    for (const token of [start.accessToken, rotated.accessToken]) {
      await expectAuthMeError(
        await renewToken(service, tokens.appA, { token, 'remember-me': 'true' }),
        412,
        'SESSION_REVOKED',
      );
      // Presented by itself as the caller, too.
      await expectAuthMeError(
        await renewToken(service, token, { token, 'remember-me': 'true' }),
        412,
        'SESSION_REVOKED',
      );
    }
    await expectAuthMeError(
      await renewToken(service, tokens.appA, { token: rotated.refreshToken!, 'remember-me': 'true' }),
      412,
      'SESSION_REVOKED',
    );
  });

  it('answered no request of the corpus with a 5xx', () => {
    const lines = service.logs.map((line) => JSON.parse(line) as { res?: { statusCode?: number } });
    expect(lines.filter((line) => (line.res?.statusCode ?? 0) >= 500)).toEqual([]);
    expect(service.logs.join('\n')).not.toContain('request failed unexpectedly');
  });
});
