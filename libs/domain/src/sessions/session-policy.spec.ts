import { describe, expect, it } from 'vitest';
import { aSession, DAY, HOUR, MINUTE, TEST_POLICY } from '../testing/session-fixtures';
import { accessTokenExpiry, initialExpiry, renewedExpiry, sessionLifetimeMs } from './session-policy';

const t0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

describe('sessionLifetimeMs', () => {
  it('is the remember-me lifetime when the user is remembered', () => {
    expect(sessionLifetimeMs(TEST_POLICY, true)).toBe(30 * DAY);
  });

  it('is the ordinary lifetime otherwise', () => {
    expect(sessionLifetimeMs(TEST_POLICY, false)).toBe(8 * HOUR);
  });
});

describe('initialExpiry', () => {
  it('ends an ordinary session after the session lifetime', () => {
    expect(initialExpiry(TEST_POLICY, false, t0)).toEqual(at(8 * HOUR));
  });

  it('ends a remembered session after the remember-me lifetime', () => {
    expect(initialExpiry(TEST_POLICY, true, t0)).toEqual(at(30 * DAY));
  });

  it('does not change the instant it is given', () => {
    const now = new Date(t0);
    initialExpiry(TEST_POLICY, true, now);
    expect(now).toEqual(t0);
  });
});

describe('renewedExpiry', () => {
  const ordinary = aSession({ createdAt: t0, expiresAt: at(8 * HOUR), rememberMe: false });
  const remembered = aSession({ createdAt: t0, expiresAt: at(30 * DAY), rememberMe: true });

  it('keeps the end of an ordinary session renewed without remember-me', () => {
    expect(renewedExpiry(ordinary, TEST_POLICY, false)).toEqual(at(8 * HOUR));
  });

  it('never extends an ordinary session, even when remember-me is asked for', () => {
    expect(renewedExpiry(ordinary, TEST_POLICY, true)).toEqual(at(8 * HOUR));
  });

  it('keeps the end of a remembered session renewed with remember-me', () => {
    expect(renewedExpiry(remembered, TEST_POLICY, true)).toEqual(at(30 * DAY));
  });

  it('shortens a remembered session to the ordinary lifetime, counted from its start, without remember-me', () => {
    expect(renewedExpiry(remembered, TEST_POLICY, false)).toEqual(at(8 * HOUR));
  });

  it('never lengthens a session that was shortened before', () => {
    const shortened = aSession({ createdAt: t0, expiresAt: at(2 * HOUR), rememberMe: true });
    expect(renewedExpiry(shortened, TEST_POLICY, true)).toEqual(at(2 * HOUR));
    expect(renewedExpiry(shortened, TEST_POLICY, false)).toEqual(at(2 * HOUR));
  });

  it('does not depend on the policy growing after the session started', () => {
    const longer = { ...TEST_POLICY, sessionTtlMs: 24 * HOUR, rememberMeSessionTtlMs: 90 * DAY };
    expect(renewedExpiry(ordinary, longer, false)).toEqual(at(8 * HOUR));
    expect(renewedExpiry(remembered, longer, true)).toEqual(at(30 * DAY));
  });

  it('applies a policy that shrank after the session started', () => {
    const shorter = { ...TEST_POLICY, sessionTtlMs: 1 * HOUR };
    expect(renewedExpiry(ordinary, shorter, false)).toEqual(at(1 * HOUR));
  });
});

describe('accessTokenExpiry', () => {
  it('is the token lifetime from now when the session lasts longer', () => {
    expect(accessTokenExpiry(TEST_POLICY, t0, at(8 * HOUR))).toEqual(at(15 * MINUTE));
  });

  it('never outlives the session', () => {
    expect(accessTokenExpiry(TEST_POLICY, t0, at(5 * MINUTE))).toEqual(at(5 * MINUTE));
  });

  it('is the session end when both coincide', () => {
    expect(accessTokenExpiry(TEST_POLICY, t0, at(15 * MINUTE))).toEqual(at(15 * MINUTE));
  });
});
