import { print, table } from '../cli-context';
import { ExitCode, type Command } from '../command';
import { parseOptions, readableFile } from './options';
import { signingKeyRing } from './signing-key-ring.factory';

export const keysList: Command = {
  name: 'keys list',
  summary: 'List signing keys: active, retired and still published, or expired',
  help: `Usage: npm run cli -- keys list [--json]

Shows every signing key in the registry: its kid, status, whether it is still
published in the JWKS (until its last token has expired), and whether this
machine holds its private key in SIGNING_KEYS_DIR.`,
  async run(args, context) {
    const options = parseOptions(args, { json: { type: 'boolean' } });
    const keys = await (await signingKeyRing(context, { migrate: false })).list();
    const rows = keys.map((key) => ({
      kid: key.kid,
      status: key.status,
      published: key.published,
      privateKey: key.hasPrivateKey,
      createdAt: key.createdAt,
      retiredAt: key.retiredAt,
      publishedUntil: key.publishedUntil,
    }));
    print(options.json ? JSON.stringify(rows, null, 2) : table(rows));
    return ExitCode.Ok;
  },
};

export const keysRotate: Command = {
  name: 'keys rotate',
  summary: 'Add a signing key, make it sign, retire the old ones once their tokens expire',
  help: `Usage: npm run cli -- keys rotate [--key-file <pem|jwk>]

Generates a new RSA signing key in SIGNING_KEYS_DIR (or imports --key-file, a PEM
or JWK private key) and makes it the active key. The previous keys stop signing
but stay in the JWKS until the last token they signed has expired; keys whose
time has passed are removed. Running instances pick the change up within 10 s.`,
  async run(args, context) {
    const options = parseOptions(args, { 'key-file': { type: 'string' } });
    const keyFile = options['key-file'];
    if (keyFile !== undefined) readableFile(keyFile, 'key-file');
    const result = await (await signingKeyRing(context)).rotate(keyFile ? { keyFile } : {});
    print(`active key: ${result.activated}`);
    if (result.retired.length > 0) {
      print(`retired (published until ${result.publishedUntil.toISOString()}): ${result.retired.join(', ')}`);
    }
    if (result.removed.length > 0) print(`removed (their tokens have expired): ${result.removed.join(', ')}`);
    if (result.filesNotDeleted.length > 0) {
      print(`could not delete the private key files: ${result.filesNotDeleted.join(', ')}`);
      return ExitCode.Attention;
    }
    return ExitCode.Ok;
  },
};
