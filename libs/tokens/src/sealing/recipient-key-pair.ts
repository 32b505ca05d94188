import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { ensurePrivateDirectory, writeKeyJsonFile } from '../keys/key-files';
import { isJsonObject, rsaThumbprint, toRsaPublicJwk } from '../keys/rsa-jwk';
import { KEY_MANAGEMENT_ALGORITHM } from './jwe-token.sealer';

export const RECIPIENT_PRIVATE_KEY_FILE = 'session-update-recipient.private.jwk.json';
export const RECIPIENT_PUBLIC_KEY_FILE = 'session-update-recipient.public.jwk.json';

export interface RecipientKeyPairFiles {
  /** For the downstream consumer that decrypts the tokens; never for this service. */
  readonly privateJwkPath: string;
  /** What SESSION_UPDATE_RECIPIENT_JWK points at. */
  readonly publicJwkPath: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function parsePrivateJwk(text: string, path: string): JsonWebKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // No cause: V8's parse errors quote the text, and the text is a private key.
    throw new Error(`${path}: not valid JSON`);
  }
  if (!isJsonObject(json)) throw new Error(`${path}: not a JWK object`);
  return json as JsonWebKey;
}

/** The public half of a private JWK, with the same kid. */
async function publicHalf(privateJwk: JsonWebKey, path: string): Promise<object> {
  let jwk: JsonWebKey;
  try {
    jwk = createPublicKey(createPrivateKey({ key: privateJwk, format: 'jwk' })).export({ format: 'jwk' });
  } catch (cause) {
    throw new Error(`${path}: not an RSA private JWK`, { cause });
  }
  const publicJwk = toRsaPublicJwk(jwk, path);
  const kid = typeof privateJwk.kid === 'string' ? privateJwk.kid : await rsaThumbprint(publicJwk);
  return { kid, ...publicJwk, alg: KEY_MANAGEMENT_ALGORITHM, use: 'enc' };
}

/**
 * The local quick start's stand-in for a downstream consumer's key pair: writes
 * `session-update-recipient.private.jwk.json` (0600) and its public half into
 * `dir` unless they exist, and returns both paths. An existing private key is
 * kept; a public key without its private key is refused rather than replaced.
 */
export async function generateRecipientKeyPair(dir: string): Promise<RecipientKeyPairFiles> {
  const privateJwkPath = join(dir, RECIPIENT_PRIVATE_KEY_FILE);
  const publicJwkPath = join(dir, RECIPIENT_PUBLIC_KEY_FILE);
  await ensurePrivateDirectory(dir);

  let privateJwk: JsonWebKey;
  if (await exists(privateJwkPath)) {
    privateJwk = parsePrivateJwk(await readFile(privateJwkPath, 'utf8'), privateJwkPath);
  } else {
    if (await exists(publicJwkPath)) {
      throw new Error(
        `${publicJwkPath} exists without ${RECIPIENT_PRIVATE_KEY_FILE}; remove it or restore the private key`,
      );
    }
    const { privateKey } = await generateKeyPair(KEY_MANAGEMENT_ALGORITHM, {
      extractable: true,
      modulusLength: 2048,
    });
    const generated = await exportJWK(privateKey);
    const kid = await rsaThumbprint(toRsaPublicJwk(generated, 'generated recipient key'));
    privateJwk = { ...generated, kid, alg: KEY_MANAGEMENT_ALGORITHM, use: 'enc' } as JsonWebKey;
    await writeKeyJsonFile(privateJwkPath, privateJwk);
  }

  if (!(await exists(publicJwkPath))) {
    // A public key is no secret: readable by the consumers that need it.
    await writeKeyJsonFile(publicJwkPath, await publicHalf(privateJwk, privateJwkPath), 0o644);
  }
  return { privateJwkPath, publicJwkPath };
}
