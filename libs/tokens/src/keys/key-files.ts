import { createPrivateKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey } from 'jose';
import {
  MIN_RSA_MODULUS_BITS,
  SIGNING_ALGORITHM,
  isJsonObject,
  publicSigningJwk,
  rsaThumbprint,
  toRsaPublicJwk,
  type PublicSigningJwk,
} from './rsa-jwk';

/** A private signing key read from the keys directory. */
export interface SigningKeyFile {
  /** RFC 7638 thumbprint of the public key: the same key always gets the same kid. */
  readonly kid: string;
  readonly path: string;
  readonly modifiedAt: Date;
  readonly publicJwk: PublicSigningJwk;
  /**
   * Imported non-extractable, so WebCrypto will not export it. Not a boundary inside the
   * process: node:crypto's KeyObject.from (the ring's form for the signer) can export any key.
   */
  readonly privateKey: CryptoKey;
}

export class KeyFileError extends Error {
  constructor(
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`signing key file ${path}: ${problem}`, options);
    this.name = 'KeyFileError';
  }
}

const PEM_EXTENSIONS = new Set(['.pem']);
const JWK_EXTENSIONS = new Set(['.jwk', '.json']);
// A private key file is a few kilobytes; refusing anything larger keeps a wrong path from filling memory.
const MAX_KEY_FILE_BYTES = 64 * 1024;
const PEM_PRIVATE_KEY = /-----BEGIN (RSA )?PRIVATE KEY-----/;

function isKeyFileName(name: string): boolean {
  // Hidden entries are skipped: editors' backups, and Kubernetes' `..data` links in mounted secrets.
  if (name.startsWith('.')) return false;
  const extension = extname(name).toLowerCase();
  return PEM_EXTENSIONS.has(extension) || JWK_EXTENSIONS.has(extension);
}

function parsePem(path: string, text: string): KeyObject {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) {
    throw new KeyFileError(
      path,
      'encrypted PEM keys are not supported; store the key unencrypted with mode 0600',
    );
  }
  if (!PEM_PRIVATE_KEY.test(text)) {
    throw new KeyFileError(
      path,
      'expected a "BEGIN PRIVATE KEY" (PKCS#8) or "BEGIN RSA PRIVATE KEY" (PKCS#1) block',
    );
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch (cause) {
    throw new KeyFileError(path, 'not a readable PEM private key', { cause });
  }
}

function parseJwk(path: string, text: string): KeyObject {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // No cause: V8's parse errors quote the text, and the text is a private key.
    throw new KeyFileError(path, 'not valid JSON');
  }
  if (!isJsonObject(json)) throw new KeyFileError(path, 'not a JWK object');
  if (json.kty !== 'RSA') throw new KeyFileError(path, 'not an RSA key (kty must be "RSA")');
  if (typeof json.d !== 'string') throw new KeyFileError(path, 'not a private key (the member d is missing)');
  // A key meant for another algorithm or for encryption must not end up signing our tokens.
  if (json.alg !== undefined && json.alg !== SIGNING_ALGORITHM) {
    throw new KeyFileError(path, `the key is marked for ${String(json.alg)}, not ${SIGNING_ALGORITHM}`);
  }
  if (json.use !== undefined && json.use !== 'sig')
    throw new KeyFileError(path, 'the key is not marked for signing');
  try {
    return createPrivateKey({ key: json as JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw new KeyFileError(path, 'not a valid RSA private JWK', { cause });
  }
}

interface IdentifiedKey {
  readonly kid: string;
  readonly publicJwk: PublicSigningJwk;
  readonly privateJwk: JsonWebKey;
}

/** Checks a parsed private key and names it; the kid is derived from the key, never taken from the file. */
async function identify(path: string, key: KeyObject): Promise<IdentifiedKey> {
  // Plain RSA only: "rsa-pss" keys cannot sign RS512, EC keys are another algorithm family.
  if (key.asymmetricKeyType !== 'rsa') throw new KeyFileError(path, 'not an RSA private key');
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_MODULUS_BITS) {
    throw new KeyFileError(
      path,
      `the RSA key has ${bits} bits, at least ${MIN_RSA_MODULUS_BITS} are required`,
    );
  }
  const privateJwk = key.export({ format: 'jwk' });
  const publicJwk = toRsaPublicJwk(privateJwk, path);
  const kid = await rsaThumbprint(publicJwk);
  return { kid, publicJwk: publicSigningJwk(publicJwk, kid), privateJwk };
}

async function toSigningKeyFile(path: string, key: KeyObject, modifiedAt: Date): Promise<SigningKeyFile> {
  const { kid, publicJwk, privateJwk } = await identify(path, key);
  const privateKey = await importJWK(
    { ...privateJwk, kty: 'RSA', alg: SIGNING_ALGORITHM },
    SIGNING_ALGORITHM,
    {
      extractable: false,
    },
  );
  return { kid, path, modifiedAt, publicJwk, privateKey };
}

async function parseKeyFile(path: string): Promise<{ key: KeyObject; modifiedAt: Date }> {
  const info = await stat(path);
  if (!info.isFile()) throw new KeyFileError(path, 'not a regular file');
  if (info.size > MAX_KEY_FILE_BYTES) throw new KeyFileError(path, 'too large to be a key file');
  const text = await readFile(path, 'utf8');
  const extension = extname(path).toLowerCase();
  if (PEM_EXTENSIONS.has(extension)) return { key: parsePem(path, text), modifiedAt: info.mtime };
  if (JWK_EXTENSIONS.has(extension)) return { key: parseJwk(path, text), modifiedAt: info.mtime };
  throw new KeyFileError(path, 'unknown kind of key file: use *.pem, *.jwk or *.json');
}

/** Reads one private key: PEM (PKCS#8 or PKCS#1) or JWK JSON, RSA of at least 2048 bits. */
export async function readSigningKeyFile(path: string): Promise<SigningKeyFile> {
  const { key, modifiedAt } = await parseKeyFile(path);
  return toSigningKeyFile(path, key, modifiedAt);
}

/**
 * Reads every key file of the directory, oldest first. A missing directory holds
 * no keys, and a file gone between the listing and its read (a rotation
 * removing expired keys) is not there; an unreadable key file fails the whole
 * read, loudly, rather than leaving a key silently unused.
 */
export async function readSigningKeyDirectory(dir: string): Promise<SigningKeyFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: SigningKeyFile[] = [];
  for (const name of names.filter(isKeyFileName).sort()) {
    const path = join(dir, name);
    try {
      // Follows symbolic links (mounted secrets are links); directories named *.json are skipped.
      if (!(await stat(path)).isFile()) continue;
      files.push(await readSigningKeyFile(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
  }
  return files.sort((a, b) => a.modifiedAt.getTime() - b.modifiedAt.getTime() || a.kid.localeCompare(b.kid));
}

/**
 * Writes a JSON document, by default readable by the owner only: created with its
 * final mode under a temporary name, then renamed, so no reader ever sees half a key.
 */
export async function writeKeyJsonFile(path: string, document: object, mode = 0o600): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(document, null, 2)}\n`, { mode, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Creates the directory readable by the owner only (an existing directory is left as it is). */
export async function ensurePrivateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

export function signingKeyFileName(kid: string): string {
  return `${kid}.jwk.json`;
}

async function writeSigningKeyFile(dir: string, key: KeyObject, source: string): Promise<SigningKeyFile> {
  const { kid, privateJwk } = await identify(source, key);
  const path = join(dir, signingKeyFileName(kid));
  await ensurePrivateDirectory(dir);
  await writeKeyJsonFile(path, { ...privateJwk, kid, alg: SIGNING_ALGORITHM, use: 'sig' });
  // Read back through the same path as every other key file, so what was written is what is used.
  return readSigningKeyFile(path);
}

/** Generates a fresh RSA 2048 signing key and writes it as `<kid>.jwk.json` (0600). */
export async function generateSigningKeyFile(dir: string): Promise<SigningKeyFile> {
  const { privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  return writeSigningKeyFile(
    dir,
    createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }),
    'generated key',
  );
}

/** Copies an operator's key (PEM or JWK) into the directory as `<kid>.jwk.json` (0600). */
export async function importSigningKeyFile(dir: string, source: string): Promise<SigningKeyFile> {
  const { key } = await parseKeyFile(source);
  return writeSigningKeyFile(dir, key, source);
}

/** Deletes a private key file; one already gone is fine (another instance may have removed it). */
export async function deleteSigningKeyFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
