import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { SecretVerifier } from '@iam/domain';

interface ScryptParameters {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

// OWASP's scrypt minimum is N=2^17 with r=8; N=2^15 (32 MiB, about 50-100 ms) is the
// compromise for secrets that are machine-generated and long, checked on every client login.
const DEFAULT: ScryptParameters = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const PREFIX = 'scrypt';

// Bounds on stored parameters: a corrupted or hostile row must not make one login take seconds or gigabytes.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/**
 * A hash that matches no secret, computed with the default parameters. Checked
 * when the client is unknown, so that an unknown client id costs the same time
 * as a known one with a wrong secret.
 */
const DUMMY_HASH = `${PREFIX}$${DEFAULT.N}$${DEFAULT.r}$${DEFAULT.p}$AAAAAAAAAAAAAAAAAAAAAA==$${Buffer.alloc(KEY_LENGTH).toString('base64')}`;

export class MalformedSecretHashError extends Error {
  constructor() {
    super('stored client secret hash is malformed');
    this.name = 'MalformedSecretHashError';
  }
}

interface StoredHash extends ScryptParameters {
  readonly salt: Buffer;
  readonly hash: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parse(stored: string): StoredHash {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) throw new MalformedSecretHashError();
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  const valid =
    Number.isSafeInteger(N) &&
    N >= 2 &&
    N <= MAX_N &&
    (N & (N - 1)) === 0 &&
    Number.isSafeInteger(R) &&
    R >= 1 &&
    R <= MAX_R &&
    Number.isSafeInteger(P) &&
    P >= 1 &&
    P <= MAX_P &&
    BASE64.test(salt) &&
    BASE64.test(hash);
  if (!valid) throw new MalformedSecretHashError();
  const parsed = { N, r: R, p: P, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  if (parsed.salt.length < SALT_LENGTH || parsed.hash.length < 16 || parsed.hash.length > 64) {
    throw new MalformedSecretHashError();
  }
  return parsed;
}

/** Runs scrypt on libuv's thread pool, so a login does not block the event loop. */
function derive(
  secret: string,
  salt: Buffer,
  length: number,
  { N, r, p }: ScryptParameters,
): Promise<Buffer> {
  // Node refuses anything above 32 MiB by default, which N=2^15, r=8 needs exactly; allow what the parameters need.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * r * (N + p + 2) + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFC'), salt, length, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** Client secrets: scrypt, stored as `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`. */
export class ScryptSecretHasher implements SecretVerifier {
  async hash(secret: string): Promise<string> {
    if (secret.length === 0) throw new RangeError('a client secret must not be empty');
    const salt = randomBytes(SALT_LENGTH);
    const hash = await derive(secret, salt, KEY_LENGTH, DEFAULT);
    return [PREFIX, DEFAULT.N, DEFAULT.r, DEFAULT.p, salt.toString('base64'), hash.toString('base64')].join(
      '$',
    );
  }

  /**
   * Constant time in the secret; with no stored hash (unknown client, or a client
   * without a secret) it does the same work against a dummy hash and says no.
   */
  async verify(secret: string, stored: string | null): Promise<boolean> {
    const expected = parse(stored ?? DUMMY_HASH);
    const actual = await derive(secret, expected.salt, expected.hash.length, expected);
    const same = timingSafeEqual(actual, expected.hash);
    return stored !== null && same;
  }
}
