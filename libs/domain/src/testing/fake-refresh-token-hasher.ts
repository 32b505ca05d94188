import type { RefreshTokenHasher } from '../ports/refresh-token-hasher';

/** A readable, deterministic stand-in for the one-way hash. */
export class FakeRefreshTokenHasher implements RefreshTokenHasher {
  hash(token: string): string {
    return `hash(${token})`;
  }
}
