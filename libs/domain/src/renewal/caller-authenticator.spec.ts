import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors';
import { parseRequirement } from '../requirements/requirement-expression';
import { clientToken, FakeTokenVerifier, userToken } from '../testing/fake-token-verifier';
import { CallerAuthenticator, verifyOr } from './caller-authenticator';

const requirement = parseRequirement(
  'CLI-AUTH-IDENTIFIED and CLI-1STPARTY or CLI-AUTH-IDENTIFIED and CLI-1STPARTY and AUTH-BASIC and USER',
);
const app = clientToken('c1', ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY']);
const verifier = new FakeTokenVerifier()
  .accept('app', app)
  .accept('third-party', clientToken('c3', ['CLI-AUTH-IDENTIFIED', 'CLI-3RDPARTY']))
  .accept('no-prefix', { ...app, authorities: ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'] })
  .accept('user', userToken({ sessionId: 's', userId: 'u', clientId: 'c1', roles: ['USER', 'AUTH-BASIC'] }));
const authenticator = new CallerAuthenticator(verifier, requirement);

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('CallerAuthenticator', () => {
  it('returns the verified caller when its client meets the requirement', async () => {
    await expect(authenticator.authenticate('app')).resolves.toBe(app);
  });

  it.each([undefined, ''])(
    'refuses a missing bearer (%j) as unauthenticated INVALID_CALLER_TOKEN',
    async (bearer) => {
      const error = await refusal(authenticator.authenticate(bearer));
      expect([error.kind, error.code]).toEqual(['unauthenticated', 'INVALID_CALLER_TOKEN']);
    },
  );

  it('refuses a bearer the verifier rejects as unauthenticated INVALID_CALLER_TOKEN', async () => {
    const error = await refusal(authenticator.authenticate('forged'));
    expect([error.kind, error.code]).toEqual(['unauthenticated', 'INVALID_CALLER_TOKEN']);
  });

  it('refuses a client without the required roles as forbidden CLIENT_REQUIREMENT_NOT_MET', async () => {
    const error = await refusal(authenticator.authenticate('third-party'));
    expect([error.kind, error.code]).toEqual(['forbidden', 'CLIENT_REQUIREMENT_NOT_MET']);
  });

  it('reads roles only from ROLE_-prefixed authorities', async () => {
    const error = await refusal(authenticator.authenticate('no-prefix'));
    expect(error.code).toBe('CLIENT_REQUIREMENT_NOT_MET');
  });

  it("refuses a user's token whose client lacks the client roles", async () => {
    const error = await refusal(authenticator.authenticate('user'));
    expect(error.code).toBe('CLIENT_REQUIREMENT_NOT_MET');
  });
});

describe('verifyOr', () => {
  it('turns a rejection into unauthenticated with the given code', async () => {
    const error = await refusal(verifyOr(verifier, 'forged', 'INVALID_TOKEN', 'token is not valid'));
    expect([error.kind, error.code, error.message]).toEqual([
      'unauthenticated',
      'INVALID_TOKEN',
      'token is not valid',
    ]);
  });

  it('lets other failures through', async () => {
    const failure = new Error('boom');
    const broken = { verify: async () => Promise.reject(failure) };
    await expect(verifyOr(broken, 'x', 'INVALID_TOKEN', 'm')).rejects.toBe(failure);
  });
});
