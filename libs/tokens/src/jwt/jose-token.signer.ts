import { CompactSign } from 'jose';
import type { AccessTokenClaims, TokenSigner } from '@iam/domain';
import { SIGNING_ALGORITHM } from '../keys/rsa-jwk';
import type { ActiveSigningKey } from '../keys/signing-key-ring';

/** What the signer needs of the key ring. */
export interface SigningKeySource {
  signingKey(): ActiveSigningKey;
}

const encoder = new TextEncoder();

/** Signs access tokens: compact JWS, RS512, with the key ring's active key. */
export class JoseTokenSigner implements TokenSigner {
  constructor(private readonly keys: SigningKeySource) {}

  async sign(claims: AccessTokenClaims): Promise<string> {
    const { kid, privateKey } = this.keys.signingKey();
    // The payload is serialised here, not by jose's JWT builder, so the claims keep
    // the order the domain gave them (`jti` first, as AuthMe writes it).
    return new CompactSign(encoder.encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, typ: 'JWT', kid })
      .sign(privateKey);
  }
}
