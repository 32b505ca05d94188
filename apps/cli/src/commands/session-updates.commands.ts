import { generateRecipientKeyPair } from '@iam/tokens';
import { print } from '../cli-context';
import { ExitCode, type Command } from '../command';
import { parseOptions, requireOption } from './options';

export const initLocalRecipient: Command = {
  name: 'session-updates init-local-recipient',
  summary: 'Create a local key pair that session-update tokens are encrypted to',
  help: `Usage: npm run cli -- session-updates init-local-recipient --dir <directory>

For local runs: writes session-update-recipient.private.jwk.json (mode 0600) and
session-update-recipient.public.jwk.json into the directory, unless they exist.
Point SESSION_UPDATE_RECIPIENT_JWK at the public file; a downstream service
decrypts the tokens on the session-update topic with the private one. In
production the downstream team generates the pair and hands over the public key.`,
  async run(args) {
    const options = parseOptions(args, { dir: { type: 'string' } });
    const files = await generateRecipientKeyPair(requireOption(options.dir, 'dir'));
    print(`public key (SESSION_UPDATE_RECIPIENT_JWK): ${files.publicJwkPath}`);
    print(`private key (for the consumer):             ${files.privateJwkPath}`);
    return ExitCode.Ok;
  },
};
