import { isLive, RevocationReason, revocation, type SessionRepository } from '@iam/domain';
import { SESSION_REPOSITORY } from '../../../token-renewal/src/infrastructure/tokens';
import { print, table } from '../cli-context';
import { ExitCode, UsageError, type Command } from '../command';
import { parseOptions, requireOption, uuidOption } from './options';
import { withServiceContext } from './service-context';

export const sessionsList: Command = {
  name: 'sessions list',
  summary: "List a user's sessions",
  help: `Usage: npm run cli -- sessions list --user <userId> [--json]

Lists the user's sessions, newest first: status, client, business, claims
version, expiry and current authorities. Never shows tokens.`,
  async run(args, context) {
    const options = parseOptions(args, { user: { type: 'string' }, json: { type: 'boolean' } });
    const userId = requireOption(options.user, 'user');
    const { prisma } = await context.database({ migrate: false });
    const sessions = await prisma.session.findMany({ where: { userId }, orderBy: { createdAt: 'desc' } });
    const rows = sessions.map((session) => ({
      sessionId: session.id,
      status: session.status,
      clientId: session.clientId,
      businessId: session.businessId,
      claimsVersion: session.claimsVersion,
      expiresAt: session.expiresAt,
      revokedReason: session.revokedReason,
      authorities: session.authorities,
    }));
    print(options.json ? JSON.stringify(rows, null, 2) : table(rows));
    return ExitCode.Ok;
  },
};

export const sessionsRevoke: Command = {
  name: 'sessions revoke',
  summary: "End a user's sessions (all, or one), publishing iam.session.revoked",
  help: `Usage: npm run cli -- sessions revoke --user <userId> [--session <sessionId>]

Ends every live session of the user, or only --session. Each ending is written
with its iam.session.revoked message (reason operator-request, cause operator)
in one transaction; the running service publishes it. Further renewals of those
sessions are refused (412).`,
  async run(args, context) {
    const options = parseOptions(args, { user: { type: 'string' }, session: { type: 'string' } });
    const userId = requireOption(options.user, 'user');
    const sessionId = uuidOption(options.session, 'session');
    const { prisma } = await context.database();
    const now = new Date();
    const candidates = await prisma.session.findMany({
      where: {
        userId,
        status: 'ACTIVE',
        expiresAt: { gt: now },
        ...(sessionId ? { id: sessionId } : {}),
      },
      select: { id: true },
    });
    if (sessionId && candidates.length === 0) {
      throw new UsageError(`no live session ${sessionId} of user ${userId}`);
    }
    return withServiceContext(context, { dryRun: false }, async (app) => {
      const repository = app.get<SessionRepository>(SESSION_REPOSITORY);
      let revoked = 0;
      let alreadyEnded = 0;
      for (const session of await repository.findByIds(candidates.map((candidate) => candidate.id))) {
        // Ended since the query above (a lock's fan-out, say): already revoked once, with its reason.
        if (!isLive(session, now)) {
          alreadyEnded += 1;
          print(`already ended meanwhile: session ${session.id}`);
          continue;
        }
        const written = await repository.write(
          revocation(session, RevocationReason.OperatorRequest, now, { kind: 'operator' }),
        );
        if (written) revoked += 1;
        print(`${written ? 'revoked' : 'changed meanwhile, not revoked'}: session ${session.id}`);
      }
      print(`${revoked} session(s) of user ${userId} revoked`);
      return revoked + alreadyEnded === candidates.length ? ExitCode.Ok : ExitCode.Attention;
    });
  },
};
