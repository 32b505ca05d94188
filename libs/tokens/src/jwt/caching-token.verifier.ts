import type { Clock, TokenVerifier, VerifiedToken } from '@iam/domain';
import type { KeyedTokenVerifier } from './rs512-token.verifier';

interface Entry {
  readonly token: VerifiedToken;
  /** The key that verified the token, as the verifier read it. */
  readonly kid: string;
  readonly expiresAtMs: number;
}

/** Whether a key id is still published for verification (the key ring's answer). */
export type KeyPublished = (kid: string) => boolean;

/**
 * Remembers tokens already verified, until they expire. Meant for callers'
 * tokens: an application presents the same token on every request for its
 * whole lifetime, and a verified JWT cannot change. A hit still requires the
 * signing key to be published, so a key withdrawn from the ring stops its
 * tokens here as it does in the verifier. Rejections are not cached (a retry
 * with a clock within tolerance may pass). Least recently used entries go
 * first once `maxEntries` is reached.
 */
export class CachingTokenVerifier implements TokenVerifier {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly verifier: KeyedTokenVerifier,
    private readonly clock: Clock,
    private readonly keyPublished: KeyPublished,
    private readonly maxEntries = 10_000,
  ) {}

  async verify(token: string): Promise<VerifiedToken> {
    const now = this.clock.now().getTime();
    const cached = this.entries.get(token);
    if (cached && cached.expiresAtMs > now && this.keyPublished(cached.kid)) {
      this.entries.delete(token);
      this.entries.set(token, cached);
      return cached.token;
    }
    if (cached) this.entries.delete(token);
    const { verified, kid } = await this.verifier.verifyKeyed(token);
    this.entries.set(token, { token: verified, kid, expiresAtMs: verified.expiresAt.getTime() });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return verified;
  }
}
