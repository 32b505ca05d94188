/** How a token travels on the session-update topic (events.md: `tokenEncryption`). */
export type TokenEncryption = 'jwe' | 'none';

/** Wraps a signed JWT before it is published for downstream services. */
export interface TokenSealer {
  readonly encryption: TokenEncryption;
  seal(jwt: string): Promise<string>;
}
