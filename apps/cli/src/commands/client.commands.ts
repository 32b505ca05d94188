import { ApplyChangeUseCase, EMPTY_SCOPE } from '@iam/domain';
import { PrismaClientRegistry } from '@iam/persistence';
import { ScryptSecretHasher } from '@iam/tokens';
import { print, table } from '../cli-context';
import { ExitCode, UsageError, type Command } from '../command';
import { listOption, parseOptions, requireOption } from './options';
import { withServiceContext } from './service-context';

const ROLE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
const MIN_SECRET_LENGTH = 16;

/**
 * The secret as given, or its first line on standard input for `-`. Stored as
 * it is: one that begins or ends with whitespace is refused rather than
 * trimmed, since the client would then log in with a secret that fails.
 */
async function secretOf(option: string): Promise<string> {
  let secret = option;
  if (option === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    secret = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  if (secret.trim() !== secret) throw new UsageError('--secret must not begin or end with whitespace');
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new UsageError(`--secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  return secret;
}

export const clientCreate: Command = {
  name: 'client create',
  summary: 'Register or update a client (application) with its secret and roles',
  help: `Usage: npm run cli -- client create --id <clientId> --secret <secret|-> --roles <ROLE,ROLE> [options]

Creates the client, or updates it: running it again with the same input changes nothing.
The secret is stored as a scrypt hash only. --roles replaces the client's roles; when
that (or --service) changes what the client's live sessions hold, they are re-issued
and published at once (cause operator). --scopes apply from each session's next renewal.

Options:
  --id <clientId>         the client id (required)
  --secret <secret>       the client secret, at least ${MIN_SECRET_LENGTH} characters (required); \`-\` reads it
                          from standard input to its end (a pipe or a file), and takes its first
                          line: out of the process list and npm's echo
  --roles <A,B,...>       the client's roles, e.g. CLI-AUTH-IDENTIFIED,CLI-1STPARTY (required)
  --scopes <A,B,...>      scopes of the tokens it receives (default: DEFAULT_SCOPE)
  --service <serviceId>   the service the application belongs to (default: the client id)

Examples:
  npm run cli -- client create --id shop-web --secret 's3cret-s3cret-s3cret' --roles CLI-AUTH-IDENTIFIED,CLI-1STPARTY
  printf '%s\\n' "$SHOP_WEB_SECRET" | npm run cli -- client create --id shop-web --secret - --roles CLI-AUTH-IDENTIFIED`,
  async run(args, context) {
    const options = parseOptions(args, {
      id: { type: 'string' },
      secret: { type: 'string' },
      roles: { type: 'string' },
      scopes: { type: 'string' },
      service: { type: 'string' },
    });
    const clientId = requireOption(options.id, 'id');
    // Not requireOption: it trims.
    if (!options.secret) throw new UsageError('--secret is required');
    const secret = await secretOf(options.secret);
    const roles = listOption(requireOption(options.roles, 'roles'));
    if (roles.length === 0) throw new UsageError('--roles names no role');
    const invalid = roles.filter((role) => !ROLE.test(role));
    if (invalid.length > 0) throw new UsageError(`not role names: ${invalid.join(', ')}`);

    const { prisma } = await context.database();
    await new PrismaClientRegistry(prisma).register({
      clientId,
      secretHash: await new ScryptSecretHasher().hash(secret),
      roles,
      scopes: listOption(options.scopes),
      serviceId: options.service?.trim() || null,
    });
    print(`client ${clientId} registered with roles ${roles.join(',')}`);
    // New roles or another service change what the client's live sessions hold, as a
    // client role event would: they are re-issued now, not at their next renewal.
    const live = await prisma.session.count({
      where: { clientId, status: 'ACTIVE', expiresAt: { gt: new Date() } },
    });
    if (live > 0) {
      const settled = await withServiceContext(context, { dryRun: false }, (app) =>
        app
          .get(ApplyChangeUseCase)
          .settleScope({ ...EMPTY_SCOPE, clientIds: [clientId] }, { kind: 'operator' }),
      );
      print(`${settled.reissued} of ${live} live session(s) of client ${clientId} re-issued`);
    }
    return ExitCode.Ok;
  },
};

export const clientList: Command = {
  name: 'client list',
  summary: 'List registered clients and their roles',
  help: `Usage: npm run cli -- client list [--json]

Lists every client with its roles, scopes and service (never its secret).`,
  async run(args, context) {
    const options = parseOptions(args, { json: { type: 'boolean' } });
    const { prisma } = await context.database({ migrate: false });
    const clients = await new PrismaClientRegistry(prisma).list();
    print(options.json ? JSON.stringify(clients, null, 2) : table(clients));
    return ExitCode.Ok;
  },
};
