import { readFile, stat } from 'node:fs/promises';
import { CompactEncrypt, importJWK, type CryptoKey } from 'jose';
import { isJsonObject, rsaThumbprint, toRsaPublicJwk } from '../keys/rsa-jwk';
import type { TokenEncryption, TokenSealer } from './token-sealer';

export const KEY_MANAGEMENT_ALGORITHM = 'RSA-OAEP-256';
export const CONTENT_ENCRYPTION = 'A256GCM';

const SETTING = 'SESSION_UPDATE_RECIPIENT_JWK';
const MAX_JWK_FILE_BYTES = 64 * 1024;

const encoder = new TextEncoder();

async function readKeyFile(path: string): Promise<string> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (cause) {
    throw new Error(`${SETTING}: cannot read the key file ${path}`, { cause });
  }
  // Checked before reading: a wrong path must not pull a large file into memory.
  if (size > MAX_JWK_FILE_BYTES) throw new Error(`${SETTING}: ${path} is too large to be a JWK`);
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new Error(`${SETTING}: cannot read the key file ${path}`, { cause });
  }
}

/** Reads the setting: inline JWK JSON, or the path of a JSON file holding it. */
async function readSetting(setting: string): Promise<unknown> {
  const inline = setting.trimStart().startsWith('{');
  const text = inline ? setting : await readKeyFile(setting);
  try {
    return JSON.parse(text);
  } catch {
    // No cause: V8's parse errors quote the text, which may hold a private key.
    throw new Error(inline ? `${SETTING}: not valid JSON` : `${SETTING}: ${setting} is not valid JSON`);
  }
}

/**
 * Seals tokens for downstream services: compact JWE, RSA-OAEP-256 key wrap and
 * A256GCM content encryption, to the recipient's public key. Only the public
 * members of the configured key are used (a private JWK is accepted, its
 * private members are dropped at once).
 */
export class JweTokenSealer implements TokenSealer {
  readonly encryption: TokenEncryption = 'jwe';

  private constructor(
    private readonly recipientKey: CryptoKey,
    /** The recipient's own `kid`, or its RFC 7638 thumbprint when it has none. */
    readonly kid: string,
  ) {}

  /** From SESSION_UPDATE_RECIPIENT_JWK: inline JWK JSON, or the path of a JSON file. */
  static async fromConfiguration(setting: string): Promise<JweTokenSealer> {
    return JweTokenSealer.fromJwk(await readSetting(setting));
  }

  static async fromJwk(value: unknown): Promise<JweTokenSealer> {
    if (!isJsonObject(value)) throw new Error(`${SETTING}: not a JWK object`);
    const { alg, use, kid } = value;
    // A key marked for something else (signing, another algorithm) is a configuration mistake.
    if (alg !== undefined && alg !== KEY_MANAGEMENT_ALGORITHM) {
      throw new Error(`${SETTING}: the key is marked for ${String(alg)}, not ${KEY_MANAGEMENT_ALGORITHM}`);
    }
    if (use !== undefined && use !== 'enc')
      throw new Error(`${SETTING}: the key is not marked for encryption`);
    const publicJwk = toRsaPublicJwk(value, SETTING);
    const recipientKey = await importJWK({ ...publicJwk }, KEY_MANAGEMENT_ALGORITHM);
    const keyId = typeof kid === 'string' && kid.length > 0 ? kid : await rsaThumbprint(publicJwk);
    return new JweTokenSealer(recipientKey, keyId);
  }

  seal(jwt: string): Promise<string> {
    return new CompactEncrypt(encoder.encode(jwt))
      .setProtectedHeader({
        alg: KEY_MANAGEMENT_ALGORITHM,
        enc: CONTENT_ENCRYPTION,
        cty: 'JWT',
        kid: this.kid,
      })
      .encrypt(this.recipientKey);
  }
}
