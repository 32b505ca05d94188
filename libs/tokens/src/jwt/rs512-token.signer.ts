import { sign, type KeyObject } from 'node:crypto';
import type { AccessTokenClaims, TokenSigner } from '@iam/domain';
import { SIGNING_ALGORITHM } from '../keys/rsa-jwk';
import type { ActiveSigningKey } from '../keys/signing-key-ring';

/** What the signer needs of the key ring. */
export interface SigningKeySource {
  signingKey(): ActiveSigningKey;
}

/** RS512 is RSASSA-PKCS1-v1_5 over SHA-512 (RFC 7518 §3.3), node:crypto's default padding for RSA keys. */
const DIGEST = 'sha512';

/**
 * The RSA operation (~0.3–0.5 ms) runs on libuv's thread pool; handing it over
 * costs the main thread ~5 µs measured alone. Under load the profile charges
 * far more to this call: the main thread waiting for a core on a saturated
 * machine, not work (batching signatures to worker threads did not help;
 * docs/benchmarks-history.md, fifth session).
 */
function signAsync(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sign(DIGEST, data, key, (error, signature) => (error ? reject(error) : resolve(signature))),
  );
}

const base64urlJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs access tokens: compact JWS (RFC 7515), RS512, with the key ring's active key. */
export class Rs512TokenSigner implements TokenSigner {
  /** The protected header depends only on the kid: encoded once per key. */
  private header: { readonly kid: string; readonly encoded: string } | undefined;

  constructor(private readonly keys: SigningKeySource) {}

  async sign(claims: AccessTokenClaims): Promise<string> {
    const { kid, privateKey } = this.keys.signingKey();
    // The claims are serialised as given, so they keep the domain's order (`jti` first, as AuthMe writes it).
    const signingInput = `${this.encodedHeader(kid)}.${base64urlJson(claims)}`;
    const signature = await signAsync(Buffer.from(signingInput), privateKey);
    return `${signingInput}.${signature.toString('base64url')}`;
  }

  private encodedHeader(kid: string): string {
    if (this.header?.kid !== kid) {
      this.header = { kid, encoded: base64urlJson({ alg: SIGNING_ALGORITHM, typ: 'JWT', kid }) };
    }
    return this.header.encoded;
  }
}
