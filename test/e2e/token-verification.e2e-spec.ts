import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginClient, renewToken } from '../support/http';
import { b64url, decodeJwt, PRIVATE_JWK_MEMBERS, verifyRs512, type JsonWebKeySet } from '../support/jwt';
import { authMeId, KEYS_PATH, registerClient, renewOk, waitUntil } from '../support/renewal';
import {
  createDeployment,
  destroyDeployment,
  runCli,
  ServiceInstance,
  type Deployment,
} from '../support/service';

/**
 * Tokens as an outside verifier sees them: the JWKS, the RS512 signature
 * checked with node:crypto alone, and a key rotation that no caller notices.
 */

const APP = { id: 'verify-app', secret: 'verify-app-secret-0123456789' };

interface KeyListing {
  kid: string;
  status: string;
  published: boolean;
  privateKey: boolean;
  createdAt: string;
  retiredAt: string | null;
  publishedUntil: string | null;
}

describe('token verification by an independent verifier (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  const user = authMeId();

  async function fetchJwks(): Promise<JsonWebKeySet> {
    const response = await service.fetch(KEYS_PATH);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/(jwk-set\+)?json/);
    return (await response.json()) as JsonWebKeySet;
  }

  const kidOf = (jwt: string) => decodeJwt(jwt).header.kid as string;

  beforeAll(async () => {
    deployment = await createDeployment('verify');
    service = await ServiceInstance.start(deployment);
    await registerClient(deployment, { ...APP, roles: ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'] });
  });

  afterAll(async () => {
    await service?.stop();
    if (deployment) await destroyDeployment(deployment);
  });

  it('publishes a JWK Set whose keys carry kid, kty, alg and use, and no private member', async () => {
    const jwks = await fetchJwks();
    expect(Object.keys(jwks)).toEqual(['keys']);
    expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of jwks.keys) {
      expect(typeof key.kid).toBe('string');
      expect(key.kid).not.toBe('');
      expect(key.kty).toBe('RSA');
      expect(key.alg).toBe('RS512');
      expect(key.use).toBe('sig');
      expect(typeof key.n).toBe('string');
      expect(typeof key.e).toBe('string');
      for (const member of PRIVATE_JWK_MEMBERS) expect(key).not.toHaveProperty(member);
    }
    expect(new Set(jwks.keys.map((key) => key.kid)).size).toBe(jwks.keys.length);
  });

  it('signs client and user tokens with RS512 that node:crypto verifies against the JWKS', async () => {
    const jwks = await fetchJwks();
    const app = await loginClient(service, APP.id, APP.secret);
    const userToken = await renewOk(service, app.accessToken, {
      userId: user,
      clientId: APP.id,
      'remember-me': 'true',
    });
    // Login Client's answer and token: no refresh token, the client's roles as authorities, no user.
    expect(Object.keys(app).sort()).toEqual(['accessToken', 'expiresIn', 'scope', 'tokenType']);
    expect(app.tokenType).toBe('Bearer');
    const clientClaims = decodeJwt(app.accessToken).payload;
    expect(Number(app.expiresIn)).toBe(clientClaims.exp);
    expect(clientClaims).toMatchObject({ client_id: APP.id, sub: APP.id, iss: deployment.env.TOKEN_ISSUER });
    expect([...(clientClaims.authorities as string[])].sort()).toEqual([
      'ROLE_CLI-1STPARTY',
      'ROLE_CLI-AUTH-IDENTIFIED',
    ]);
    expect(clientClaims).not.toHaveProperty('user_id');
    expect(clientClaims).not.toHaveProperty('sid');
    for (const jwt of [app.accessToken, userToken.accessToken]) {
      expect(decodeJwt(jwt).header).toMatchObject({ alg: 'RS512', typ: 'JWT' });
      expect(verifyRs512(jwt, jwks)).toEqual({ valid: true });
    }

    // Control: the verifier does reject a token whose payload was changed after signing.
    const [header, payload, signature] = userToken.accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const tampered = `${header}.${b64url(JSON.stringify({ ...claims, authorities: ['ROLE_ADMIN'] }))}.${signature}`;
    expect(verifyRs512(tampered, jwks)).toEqual({ valid: false, reason: 'signature' });
  });

  it('rotates the signing key without downtime: old tokens keep working and verifying', async () => {
    const before = await fetchJwks();
    expect(before.keys).toHaveLength(1);
    const oldKid = before.keys[0]!.kid as string;
    const oldApp = await loginClient(service, APP.id, APP.secret);
    const oldUser = await renewOk(service, oldApp.accessToken, {
      userId: user,
      clientId: APP.id,
      'remember-me': 'true',
    });
    expect(kidOf(oldApp.accessToken)).toBe(oldKid);
    expect(kidOf(oldUser.accessToken)).toBe(oldKid);

    const rotation = await runCli(deployment, ['keys', 'rotate']);
    expect(rotation.code, rotation.stderr).toBe(0);
    const newKid = /active key: (\S+)/.exec(rotation.stdout)?.[1];
    expect(newKid).toBeDefined();
    expect(newKid).not.toBe(oldKid);

    // Instances follow the registry every 10 s; meanwhile the service keeps answering.
    let current = oldUser;
    const served: number[] = [];
    const jwks = await waitUntil(
      'the JWKS to list the old and the new key',
      async () => {
        const response = await renewToken(service, oldApp.accessToken, {
          token: current.accessToken,
          'remember-me': 'true',
        });
        served.push(response.status);
        if (response.status === 200) current = (await response.json()) as typeof current;
        const set = await fetchJwks();
        return set.keys.length === 2 ? set : undefined;
      },
      { timeoutMs: 25_000, intervalMs: 500 },
    );
    expect(served.every((status) => status === 200)).toBe(true);
    expect(jwks.keys.map((key) => key.kid).sort()).toEqual([oldKid, newKid!].sort());

    // New tokens are signed with the new key...
    const newApp = await loginClient(service, APP.id, APP.secret);
    expect(kidOf(newApp.accessToken)).toBe(newKid);
    // ...the old user token still renews, presented by the old application token...
    const renewed = await renewOk(service, oldApp.accessToken, {
      token: oldUser.accessToken,
      'remember-me': 'true',
    });
    expect(kidOf(renewed.accessToken)).toBe(newKid);
    // ...and the old application token is still a valid caller for a new session.
    const another = await renewOk(service, oldApp.accessToken, {
      userId: authMeId(),
      clientId: APP.id,
      'remember-me': 'false',
    });
    expect(kidOf(another.accessToken)).toBe(newKid);

    // An outside verifier that fetched the JWKS now accepts tokens of either key.
    for (const jwt of [oldApp.accessToken, oldUser.accessToken, newApp.accessToken, renewed.accessToken]) {
      expect(verifyRs512(jwt, jwks)).toEqual({ valid: true });
    }

    const listing = await runCli(deployment, ['keys', 'list', '--json']);
    expect(listing.code, listing.stderr).toBe(0);
    const keys = JSON.parse(listing.stdout) as KeyListing[];
    expect(keys).toHaveLength(2);
    const active = keys.filter((key) => key.status === 'ACTIVE');
    const retired = keys.filter((key) => key.status === 'RETIRED');
    expect(active.map((key) => key.kid)).toEqual([newKid]);
    expect(retired.map((key) => key.kid)).toEqual([oldKid]);
    for (const key of keys) {
      expect(key.published).toBe(true);
      expect(key.privateKey).toBe(true);
    }
    // The retired key stays published at least as long as the tokens it signed live.
    const oldExpiry = Math.max(
      ...[oldApp.accessToken, oldUser.accessToken].map((jwt) => decodeJwt(jwt).payload.exp as number),
    );
    expect(Date.parse(retired[0]!.publishedUntil!)).toBeGreaterThanOrEqual(oldExpiry * 1_000);
  });
});
