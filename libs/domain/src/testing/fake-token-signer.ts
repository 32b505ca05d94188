import type { AccessTokenClaims, TokenSigner } from '../tokens/access-token';
import { base64UrlDecode, base64UrlEncode } from './base64url';

const FAKE_HEADER = base64UrlEncode(JSON.stringify({ alg: 'RS512', typ: 'JWT', kid: 'fake-key' }));
const FAKE_SIGNATURE = 'fake-signature';

/** Signs nothing: `header.payload.signature` with the claims JSON base64url-encoded as the payload. */
export class FakeTokenSigner implements TokenSigner {
  readonly signed: AccessTokenClaims[] = [];

  async sign(claims: AccessTokenClaims): Promise<string> {
    this.signed.push(claims);
    return `${FAKE_HEADER}.${base64UrlEncode(JSON.stringify(claims))}.${FAKE_SIGNATURE}`;
  }
}

/** The claims inside a token of the fake signer, in their written order. */
export function decodeFakeToken(token: string): AccessTokenClaims {
  const [header, payload, signature] = token.split('.');
  if (header !== FAKE_HEADER || payload === undefined || signature !== FAKE_SIGNATURE) {
    throw new Error(`not a token of the fake signer: ${token}`);
  }
  return JSON.parse(base64UrlDecode(payload)) as AccessTokenClaims;
}
