import { describe, expect, it } from 'vitest';
import { EventType } from '../events/event-types';
import { decodeFakeToken, FakeTokenSigner } from '../testing/fake-token-signer';
import { SequentialIds, uuidNumber } from '../testing/sequential-ids';
import { aSession, HOUR, MINUTE, TEST_POLICY } from '../testing/session-fixtures';
import type { Session } from './session';
import { SessionTokenIssuer, type SessionClaims } from './session-token-issuer';
import type { UpdateCause } from './session-update';

const t0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const epoch = (date: Date) => Math.floor(date.getTime() / 1000);
const ISSUER = 'https://iam.example.test';

function setup() {
  const signer = new FakeTokenSigner();
  const ids = new SequentialIds(100);
  const issuer = new SessionTokenIssuer(signer, ids, ISSUER, TEST_POLICY);
  return { signer, ids, issuer };
}

const current: Session = aSession({
  id: 'sess-1',
  userId: 'user-1',
  clientId: 'client-1',
  businessId: null,
  createdAt: at(-1 * HOUR),
  expiresAt: at(7 * HOUR),
  claimsVersion: 4,
  authorities: ['ROLE_AUTH-BASIC', 'ROLE_OLD', 'ROLE_USER'],
  scope: ['READ'],
  tokenId: 'previous-token',
  tokenExpiresAt: at(-45 * MINUTE),
});

const next: SessionClaims = {
  businessId: 'biz-1',
  authorities: ['ROLE_AUTH-BASIC', 'ROLE_BUSINESS', 'ROLE_NEW', 'ROLE_USER'],
  scope: ['READ', 'WRITE'],
  expiresAt: at(7 * HOUR),
};

const eventCause: UpdateCause = {
  kind: 'event',
  eventId: 'evt-1',
  eventType: EventType.UserRoleGranted,
  occurredAt: new Date('2026-01-01T00:00:00Z'),
};

describe('SessionTokenIssuer', () => {
  it('grows the claims version by one and gives the session a new token id', async () => {
    const { issuer } = setup();
    const issued = await issuer.issue(current, next, t0, eventCause);
    expect(issued.session.claimsVersion).toBe(5);
    expect(issued.session.tokenId).toBe(uuidNumber(100));
    expect(issued.update.claimsVersion).toBe(5);
  });

  it('writes the next claims into the session and keeps the rest', async () => {
    const { issuer } = setup();
    const issued = await issuer.issue(current, next, t0, eventCause);
    expect(issued.session).toEqual({
      ...current,
      businessId: 'biz-1',
      authorities: next.authorities,
      scope: ['READ', 'WRITE'],
      expiresAt: at(7 * HOUR),
      claimsVersion: 5,
      revision: current.revision + 1,
      tokenId: uuidNumber(100),
      tokenExpiresAt: at(15 * MINUTE),
    });
  });

  it('does not modify the current session', async () => {
    const { issuer } = setup();
    const before = structuredClone(current);
    await issuer.issue(current, next, t0, eventCause);
    expect(current).toEqual(before);
  });

  it('signs the claims with jti first, in the documented order', async () => {
    const { issuer, signer } = setup();
    const issued = await issuer.issue(current, next, t0, eventCause);
    expect(signer.signed).toHaveLength(1);
    const claims = decodeFakeToken(issued.accessToken);
    expect(Object.keys(claims)).toEqual([
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
    ]);
    expect(claims).toEqual({
      jti: uuidNumber(100),
      iss: ISSUER,
      sub: 'user-1',
      sid: 'sess-1',
      client_id: 'client-1',
      user_id: 'user-1',
      business_id: 'biz-1',
      scope: ['READ', 'WRITE'],
      authorities: next.authorities,
      claims_version: 5,
      iat: epoch(t0),
      nbf: epoch(t0),
      exp: epoch(at(15 * MINUTE)),
    });
  });

  it('writes business_id null when the session acts for nobody else', async () => {
    const { issuer } = setup();
    const issued = await issuer.issue(current, { ...next, businessId: null }, t0, eventCause);
    expect(decodeFakeToken(issued.accessToken).business_id).toBeNull();
    expect(issued.session.businessId).toBeNull();
    expect(issued.update.businessId).toBeNull();
  });

  it('lets the token expire with the session when the session ends first', async () => {
    const { issuer } = setup();
    const issued = await issuer.issue(current, { ...next, expiresAt: at(10 * MINUTE) }, t0, eventCause);
    expect(issued.session.tokenExpiresAt).toEqual(at(10 * MINUTE));
    expect(issued.session.expiresAt).toEqual(at(10 * MINUTE));
    expect(issued.update.expiresAt).toEqual(at(10 * MINUTE));
    expect(decodeFakeToken(issued.accessToken).exp).toBe(epoch(at(10 * MINUTE)));
  });

  it('writes iat and exp in whole epoch seconds', async () => {
    const { issuer } = setup();
    const now = new Date('2026-03-01T10:00:00.999Z');
    const issued = await issuer.issue(current, next, now, eventCause);
    const claims = decodeFakeToken(issued.accessToken);
    expect(claims.iat).toBe(epoch(t0));
    expect(claims.exp).toBe(epoch(t0) + 15 * 60);
  });

  it('describes the update with the authorities added and removed, sorted', async () => {
    const { issuer } = setup();
    const issued = await issuer.issue(current, next, t0, eventCause);
    expect(issued.update).toEqual({
      type: EventType.SessionTokenRenewed,
      sessionId: 'sess-1',
      userId: 'user-1',
      clientId: 'client-1',
      businessId: 'biz-1',
      accessToken: issued.accessToken,
      expiresAt: at(15 * MINUTE),
      scope: ['READ', 'WRITE'],
      authorities: next.authorities,
      added: ['ROLE_BUSINESS', 'ROLE_NEW'],
      removed: ['ROLE_OLD'],
      claimsVersion: 5,
      cause: eventCause,
    });
  });

  it('reports no change when the authorities are the same', async () => {
    const { issuer } = setup();
    const issued = await issuer.issue(current, { ...next, authorities: current.authorities }, t0, {
      kind: 'http',
    });
    expect(issued.update.added).toEqual([]);
    expect(issued.update.removed).toEqual([]);
    expect(issued.update.cause).toEqual({ kind: 'http' });
  });

  it('reports every authority as added for a session that had no token yet', async () => {
    const { issuer } = setup();
    const fresh = aSession({ claimsVersion: 0, authorities: [], tokenId: '' });
    const issued = await issuer.issue(fresh, next, t0, { kind: 'http' });
    expect(issued.session.claimsVersion).toBe(1);
    expect(issued.update.added).toEqual(['ROLE_AUTH-BASIC', 'ROLE_BUSINESS', 'ROLE_NEW', 'ROLE_USER']);
    expect(issued.update.removed).toEqual([]);
  });

  it('gives every token its own id', async () => {
    const { issuer } = setup();
    const first = await issuer.issue(current, next, t0, eventCause);
    const second = await issuer.issue(first.session, next, at(MINUTE), eventCause);
    expect(first.session.tokenId).toBe(uuidNumber(100));
    expect(second.session.tokenId).toBe(uuidNumber(101));
    expect(second.session.claimsVersion).toBe(6);
    expect(decodeFakeToken(second.accessToken).jti).toBe(uuidNumber(101));
  });
});
