import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { expect } from 'vitest';
import { userClaimsOf, type Application, type UserTokenClaims } from './applications';
import type { InboundCloudEvent } from './events';
import type { Deployment, ServiceInstance } from './service';
import { openSealedToken, type SessionUpdateLog, type TokenRenewedData } from './session-updates';

/** `added`/`removed` between two authority lists, as the service computes them. */
export function authorityDiff(before: readonly string[], after: readonly string[]) {
  return {
    added: after.filter((authority) => !before.includes(authority)).sort(),
    removed: before.filter((authority) => !after.includes(authority)).sort(),
  };
}

/** Verifies a JWT against the deployment's published keys (RS512, its issuer). */
export async function verifiedClaims(service: ServiceInstance, jwt: string): Promise<UserTokenClaims> {
  const response = await service.fetch('/security/iam/v1/keys');
  const jwks = createLocalJWKSet((await response.json()) as JSONWebKeySet);
  const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
    issuer: service.deployment.env.TOKEN_ISSUER,
    algorithms: ['RS512'],
  });
  expect(protectedHeader.alg).toBe('RS512');
  return payload as unknown as UserTokenClaims;
}

export interface ExpectedReissue {
  /** The session's state before the event: the claims of its latest token. */
  readonly before: UserTokenClaims;
  readonly authorities: readonly string[];
  /** The business the session acts for afterwards (default: unchanged). */
  readonly businessId?: string | null;
}

/**
 * Asserts that an event re-issued a session's token exactly as the contract
 * says, on the topic and in the token itself, and that the next HTTP renewal
 * continues from it. Returns the claims of that HTTP-renewed token.
 */
export async function expectReissued(
  context: { deployment: Deployment; service: ServiceInstance; updates: SessionUpdateLog; app: Application },
  event: InboundCloudEvent,
  expected: ExpectedReissue,
): Promise<UserTokenClaims> {
  const { before } = expected;
  const businessId = expected.businessId === undefined ? before.business_id : expected.businessId;
  const matches = await context.updates.waitFor(
    (update) =>
      update.event.data.sessionId === before.sid &&
      update.event.data.cause.kind === 'event' &&
      update.event.data.cause.eventId === event.id,
  );
  expect(matches).toHaveLength(1);
  const [{ record, event: pushed }] = matches as [(typeof matches)[number]];
  expect(record.key).toBe(before.user_id);
  expect(record.headers['content-type']).toBe('application/cloudevents+json');
  expect(pushed).toMatchObject({
    specversion: '1.0',
    type: 'iam.session.token-renewed',
    source: '/iam/token-renewal',
    subject: before.sid,
    datacontenttype: 'application/json',
  });
  const data = pushed.data as TokenRenewedData;
  const { added, removed } = authorityDiff(before.authorities, [...expected.authorities]);
  expect(data).toEqual({
    sessionId: before.sid,
    userId: before.user_id,
    clientId: before.client_id,
    businessId,
    accessToken: expect.any(String),
    tokenEncryption: 'jwe',
    tokenType: 'Bearer',
    expiresIn: expect.stringMatching(/^\d+$/),
    scope: before.scope,
    authorities: [...expected.authorities],
    added,
    removed,
    claimsVersion: before.claims_version + 1,
    cause: { kind: 'event', eventId: event.id, eventType: event.type },
  });

  // The pushed token is a JWE only the downstream recipient opens, wrapping a token of ours.
  expect(data.accessToken.split('.')).toHaveLength(5);
  const jwt = await openSealedToken(context.deployment, data.accessToken);
  const claims = await verifiedClaims(context.service, jwt);
  expect(claims).toMatchObject({
    sid: before.sid,
    sub: before.user_id,
    user_id: before.user_id,
    client_id: before.client_id,
    business_id: businessId,
    authorities: [...expected.authorities],
    scope: before.scope,
    claims_version: before.claims_version + 1,
  });
  expect(Number(data.expiresIn)).toBe((claims as unknown as { exp: number }).exp);

  // The next HTTP renewal continues the same session from the new state.
  const next = await context.app.session(before.user_id);
  expect(next.claims).toMatchObject({
    sid: before.sid,
    business_id: businessId,
    authorities: [...expected.authorities],
    claims_version: before.claims_version + 2,
  });
  return userClaimsOf(next.response.accessToken);
}
