import type { TokenEncryption, TokenSealer } from './token-sealer';

/**
 * Publishes the JWT as it is. Only when the operator chose it
 * (SESSION_UPDATE_PLAINTEXT=true): anyone who can read the topic can then use the tokens.
 */
export class PlaintextTokenSealer implements TokenSealer {
  readonly encryption: TokenEncryption = 'none';

  seal(jwt: string): Promise<string> {
    return Promise.resolve(jwt);
  }
}
