import { TokenRejectedError, type TokenVerifier, type VerifiedToken } from '../tokens/access-token';

/** Knows a fixed set of token strings; every other string is rejected. */
export class FakeTokenVerifier implements TokenVerifier {
  private readonly known = new Map<string, VerifiedToken>();
  readonly verified: string[] = [];

  accept(token: string, verified: VerifiedToken): this {
    this.known.set(token, verified);
    return this;
  }

  forget(token: string): void {
    this.known.delete(token);
  }

  async verify(token: string): Promise<VerifiedToken> {
    this.verified.push(token);
    const verified = this.known.get(token);
    if (!verified) throw new TokenRejectedError('unknown token');
    return verified;
  }
}

/** A client's own token (no session, no user). */
export function clientToken(
  clientId: string,
  roles: readonly string[],
  expiresAt = new Date('2100-01-01T00:00:00Z'),
): VerifiedToken {
  return {
    tokenId: `client-token-${clientId}`,
    clientId,
    authorities: roles.map((role) => `ROLE_${role}`),
    sessionId: undefined,
    userId: undefined,
    businessId: null,
    expiresAt,
  };
}

/** A user's token of a session. */
export function userToken(fields: {
  readonly sessionId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly businessId?: string | null;
  readonly roles?: readonly string[];
  readonly tokenId?: string;
  readonly expiresAt?: Date;
}): VerifiedToken {
  return {
    tokenId: fields.tokenId ?? `user-token-${fields.sessionId}`,
    clientId: fields.clientId,
    authorities: (fields.roles ?? []).map((role) => `ROLE_${role}`),
    sessionId: fields.sessionId,
    userId: fields.userId,
    businessId: fields.businessId ?? null,
    expiresAt: fields.expiresAt ?? new Date('2100-01-01T00:00:00Z'),
  };
}
