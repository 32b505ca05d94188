import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '@iam/domain';
import { readMigrationFiles } from '@iam/persistence';
import { Application, authorities, FIRST_PARTY_ROLES, type UserToken } from '../support/applications';
import { event, events, publish, publishRaw, type InboundCloudEvent } from '../support/events';
import { claimsOf, loginClient } from '../support/http';
import { decodeJwt, type JsonWebKeySet } from '../support/jwt';
import { verifiedClaims } from '../support/token-assertions';
import { TopicReader, type ReceivedRecord } from '../support/kafka';
import { expectAuthMeError, KEYS_PATH, waitUntil } from '../support/renewal';
import {
  createDeployment,
  destroyDeployment,
  runCli,
  ServiceInstance,
  type Deployment,
} from '../support/service';
import { tearDownSuite } from '../support/suite';
import {
  openSealedToken,
  SessionUpdateLog,
  waitUntilConsumed,
  type SessionUpdateRecord,
  type TokenRenewedData,
} from '../support/session-updates';

/** The commands the README promises (the CLI may offer more; each of those is checked too). */
const DOCUMENTED_COMMANDS = [
  'client create',
  'client list',
  'keys list',
  'keys rotate',
  'replay',
  'dlq list',
  'dlq redrive',
  'sessions list',
  'sessions revoke',
  'housekeeping run',
  'topics ensure',
];

const ExitCode = { Ok: 0, Failure: 1, Usage: 2, Attention: 3 } as const;
const BASE = authorities(...FIRST_PARTY_ROLES, 'AUTH-BASIC');

interface SessionRow {
  sessionId: string;
  status: string;
  clientId: string;
  businessId: string | null;
  claimsVersion: number;
  expiresAt: string;
  revokedReason: string | null;
  authorities: string[];
}

interface DeadLetterRow {
  position: string;
  reason: string;
  eventId?: string;
  origin: string;
  failedAt: string;
  redrivenAt?: string;
  detail: string;
}

interface ReplayReport {
  dryRun: boolean;
  summary: {
    records: number;
    applied: number;
    duplicate: number;
    noEffect: number;
    deadLettered: number;
    renewed: number;
    revoked: number;
  };
  wouldPublish?: Array<Record<string, unknown>>;
}

/** The part of a session update a replay's dry run promises: which session, what changes, why. */
function diffOf(update: Record<string, unknown>) {
  return {
    type: update.type,
    sessionId: update.sessionId,
    userId: update.userId,
    added: update.added,
    removed: update.removed,
    claimsVersion: update.claimsVersion,
    cause: update.cause,
  };
}

const byVersionThenSession = (a: ReturnType<typeof diffOf>, b: ReturnType<typeof diffOf>) =>
  Number(a.claimsVersion) - Number(b.claimsVersion) || String(a.sessionId).localeCompare(String(b.sessionId));

/**
 * The operator CLI, as an operator runs it against a running deployment: its
 * usage contract (help, exit codes), and every command's effect checked where it
 * shows (the database through the CLI itself, the topics, the HTTP API).
 */
describe('the operator CLI against the running service (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let updates: SessionUpdateLog;
  let roleInput: TopicReader;
  let roleDlq: TopicReader;
  let app: Application;
  let app2: Application;
  let dlqTopic: string;
  /** The replay's dry run, as it printed it (--json). */
  let dry: ReplayReport;
  let dryStdout = '';

  const cli = (...args: string[]) => runCli(deployment, args);
  const json = async <T>(args: string[], expectedCode: number = ExitCode.Ok): Promise<T> => {
    const result = await runCli(deployment, args);
    expect(result.code, `${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(expectedCode);
    return JSON.parse(result.stdout) as T;
  };
  const sessionsOf = (user: string) => json<SessionRow[]>(['sessions', 'list', '--user', user, '--json']);

  beforeAll(async () => {
    deployment = await createDeployment('operatorcli');
    dlqTopic = `${deployment.topics.roleChanges}.dlq`;
    service = await ServiceInstance.start(deployment);
    updates = await SessionUpdateLog.open(deployment);
    roleInput = await TopicReader.open(deployment.topics.roleChanges);
    roleDlq = await TopicReader.open(dlqTopic);
    app = await Application.register(service, 'cli-app');
    app2 = await Application.register(service, 'cli-app-2');
  });
  afterAll(() => tearDownSuite({ deployment, service, readers: [updates, roleInput, roleDlq] }));

  describe('usage', () => {
    it('lists its commands; --help on every command exits 0 and prints its Usage line', async () => {
      const top = await cli('--help');
      expect(top.code).toBe(ExitCode.Ok);
      expect(top.stdout).toMatch(/^Usage: /);
      const listed = top.stdout
        .slice(top.stdout.indexOf('Commands:'))
        .split('\n')
        .slice(1)
        .map((line) => /^ {2}(\S+(?: \S+)*?) {2,}\S/.exec(line)?.[1])
        .filter((name): name is string => name !== undefined);
      expect(listed).toEqual(expect.arrayContaining(DOCUMENTED_COMMANDS));
      expect((await cli()).code).toBe(ExitCode.Ok);

      const helps = await Promise.all(listed.map((name) => cli(...name.split(' '), '--help')));
      listed.forEach((name, index) => {
        const help = helps[index]!;
        expect(help.code, name).toBe(ExitCode.Ok);
        expect(help.stdout.split('\n')[0], name).toMatch(new RegExp(`^Usage: npm run cli -- ${name}( |$)`));
        expect(help.stderr, name).toBe('');
      });
    });

    it('exits 2 on an unknown command, an unknown flag, a stray argument, a missing option or value', async () => {
      const listed = DOCUMENTED_COMMANDS;
      const cases: string[][] = [
        ['bogus'],
        ...listed.map((name) => [...name.split(' '), '--no-such-flag']),
        ['client', 'list', 'extra'],
        ['client', 'create', '--id', 'x', '--secret', 'long-enough-secret-1', '--roles', 'NOT A ROLE'],
        ['client', 'create', '--id', 'x', '--secret', 'long-enough-secret-1', '--roles', ','],
        // Trimmed, it would be stored as a secret the client does not send.
        ['client', 'create', '--id', 'x', '--secret', 'long-enough-secret-1 ', '--roles', 'A'],
        ['keys', 'rotate', '--key-file', '/no/such/key.pem'],
        ['sessions', 'revoke', '--user', 'u', '--session', 'not-a-session-id'],
        ['sessions', 'list'],
        ['sessions', 'list', '--user'],
        ['replay', '--topic', deployment.topics.roleChanges],
      ];
      const results = await Promise.all(cases.map((args) => cli(...args)));
      cases.forEach((args, index) => {
        const result = results[index]!;
        expect(result.code, `${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(ExitCode.Usage);
        if (args[0] === 'bogus') {
          // Not a command: the command list, to stdout.
          expect(result.stdout).toMatch(/^Usage: npm run cli -- <command> \[options\]/);
          expect(result.stdout).toContain('\nCommands:\n');
        } else {
          expect(result.stderr, args.join(' ')).toMatch(/\(see --help\)\n$/);
          expect(result.stdout, args.join(' ')).toBe('');
        }
      });
      // A usage error never ran the command: the unknown-flag rotation rotated nothing.
      const keys = await json<unknown[]>(['keys', 'list', '--json']);
      expect(keys).toHaveLength(1);
    });
  });

  it('client create is idempotent; client list --json shows the client, never its secret', async () => {
    const secret = `cli-secret-${randomUUID()}`;
    const create = [
      'client',
      'create',
      '--id',
      'cli-partner',
      '--secret',
      secret,
      '--roles',
      'CLI-AUTH-IDENTIFIED,CLI-1STPARTY,CLI-PARTNER',
      '--scopes',
      'READ,PARTNER',
      '--service',
      'partner-service',
    ];
    const first = await cli(...create);
    expect(first.code).toBe(ExitCode.Ok);
    expect(first.stdout).toBe(
      'client cli-partner registered with roles CLI-AUTH-IDENTIFIED,CLI-1STPARTY,CLI-PARTNER\n',
    );
    type ClientRow = Record<string, unknown> & { clientId: string; createdAt: string; updatedAt: string };
    const before = await json<ClientRow[]>(['client', 'list', '--json']);
    const second = await cli(...create);
    expect(second.code).toBe(ExitCode.Ok);
    expect(second.stdout).toBe(first.stdout);
    const [listing, table] = await Promise.all([cli('client', 'list', '--json'), cli('client', 'list')]);
    expect(listing.code).toBe(ExitCode.Ok);
    expect(listing.stdout).not.toContain(secret);
    const after = JSON.parse(listing.stdout) as ClientRow[];

    expect(after.map((client) => client.clientId)).toEqual(['cli-app', 'cli-app-2', 'cli-partner']);
    const partner = after.find((client) => client.clientId === 'cli-partner')!;
    expect(partner).toEqual({
      clientId: 'cli-partner',
      roles: ['CLI-1STPARTY', 'CLI-AUTH-IDENTIFIED', 'CLI-PARTNER'],
      scopes: ['READ', 'PARTNER'],
      serviceId: 'partner-service',
      hasSecret: true,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      updatedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const withoutUpdatedAt = ({ updatedAt: _ignored, ...rest }: ClientRow) => rest;
    expect(after.map(withoutUpdatedAt)).toEqual(before.map(withoutUpdatedAt));

    // The registered client logs in with its secret; its token carries its roles and scopes.
    const login = await loginClient(service, 'cli-partner', secret);
    expect(claimsOf(login.accessToken).authorities).toEqual(
      authorities('CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'CLI-PARTNER'),
    );
    expect(login.scope).toEqual(['READ', 'PARTNER']);
    expect(table.code).toBe(ExitCode.Ok);
    expect(table.stdout).toMatch(/^clientId\s+roles\s+/);
    expect(table.stdout).toContain('cli-partner');
    expect(table.stdout).not.toContain(secret);

    // --secret - reads it from standard input, out of the process list and npm's echo.
    const replaced = `cli-secret-${randomUUID()}`;
    const fromStdin = await runCli(
      deployment,
      create.map((arg) => (arg === secret ? '-' : arg)),
      {},
      `${replaced}\n`,
    );
    expect([fromStdin.code, fromStdin.stdout]).toEqual([ExitCode.Ok, first.stdout]);
    expect((await loginClient(service, 'cli-partner', replaced)).scope).toEqual(['READ', 'PARTNER']);
    await expect(loginClient(service, 'cli-partner', secret)).rejects.toThrow(/client login failed: 401/);
  });

  it("client create with another role re-issues the client's live sessions at once (cause operator)", async () => {
    const roles = [...FIRST_PARTY_ROLES];
    const partner = await Application.register(service, 'cli-roles-app', { roles });
    const started = await partner.session('cli-roles-user');
    const recreate = (withRoles: string[]) =>
      cli(
        'client',
        'create',
        '--id',
        'cli-roles-app',
        '--secret',
        partner.secret,
        '--roles',
        withRoles.join(','),
      );

    const added = await recreate([...roles, 'CLI-EXTRA']);
    expect(added.code, added.stderr).toBe(ExitCode.Ok);
    expect(added.stdout).toBe(
      `client cli-roles-app registered with roles ${[...roles, 'CLI-EXTRA'].join(',')}\n` +
        '1 of 1 live session(s) of client cli-roles-app re-issued\n',
    );
    const [reissued] = await updates.waitFor(
      (update) => update.event.data.sessionId === started.claims.sid && update.event.data.claimsVersion === 2,
    );
    expect(reissued!.event).toMatchObject({
      type: 'iam.session.token-renewed',
      data: { added: ['ROLE_CLI-EXTRA'], removed: [], cause: { kind: 'operator' } },
    });

    // The same registration again changes nothing: no token.
    const same = await recreate([...roles, 'CLI-EXTRA']);
    expect(same.stdout).toBe(
      `client cli-roles-app registered with roles ${[...roles, 'CLI-EXTRA'].join(',')}\n` +
        '0 of 1 live session(s) of client cli-roles-app re-issued\n',
    );
  });

  it('keys list --json shows the one active key, the key the service publishes and signs with', async () => {
    const keys = await json<Array<Record<string, unknown>>>(['keys', 'list', '--json']);
    const jwks = (await (await service.fetch(KEYS_PATH)).json()) as JsonWebKeySet;
    expect(keys).toEqual([
      {
        kid: jwks.keys[0]!.kid,
        status: 'ACTIVE',
        published: true,
        privateKey: true,
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        retiredAt: null,
        publishedUntil: null,
      },
    ]);
    expect(jwks.keys).toHaveLength(1);
    expect(decodeJwt(app.token).header.kid).toBe(keys[0]!.kid);
  });

  it('topics ensure finds every topic of the deployment in place', async () => {
    const result = await cli('topics', 'ensure');
    expect(result.code).toBe(ExitCode.Ok);
    const lines = result.stdout.trimEnd().split('\n');
    const partitions = Object.fromEntries(
      lines.map((line) => {
        const match = /^exists\s+(\S+) \((\d+) partitions\)$/.exec(line);
        expect(match, line).not.toBeNull();
        return [match![1]!, Number(match![2])];
      }),
    );
    // Inputs and output with KAFKA_TOPIC_PARTITIONS; dead letters and the relay's progress in one partition.
    expect(partitions).toEqual({
      [deployment.topics.roleChanges]: 4,
      [deployment.topics.businessChanges]: 4,
      [dlqTopic]: 1,
      [`${deployment.topics.businessChanges}.dlq`]: 1,
      [deployment.topics.sessionUpdates]: 4,
      [`${deployment.groupId}.outbox-relay-progress`]: 1,
    });
  });

  it('session-updates init-local-recipient writes a key pair once, the private half readable by its owner only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-recipient-'));
    try {
      const first = await cli('session-updates', 'init-local-recipient', '--dir', dir);
      expect(first.code).toBe(ExitCode.Ok);
      const privatePath = join(dir, 'session-update-recipient.private.jwk.json');
      const publicPath = join(dir, 'session-update-recipient.public.jwk.json');
      expect(first.stdout).toContain(publicPath);
      expect(first.stdout).toContain(privatePath);
      expect(statSync(privatePath).mode & 0o777).toBe(0o600);
      const publicJwk = JSON.parse(readFileSync(publicPath, 'utf8')) as Record<string, unknown>;
      expect(publicJwk.kty).toBe('RSA');
      expect(publicJwk.d).toBeUndefined();
      const privateText = readFileSync(privatePath, 'utf8');
      expect((await cli('session-updates', 'init-local-recipient', '--dir', dir)).code).toBe(ExitCode.Ok);
      expect(readFileSync(privatePath, 'utf8')).toBe(privateText);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sessions list, then sessions revoke --session: iam.session.revoked (operator) is published and renewal is refused', async () => {
    const user = 'cli-session-user';
    const first = await app.session(user);
    const second = await app2.session(user);
    const listed = await sessionsOf(user);
    expect(listed).toEqual(
      [second, first].map((token: UserToken) => ({
        sessionId: token.claims.sid,
        status: 'ACTIVE',
        clientId: token.claims.client_id,
        businessId: null,
        claimsVersion: 1,
        expiresAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        revokedReason: null,
        authorities: BASE,
      })),
    );
    expect(JSON.stringify(listed)).not.toContain(first.response.accessToken);

    const revoked = await cli('sessions', 'revoke', '--user', user, '--session', first.claims.sid);
    expect(revoked.code, revoked.stderr).toBe(ExitCode.Ok);
    expect(revoked.stdout).toBe(
      `revoked: session ${first.claims.sid}\n1 session(s) of user ${user} revoked\n`,
    );

    const isRevocation = (sid: string) => (update: SessionUpdateRecord) =>
      update.event.data.sessionId === sid && update.event.type === 'iam.session.revoked';
    const [published] = await updates.waitFor(isRevocation(first.claims.sid));
    expect(published!.record.key).toBe(user);
    expect(published!.record.headers).toEqual({ 'content-type': 'application/cloudevents+json' });
    expect(published!.event).toMatchObject({
      specversion: '1.0',
      type: 'iam.session.revoked',
      source: '/iam/token-renewal',
      subject: first.claims.sid,
      datacontenttype: 'application/json',
    });
    expect(published!.event.data).toEqual({
      sessionId: first.claims.sid,
      userId: user,
      clientId: app.clientId,
      reason: 'operator-request',
      claimsVersion: 2,
      cause: { kind: 'operator' },
    });

    await expectAuthMeError(await app.renewWithToken(first.response.accessToken), 412, 'SESSION_REVOKED');
    await expectAuthMeError(await app.renewWithToken(first.response.refreshToken!), 412, 'SESSION_REVOKED');
    // Only that session ended: the user's other session renews.
    expect((await app2.renewWithToken(second.response.accessToken)).status).toBe(200);
    const afterRevoke = await sessionsOf(user);
    expect(
      afterRevoke.map((row) => [row.sessionId, row.status, row.revokedReason, row.claimsVersion]),
    ).toEqual([
      [second.claims.sid, 'ACTIVE', null, 2],
      [first.claims.sid, 'REVOKED', 'operator-request', 2],
    ]);

    // Revoking it again is a usage error (no such live session); revoking all ends the other one.
    const [again, nobody, nobodysSessions] = await Promise.all([
      cli('sessions', 'revoke', '--user', user, '--session', first.claims.sid),
      cli('sessions', 'revoke', '--user', 'cli-nobody'),
      sessionsOf('cli-nobody'),
    ]);
    expect([nobody.code, nobody.stdout]).toEqual([ExitCode.Ok, '0 session(s) of user cli-nobody revoked\n']);
    expect(nobodysSessions).toEqual([]);
    expect(again.code).toBe(ExitCode.Usage);
    expect(again.stderr).toContain(first.claims.sid);
    const all = await cli('sessions', 'revoke', '--user', user);
    expect(all.code).toBe(ExitCode.Ok);
    expect(all.stdout).toBe(`revoked: session ${second.claims.sid}\n1 session(s) of user ${user} revoked\n`);
    const [secondRevocation] = await updates.waitFor(isRevocation(second.claims.sid));
    expect(secondRevocation!.event.data).toMatchObject({
      clientId: app2.clientId,
      reason: 'operator-request',
      claimsVersion: 3,
      cause: { kind: 'operator' },
    });
    await expectAuthMeError(await app2.renewWithToken(second.response.accessToken), 412, 'SESSION_REVOKED');
    expect(updates.all().filter(isRevocation(first.claims.sid))).toHaveLength(1);
  });

  describe('dead letters', () => {
    const user = 'cli-dlq-user';
    const probe = (record: ReceivedRecord) => record.headers['x-probe'];
    let schemaV2: Record<string, unknown> & { id: string };
    let unknownType: InboundCloudEvent;

    const rowOf = (letter: ReceivedRecord): DeadLetterRow => ({
      position: `${letter.partition}:${letter.offset}`,
      reason: letter.headers['dlq-reason']!,
      ...(letter.headers['dlq-event-id'] !== undefined ? { eventId: letter.headers['dlq-event-id'] } : {}),
      origin: `${letter.headers['dlq-origin-topic']}/${letter.headers['dlq-origin-partition']}/${letter.headers['dlq-origin-offset']}`,
      failedAt: letter.headers['dlq-failed-at']!,
      detail: letter.headers['dlq-detail']!,
    });
    /** The rows dlq list --json prints, without when each was redriven. */
    const listed = async () =>
      (await json<DeadLetterRow[]>(['dlq', 'list', '--topic', dlqTopic, '--json'], ExitCode.Attention)).map(
        ({ redrivenAt: _redrivenAt, ...row }) => row,
      );
    const expectedRows = () =>
      [...roleDlq.records]
        .sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))
        .map(rowOf);

    it('dlq list shows every poison record with its reason and origin, and exits 3', async () => {
      const [empty, notDlq] = await Promise.all([
        cli('dlq', 'list', '--topic', `${deployment.topics.businessChanges}.dlq`, '--json'),
        cli('dlq', 'list', '--topic', deployment.topics.roleChanges),
      ]);
      expect([empty.code, JSON.parse(empty.stdout)]).toEqual([ExitCode.Ok, []]);
      expect(notDlq.code).toBe(ExitCode.Usage);

      schemaV2 = {
        ...event(EventType.UserRoleGranted, user, { userId: user, role: 'FROM-THE-FUTURE' }),
        specversion: '2.0',
      };
      unknownType = event('iam.user.renamed', user, { userId: user });
      const headers = (name: string) => ({ 'content-type': 'application/cloudevents+json', 'x-probe': name });
      await publishRaw(deployment.topics.roleChanges, [
        { key: user, value: 'not json at all', headers: headers('not-json') },
        { key: user, value: JSON.stringify(schemaV2), headers: headers('schema-v2') },
        { key: user, value: JSON.stringify(unknownType), headers: headers('unknown-type') },
      ]);
      await roleDlq.waitFor((records) => records.length >= 3);
      expect(roleDlq.records.map(probe)).toEqual(['not-json', 'schema-v2', 'unknown-type']);

      const rows = await json<DeadLetterRow[]>(
        ['dlq', 'list', '--topic', dlqTopic, '--json'],
        ExitCode.Attention,
      );
      expect(rows).toEqual(expectedRows());
      expect(rows.map((row) => [row.reason, row.eventId])).toEqual([
        ['not-json', undefined],
        ['unknown-schema-version', schemaV2.id],
        ['unknown-type', unknownType.id],
      ]);
      for (const row of rows) {
        const origin = roleInput.records.find(
          (record) => `${record.topic}/${record.partition}/${record.offset}` === row.origin,
        );
        expect(origin, row.origin).toBeDefined();
      }
      const table = await cli('dlq', 'list', '--topic', dlqTopic);
      expect(table.code).toBe(ExitCode.Attention);
      expect(table.stdout).toMatch(/^position\s+reason\s+eventId\s+origin/);
      expect(table.stdout.trimEnd().split('\n').at(-1)).toBe(`3 dead letter(s) in ${dlqTopic}`);
    });

    it('dlq redrive --id re-publishes that record, byte for byte, to its origin topic; still poison, it is dead-lettered again', async () => {
      const original = roleInput.records.find((record) => probe(record) === 'schema-v2')!;
      const letter = roleDlq.records.find((record) => probe(record) === 'schema-v2')!;
      const inputBefore = roleInput.records.length;

      const result = await cli('dlq', 'redrive', '--topic', dlqTopic, '--id', schemaV2.id);
      expect(result.code, result.stderr).toBe(ExitCode.Ok);
      expect(result.stdout).toBe(`redrove 1 dead letter(s) from ${dlqTopic}\n`);

      await roleInput.waitFor((records) => records.length >= inputBefore + 1);
      await roleDlq.waitFor((records) => records.length >= 4);
      expect(roleInput.records).toHaveLength(inputBefore + 1);
      const redriven = roleInput.records.at(-1)!;
      expect(redriven.key).toBe(original.key);
      expect(redriven.value).toEqual(original.value);
      expect(redriven.partition).toBe(original.partition);
      expect(redriven.headers).toEqual({
        ...original.headers,
        'dlq-redriven-from': `${dlqTopic}:${letter.partition}:${letter.offset}`,
      });

      const again = roleDlq.records.at(-1)!;
      expect(again.value).toEqual(original.value);
      const { 'dlq-detail': _detail, 'dlq-failed-at': _failedAt, ...headers } = again.headers;
      expect(headers).toEqual({
        ...original.headers,
        'dlq-redriven-from': `${dlqTopic}:${letter.partition}:${letter.offset}`,
        'dlq-reason': 'unknown-schema-version',
        'dlq-event-id': schemaV2.id,
        'dlq-origin-topic': deployment.topics.roleChanges,
        'dlq-origin-partition': String(redriven.partition),
        'dlq-origin-offset': redriven.offset,
        'dlq-origin-timestamp': redriven.timestamp,
        'dlq-consumer-group': deployment.groupId,
      });
      expect(Number(redriven.offset)).toBeGreaterThan(Number(original.offset));

      const rows = await json<DeadLetterRow[]>(
        ['dlq', 'list', '--topic', dlqTopic, '--json'],
        ExitCode.Attention,
      );
      expect(rows.map(({ redrivenAt: _redrivenAt, ...row }) => row)).toEqual(expectedRows());
      expect(rows).toHaveLength(4);
      expect(rows.map((row) => row.redrivenAt !== undefined)).toEqual([false, true, false, false]);

      // Run again: the redriven one is left alone and only the new dead letter goes, so a record
      // still poison comes back once a run (it had doubled with every run: 1, 2, 4).
      const second = await cli('dlq', 'redrive', '--topic', dlqTopic, '--id', schemaV2.id);
      expect([second.code, second.stdout]).toEqual([
        ExitCode.Ok,
        `redrove 1 dead letter(s) from ${dlqTopic}\n1 redriven before, not again\n`,
      ]);
      await roleDlq.waitFor((records) => records.length >= 5);
      expect(await roleDlq.countArrivingWithin(1_500)).toBe(0);
      expect(roleDlq.records).toHaveLength(5);
      expect(roleInput.records).toHaveLength(inputBefore + 2);

      // An id with no dead letter: nothing is published, and the operator is told (exit 3).
      const ghost = randomUUID();
      const [none, notDlq] = await Promise.all([
        cli('dlq', 'redrive', '--topic', dlqTopic, '--id', ghost),
        cli('dlq', 'redrive', '--topic', deployment.topics.roleChanges),
      ]);
      expect(notDlq.code).toBe(ExitCode.Usage);
      expect(none.code).toBe(ExitCode.Attention);
      expect(none.stdout).toBe(
        `redrove 0 dead letter(s) from ${dlqTopic}\nno dead letter with event id: ${ghost}\n`,
      );
      expect(await roleInput.countArrivingWithin(1_500)).toBe(0);
    });

    it('dlq redrive sends a dead letter only to its own input topic, whatever dlq-* headers the record arrived with', async () => {
      const forgedId = randomUUID();
      const [inputBefore, dlqBefore] = [roleInput.records.length, roleDlq.records.length];
      // A poison record posing as a dead letter of the session-update topic, to steer a redrive there.
      await publishRaw(deployment.topics.roleChanges, [
        {
          key: user,
          value: 'not json, and forged',
          headers: {
            'x-probe': 'forged',
            'dlq-reason': 'forged',
            'dlq-event-id': forgedId,
            'dlq-origin-topic': deployment.topics.sessionUpdates,
            'dlq-origin-partition': '0',
            'dlq-origin-offset': '0',
          },
        },
      ]);
      await roleDlq.waitFor((records) => records.length >= dlqBefore + 1);
      await roleInput.waitFor((records) => records.length >= inputBefore + 1);
      const input = roleInput.records.at(-1)!;
      const letter = roleDlq.records.at(-1)!;
      expect(
        (await listed()).find((row) => row.position === `${letter.partition}:${letter.offset}`),
      ).toMatchObject({
        reason: 'not-json',
        origin: `${deployment.topics.roleChanges}/${input.partition}/${input.offset}`,
      });

      // Its own dlq-event-id selects it (a dead letter without an id of its own shows the record's).
      const result = await cli('dlq', 'redrive', '--topic', dlqTopic, '--id', forgedId);
      expect([result.code, result.stdout]).toEqual([
        ExitCode.Ok,
        `redrove 1 dead letter(s) from ${dlqTopic}\n`,
      ]);
      await roleInput.waitFor((records) => records.length >= inputBefore + 2);
      expect(roleInput.records.at(-1)!.headers).toEqual({
        'x-probe': 'forged',
        'dlq-redriven-from': `${dlqTopic}:${letter.partition}:${letter.offset}`,
      });
    });
  });

  describe('replay', () => {
    it('refuses a topic that is not an input topic, and a malformed --from (exit 2)', async () => {
      const from = new Date().toISOString();
      const cases = [
        ['replay', '--topic', deployment.topics.sessionUpdates, '--from', from],
        ['replay', '--topic', dlqTopic, '--from', from],
        ['replay', '--topic', 'no-such-topic', '--from', from, '--dry-run'],
        ['replay', '--topic', deployment.topics.roleChanges, '--from', 'yesterday'],
        // Without its offset a time would be read as the host's local time.
        ['replay', '--topic', deployment.topics.roleChanges, '--from', '2026-11-28T10:00:00'],
        ['replay', '--topic', deployment.topics.roleChanges, '--from', from, '--to', '2026-11-28T10:00:00Z'],
      ];
      const results = await Promise.all(cases.map((args) => cli(...args)));
      results.forEach((result, index) => {
        expect(result.code, cases[index]!.join(' ')).toBe(ExitCode.Usage);
        expect(result.stdout).toBe('');
      });
      expect(results[0]!.stderr).toContain(
        `${deployment.topics.sessionUpdates} is not one of the service's input topics`,
      );
    });

    it('a dry run and the listing commands do not migrate: against a database one migration behind, they refuse (exit 1) and leave it so', async () => {
      const latest = readMigrationFiles().at(-1)!.name;
      const database = new Client({ connectionString: deployment.databaseUrl });
      await database.connect();
      const markRolledBack = (rolledBack: boolean) =>
        database.query(
          `UPDATE _prisma_migrations SET rolled_back_at = ${rolledBack ? 'now()' : 'NULL'} WHERE migration_name = $1`,
          [latest],
        );
      try {
        await markRolledBack(true);
        const from = new Date().toISOString();
        const readOnly = [
          ['replay', '--topic', deployment.topics.roleChanges, '--from', from, '--dry-run'],
          ['client', 'list'],
          ['keys', 'list'],
          ['sessions', 'list', '--user', 'cli-user'],
          ['dlq', 'list', '--topic', `${deployment.topics.roleChanges}.dlq`],
        ];
        for (const args of readOnly) {
          const result = await cli(...args);
          expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(ExitCode.Failure);
          expect(result.stderr).toContain(`migration ${latest} is not applied`);
        }
        const { rows } = await database.query<{ applied: number }>(
          'SELECT count(*)::int AS applied FROM _prisma_migrations WHERE migration_name = $1 AND rolled_back_at IS NULL',
          [latest],
        );
        expect(rows).toEqual([{ applied: 0 }]);
      } finally {
        await markRolledBack(false);
        await database.end();
      }
    });

    it('a dry run refuses where no signing key is registered yet, and registers or generates none', async () => {
      const keyless = await createDeployment('cli-keyless');
      const keylessCli = (...args: string[]) => runCli(keyless, args);
      try {
        // Creates and migrates the database; nothing here registers a key.
        expect((await keylessCli('housekeeping', 'run')).code).toBe(ExitCode.Ok);
        const from = new Date().toISOString();
        const dryRun = await keylessCli(
          'replay',
          '--topic',
          keyless.topics.roleChanges,
          '--from',
          from,
          '--dry-run',
        );
        expect(dryRun.code, dryRun.stderr).toBe(ExitCode.Failure);
        expect(dryRun.stderr).toContain(
          "a dry run signs with the service's signing key, and none is registered yet",
        );
        const keys = await keylessCli('keys', 'list', '--json');
        expect(keys.code, keys.stderr).toBe(ExitCode.Ok);
        expect(JSON.parse(keys.stdout)).toEqual([]);
        expect(existsSync(keyless.signingKeysDir) ? readdirSync(keyless.signingKeysDir) : []).toEqual([]);
      } finally {
        await destroyDeployment(keyless);
      }
    });

    it('a dry run prints exactly the session updates the real replay then publishes, and changes nothing; a second replay publishes nothing', async () => {
      const user = 'cli-replay-user';
      const first = await app.session(user);
      const second = await app2.session(user);
      const sessions = [first.claims.sid, second.claims.sid];
      await updates.waitFor((update) => sessions.includes(update.event.data.sessionId), 2);
      await waitUntilConsumed(deployment);
      expect(await service.stop('SIGTERM')).toBe(0);
      const sizeWhileStopped = updates.size;

      const from = new Date();
      await new Promise((r) => setTimeout(r, 20));
      const stream = [
        events.userRoleGranted(user, 'REPLAY-A'),
        events.userRoleGranted(user, 'REPLAY-B'),
        events.userRoleRevoked(user, 'REPLAY-A'),
      ];
      await publish(deployment.topics.roleChanges, stream);
      const range = ['--topic', deployment.topics.roleChanges, '--from', from.toISOString()];
      const cause = (e: InboundCloudEvent) => ({ kind: 'event', eventId: e.id, eventType: e.type });
      const expectedDiffs = sessions
        .flatMap((sessionId) => [
          { sessionId, added: ['ROLE_REPLAY-A'], removed: [], claimsVersion: 2, cause: cause(stream[0]!) },
          { sessionId, added: ['ROLE_REPLAY-B'], removed: [], claimsVersion: 3, cause: cause(stream[1]!) },
          { sessionId, added: [], removed: ['ROLE_REPLAY-A'], claimsVersion: 4, cause: cause(stream[2]!) },
        ])
        .map((diff) => ({ type: 'iam.session.token-renewed', userId: user, ...diff }))
        .sort(byVersionThenSession);

      // The dry run, in text and in JSON.
      const text = await cli('replay', ...range, '--dry-run');
      expect(text.code, text.stderr).toBe(ExitCode.Ok);
      const textLines = text.stdout.trimEnd().split('\n');
      expect(textLines).toHaveLength(7);
      for (const diff of expectedDiffs) {
        const changes = [...diff.added.map((a) => `+${a}`), ...diff.removed.map((r) => `-${r}`)].join(' ');
        expect(textLines).toContain(
          `would renew session ${diff.sessionId} of user ${user}: ${changes} ` +
            `(claimsVersion ${diff.claimsVersion}, cause ${JSON.stringify(diff.cause)})`,
        );
      }
      expect(textLines.at(-1)).toBe(
        'dry run: 3 records: 3 applied, 0 already processed, 0 without effect, 0 dead-lettered; ' +
          '6 sessions renewed, 0 revoked (nothing was changed)',
      );
      const dryRun = await cli('replay', ...range, '--dry-run', '--json');
      expect(dryRun.code, dryRun.stderr).toBe(ExitCode.Ok);
      dryStdout = dryRun.stdout;
      dry = JSON.parse(dryStdout) as ReplayReport;
      expect(dry.dryRun).toBe(true);
      expect(dry.summary).toEqual({
        records: 3,
        applied: 3,
        duplicate: 0,
        noEffect: 0,
        deadLettered: 0,
        renewed: 6,
        revoked: 0,
      });
      expect(dry.wouldPublish!.every((update) => update.topic === deployment.topics.sessionUpdates)).toBe(
        true,
      );
      const dryDiffs = dry.wouldPublish!.map(diffOf).sort(byVersionThenSession);
      expect(dryDiffs).toEqual(expectedDiffs);

      // Nothing changed: the sessions are where they were.
      const untouched = await sessionsOf(user);
      expect(untouched.map((row) => [row.sessionId, row.claimsVersion, row.authorities])).toEqual([
        [second.claims.sid, 1, BASE],
        [first.claims.sid, 1, BASE],
      ]);

      // The real replay, while the service is down: written, to be published once it runs.
      const real = await json<ReplayReport>(['replay', ...range, '--json']);
      expect(real).toEqual({ dryRun: false, summary: dry.summary });
      const replayed = await sessionsOf(user);
      expect(replayed.map((row) => [row.sessionId, row.claimsVersion, row.authorities])).toEqual([
        [second.claims.sid, 4, authorities(...FIRST_PARTY_ROLES, 'AUTH-BASIC', 'REPLAY-B')],
        [first.claims.sid, 4, authorities(...FIRST_PARTY_ROLES, 'AUTH-BASIC', 'REPLAY-B')],
      ]);
      expect(updates.size).toBe(sizeWhileStopped);

      service = await ServiceInstance.start(deployment);
      app = await app.on(service);
      app2 = await app2.on(service);
      const ids = stream.map((e) => e.id);
      const isReplayed = (update: SessionUpdateRecord) =>
        update.event.data.cause.kind === 'event' && ids.includes(update.event.data.cause.eventId);
      await updates.waitFor(isReplayed, 6);
      // The service's own consumer then reads the same records, and knows them: nothing more.
      await waitUntilConsumed(deployment);
      expect(await updates.reader.countArrivingWithin(1_500)).toBe(0);
      const published = updates.all().filter(isReplayed);
      expect(published).toHaveLength(6);
      expect(
        published
          .map((update) => diffOf({ type: update.event.type, ...update.event.data }))
          .sort(byVersionThenSession),
      ).toEqual(dryDiffs);
      const rolesAt: Record<number, string[]> = {
        2: ['REPLAY-A'],
        3: ['REPLAY-A', 'REPLAY-B'],
        4: ['REPLAY-B'],
      };
      for (const update of published) {
        const data = update.event.data as TokenRenewedData;
        expect(update.record.key).toBe(user);
        expect(data.authorities).toEqual(
          authorities(...FIRST_PARTY_ROLES, 'AUTH-BASIC', ...rolesAt[data.claimsVersion]!),
        );
      }
      // The next renewal continues from the replayed state.
      const next = await app.session(user);
      expect(next.claims).toMatchObject({
        sid: first.claims.sid,
        claims_version: 5,
        authorities: authorities(...FIRST_PARTY_ROLES, 'AUTH-BASIC', 'REPLAY-B'),
      });

      // A second replay of the same range finds every event processed: it publishes nothing.
      await updates.waitForVersion(first.claims.sid, 5);
      const sizeBefore = updates.size;
      const repeat = await json<ReplayReport>(['replay', ...range, '--json']);
      expect(repeat).toEqual({
        dryRun: false,
        summary: {
          records: 3,
          applied: 0,
          duplicate: 3,
          noEffect: 0,
          deadLettered: 0,
          renewed: 0,
          revoked: 0,
        },
      });
      expect(await updates.reader.countArrivingWithin(1_500)).toBe(0);
      expect(updates.size).toBe(sizeBefore);
    });
  });

  it('a replay dry run prints no token: tokens minted inside its rolled-back transaction must not leave it', async () => {
    // What the dry run printed: for each would-be update, the update as it would be published.
    expect(dry.wouldPublish).toHaveLength(6);
    const printed = (dry.wouldPublish ?? []).filter((update) => typeof update.accessToken === 'string');
    // Evidence of what a printed token is: signed by the service, for authorities never applied.
    const evidence = await Promise.all(
      printed.slice(0, 1).map(async (update) => {
        const jwt = await openSealedToken(deployment, String(update.accessToken));
        const claims = await verifiedClaims(service, jwt);
        return { sid: claims.sid, claimsVersion: claims.claims_version, authorities: claims.authorities };
      }),
    );
    expect(evidence, 'the dry run printed valid signed tokens').toEqual([]);
    expect(dryStdout).not.toMatch(/eyJ[\w-]+\.[\w-]*\.[\w-]*/);
  });

  it('keys rotate: a new key signs, the old one stays published while its tokens live', async () => {
    const [old] = await json<Array<{ kid: string }>>(['keys', 'list', '--json']);
    const rotated = await cli('keys', 'rotate');
    expect(rotated.code, rotated.stderr).toBe(ExitCode.Ok);
    const active = /^active key: (\S+)$/m.exec(rotated.stdout)?.[1];
    const until = /^retired \(published until (\S+)\): (\S+)$/m.exec(rotated.stdout);
    expect(active).toBeDefined();
    expect(active).not.toBe(old!.kid);
    expect(until?.[2]).toBe(old!.kid);

    const keys = await json<Array<Record<string, unknown>>>(['keys', 'list', '--json']);
    expect(
      keys.map((key) => [key.kid, key.status, key.published, key.privateKey, key.publishedUntil]),
    ).toEqual(
      expect.arrayContaining([
        [active, 'ACTIVE', true, true, null],
        [old!.kid, 'RETIRED', true, true, until![1]],
      ]),
    );
    expect(keys).toHaveLength(2);
    const publishedUntil = Date.parse(until![1]!);
    expect(publishedUntil).toBeGreaterThan(Date.now() + 14 * 60_000);

    // The running service picks the new key up: it signs with it and publishes both.
    const signedWithNew = await waitUntil(
      'the service to sign with the rotated key',
      async () => {
        const login = await loginClient(service, app.clientId, app.secret);
        return decodeJwt(login.accessToken).header.kid === active ? login : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    expect(signedWithNew).toBeDefined();
    const jwks = (await (await service.fetch(KEYS_PATH)).json()) as JsonWebKeySet;
    expect(jwks.keys.map((key) => key.kid).sort()).toEqual([active, old!.kid].sort());
    // A token the old key signed is still accepted.
    expect(decodeJwt(app.token).header.kid).toBe(old!.kid);
    expect((await app.renewForUser('cli-after-rotation')).status).toBe(200);
  });
});
