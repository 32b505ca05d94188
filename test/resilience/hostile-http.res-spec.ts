import fc from 'fast-check';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorities } from '../support/applications';
import { event, events, publishRaw, toMessage, type InboundCloudEvent } from '../support/events';
import { loginClient, renewToken, type TokenResponse } from '../support/http';
import {
  decodeJwt,
  forgeJwt,
  readSigningKeys,
  rsaSigner,
  verifyRs512,
  type JsonWebKeySet,
} from '../support/jwt';
import { TopicReader, type ReceivedRecord } from '../support/kafka';
import {
  authMeId,
  expectAuthMeError,
  KEYS_PATH,
  LOGIN_PATH,
  registerClient,
  renewOk,
  sleep,
  UUID,
} from '../support/renewal';
import { createDeployment, ServiceInstance, type Deployment } from '../support/service';
import { tearDownSuite } from '../support/suite';
import { classifyRecord, type TopicKind } from './support/hostile-cloudevent-oracle';
import { FORGERIES, type ForgeryMaterial } from '../support/forgeries';
import {
  buildRequest,
  describeCase,
  judge,
  loginCaseArb,
  renewCaseArb,
  type HostileCase,
  type Judgement,
  type TokenInfo,
  type World,
  BAD,
} from './support/hostile-http-cases';
import { hostileAgent, sendRawOnce, type RawResponse } from './support/hostile-http-client';

/**
 * Property-based fuzzing of Renew Token and Login Client against the started
 * service (README, "Guarantees"): whatever arrives, the answer is never a 5xx,
 * every refusal is an AuthMe error body without internals, and a token is
 * issued only for a request of a legitimately valid shape (and always for one).
 * Then the forged-token corpus against the HTTP path and the event path.
 *
 * HOSTILE_SEED replays a run; HOSTILE_RENEW_RUNS / HOSTILE_LOGIN_RUNS size it.
 */

const SEED = Number(process.env.HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RENEW_RUNS = Number(process.env.HOSTILE_RENEW_RUNS ?? 7_000);
const LOGIN_RUNS = Number(process.env.HOSTILE_LOGIN_RUNS ?? 4_000);
const FIRST_PARTY = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'];
/** Every user of this deployment has only these (no role events before the last test). */
const BASE_AUTHORITIES = authorities(...FIRST_PARTY, 'AUTH-BASIC');
const REUSE_GRACE_MS = 1_000;

/** Text that must never reach a caller (README: "never a stack trace"; a 500 "says nothing more"). */
const INTERNALS: ReadonlyArray<readonly [string, RegExp]> = [
  ['stack frame', /\n\s+at |\bat [\w$.<>]+ \(/],
  ['source path', /\.(ts|js|mjs|cjs):\d+|node_modules|\/work\/|dist\/apps|\/home\//],
  ['error class', /\b(TypeError|ReferenceError|SyntaxError|RangeError|Error):/],
  [
    'SQL',
    /\b(SELECT|INSERT INTO|DELETE FROM)\b|UPDATE \w+ SET|duplicate key|violates|relation "|syntax error at/i,
  ],
  ['driver or framework', /prisma|postgres|\bpg\b|kafkajs|\bzod\b|fastify|\bFST_|\bERR_[A-Z_]+|ECONN|EPIPE/i],
  ['JSON parser', /Unexpected token|in JSON at position|Unexpected end of JSON/i],
];

interface Tally {
  cases: number;
  byStatus: Record<string, number>;
  byVerdict: Record<string, Record<string, number>>;
  violations: Array<{ kinds: string[]; text: string }>;
}

const newTally = (): Tally => ({ cases: 0, byStatus: {}, byVerdict: {}, violations: [] });

const NO_STORE = 'error without cache-control: no-store';
const notNoStore = (kind: string) => kind !== NO_STORE;

/** Groups a problem for the report (one request may show several). */
function kindOf(problem: string): string {
  if (/^answered 5\d\d/.test(problem)) return '5xx';
  if (problem.includes('TOKEN WAS ISSUED')) return 'token issued for an invalid request';
  if (problem.startsWith('an error without cache-control')) return NO_STORE;
  if (problem.startsWith('answered ')) return 'refused with an unexpected status or code';
  if (problem.includes('leaks internals')) return 'internals leaked';
  if (problem.includes('echoes')) return 'secret echoed';
  if (problem.startsWith('closed')) return 'connection closed unanswered';
  return 'malformed answer';
}

/** The kinds of problems and how often, with the first examples of each. */
function summarizeViolations(tally: Tally, examples = 2, only?: (kind: string) => boolean): string[] {
  const kinds = new Map<string, { count: number; examples: string[] }>();
  for (const violation of tally.violations) {
    for (const kind of new Set(violation.kinds)) {
      if (only && !only(kind)) continue;
      const entry = kinds.get(kind) ?? { count: 0, examples: [] };
      entry.count += 1;
      if (entry.examples.length < examples) entry.examples.push(violation.text);
      kinds.set(kind, entry);
    }
  }
  return [...kinds].flatMap(([kind, { count, examples: shown }]) => [
    `  ${count} × ${kind}`,
    ...shown.map((text) => `    - ${text.replace(/\n/g, '\n    ')}`),
  ]);
}

describe('hostile HTTP input, fuzzed (resilience)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let world: World;
  let jwks: JsonWebKeySet;
  let material: ForgeryMaterial;
  let currentRefresh: string;
  const secrets: string[] = [];
  const agent = hostileAgent(1);
  const loginAgent = hostileAgent(4);
  const tallies = { renew: newTally(), login: newTally() };

  const A = { id: `hostile-app-${authMeId()}`, secret: `A-secret-${authMeId()}` };
  const B = { id: `hostile-other-${authMeId()}`, secret: `B-secret-${authMeId()}` };
  const P3 = { id: `hostile-3p-${authMeId()}`, secret: `P-secret-${authMeId()}` };
  const VICTIM = { id: `hostile-victim-${authMeId()}`, secret: `V-secret-${authMeId()}` };
  const users = { u1: authMeId(), u2: authMeId(), ub: authMeId(), r: authMeId(), rv: authMeId() };
  const idpUsers = [users.u1, users.u2, authMeId(), authMeId(), authMeId()];

  beforeAll(async () => {
    deployment = await createDeployment('hostile_http', {
      SESSION_UPDATE_PLAINTEXT: 'true',
      REFRESH_TOKEN_REUSE_GRACE: `${REUSE_GRACE_MS}ms`,
    });
    service = await ServiceInstance.start(deployment);
    await Promise.all([
      registerClient(deployment, { ...A, roles: FIRST_PARTY }),
      registerClient(deployment, { ...B, roles: FIRST_PARTY }),
      registerClient(deployment, { ...P3, roles: ['CLI-AUTH-IDENTIFIED'] }),
      registerClient(deployment, { ...VICTIM, roles: FIRST_PARTY }),
    ]);
    const appA = (await loginClient(service, A.id, A.secret)).accessToken;
    const appB = (await loginClient(service, B.id, B.secret)).accessToken;
    const app3p = (await loginClient(service, P3.id, P3.secret)).accessToken;
    const idp = (caller: string, userId: string, clientId: string) =>
      renewOk(service, caller, { userId, clientId, 'remember-me': 'true' });
    const u1 = await idp(appA, users.u1, A.id);
    const u2 = await idp(appA, users.u2, A.id);
    const b1 = await idp(appB, users.ub, B.id);
    const r = await idp(appA, users.r, A.id);
    currentRefresh = r.refreshToken!;

    // A revoked session: its first refresh token presented again after the grace period.
    const rv = await idp(appA, users.rv, A.id);
    await renewOk(service, appA, { token: rv.refreshToken!, 'remember-me': 'true' });
    await sleep(REUSE_GRACE_MS + 300);
    await expectAuthMeError(
      await renewToken(service, appA, { token: rv.refreshToken!, 'remember-me': 'true' }),
      412,
      'REFRESH_TOKEN_REUSED',
    );

    jwks = (await (await service.fetch(KEYS_PATH)).json()) as JsonWebKeySet;
    const user = decodeJwt(u1.accessToken);
    const jwk = jwks.keys.find((key) => key.kid === user.header.kid)!;
    const signingKey = readSigningKeys(deployment.signingKeysDir).find((key) => key.kid === user.header.kid)!;
    expect(jwk).toBeDefined();
    expect(signingKey).toBeDefined();
    material = { user, jwk, signingKey };
    const forged = FORGERIES.map((forgery) => forgery.forge(material));

    const sessionOf = (userId: string, clientId: string) => ({ userId, clientId });
    const known = new Map<string, TokenInfo>([
      [u1.accessToken, { kind: 'access', session: sessionOf(users.u1, A.id) }],
      [u2.accessToken, { kind: 'access', session: sessionOf(users.u2, A.id) }],
      [b1.accessToken, { kind: 'access', session: sessionOf(users.ub, B.id) }],
      [rv.accessToken, { kind: 'revoked', session: sessionOf(users.rv, A.id) }],
      ...[appA, appB, app3p].map((token): [string, TokenInfo] => [
        token,
        { kind: 'refused', outcomes: [BAD.token], why: 'a client token' },
      ]),
      ...forged.map((token): [string, TokenInfo] => [
        token,
        { kind: 'refused', outcomes: [BAD.token], why: 'a forged token' },
      ]),
    ]);
    world = {
      clientA: A,
      clientB: B,
      client3p: P3,
      victim: VICTIM,
      callers: {
        appA: { token: appA, identity: { clientId: A.id } },
        appB: { token: appB, identity: { clientId: B.id } },
        userU1: { token: u1.accessToken, identity: { clientId: A.id, userId: users.u1 } },
      },
      app3pToken: app3p,
      userTokens: { u1: u1.accessToken, u2: u2.accessToken, b1: b1.accessToken, revoked: rv.accessToken },
      clientTokens: [appA, appB, app3p],
      forged,
      idpUsers,
      tokenInfo: (value) => {
        if (value === currentRefresh) return { kind: 'refresh', session: sessionOf(users.r, A.id) };
        const info = known.get(value);
        if (info) return info;
        return UUID.test(value)
          ? { kind: 'refused', outcomes: [BAD.refresh], why: 'an unknown refresh token' }
          : { kind: 'refused', outcomes: [BAD.token], why: 'not a token of ours' };
      },
    };
    secrets.push(A.secret, B.secret, P3.secret, VICTIM.secret, appA, u1.accessToken, r.refreshToken!);
  });

  afterAll(async () => {
    agent.destroy();
    loginAgent.destroy();
    await tearDownSuite({ deployment, service });
  });

  /** Everything a single answer must satisfy; returns what it violated. */
  function violationsOf(
    c: HostileCase,
    judgement: Judgement,
    method: string,
    response: RawResponse,
  ): string[] {
    const problems: string[] = [];
    const { status, text } = response;
    if (status >= 500) problems.push(`answered ${status}`);
    let code: string | undefined;
    if (status !== 200 && method !== 'HEAD') {
      if (!/^application\/json/.test(String(response.headers['content-type'] ?? ''))) {
        problems.push(`content-type ${String(response.headers['content-type'])}`);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        problems.push('the body is not JSON');
      }
      if (!Array.isArray(body) || body.length === 0) {
        problems.push('the body is not a non-empty JSON array');
      } else {
        for (const entry of body as unknown[]) {
          const keys =
            entry && typeof entry === 'object' ? Object.keys(entry).sort().join(',') : typeof entry;
          const value = entry as { code?: unknown; message?: unknown };
          if (
            keys !== 'code,message' ||
            typeof value.code !== 'string' ||
            typeof value.message !== 'string'
          ) {
            problems.push(`an entry is not exactly {code,message}: ${JSON.stringify(entry).slice(0, 100)}`);
          } else if (!/^[A-Z][A-Z0-9_]*$/.test(value.code)) {
            problems.push(`code ${value.code}`);
          }
        }
        code = (body as Array<{ code?: string }>)[0]?.code;
      }
      for (const [name, pattern] of INTERNALS) {
        if (pattern.test(text)) problems.push(`the body leaks internals (${name}): ${text.slice(0, 200)}`);
      }
      for (const secret of [...secrets, currentRefresh]) {
        if (text.includes(secret)) problems.push('the body echoes a secret or token');
      }
      // README, Errors: "Always a JSON array …, cache-control: no-store".
      if (!String(response.headers['cache-control'] ?? '').includes('no-store')) {
        problems.push(`an error without cache-control: no-store (${status})`);
      }
    }
    const allowed = judgement.allowed.some(
      (outcome) =>
        outcome.status === status &&
        (outcome.code === undefined || code === undefined || outcome.code === code),
    );
    if (!allowed) {
      problems.push(
        status === 200
          ? 'A TOKEN WAS ISSUED for a request that is not a valid shape'
          : `answered ${status} ${code ?? ''}, allowed: ${judgement.allowed.map((o) => `${o.status} ${o.code ?? '*'}`).join(', ')}`,
      );
    }
    if (status === 200) problems.push(...tokenProblems(c, judgement, response));
    return problems;
  }

  /** A 200 must carry a token of ours for exactly whom the request names, nothing more. */
  function tokenProblems(c: HostileCase, judgement: Judgement, response: RawResponse): string[] {
    const problems: string[] = [];
    if (!judgement.expect) return ['a 200 without an expected token'];
    let body: Partial<TokenResponse> & Record<string, unknown>;
    try {
      body = JSON.parse(response.text) as typeof body;
    } catch {
      return ['a 200 whose body is not JSON'];
    }
    const expected = judgement.expect;
    const keys = Object.keys(body).sort().join(',');
    const wanted = expected.refreshToken
      ? 'accessToken,expiresIn,refreshToken,scope,tokenType'
      : 'accessToken,expiresIn,scope,tokenType';
    if (keys !== wanted) problems.push(`200 body members ${keys}, expected ${wanted}`);
    if (body.tokenType !== 'Bearer') problems.push('tokenType');
    if (!/^\d+$/.test(String(body.expiresIn))) problems.push('expiresIn');
    if (expected.refreshToken && !UUID.test(String(body.refreshToken))) problems.push('refreshToken');
    if (!String(response.headers['cache-control'] ?? '').includes('no-store'))
      problems.push('200 without no-store');
    const accessToken = String(body.accessToken);
    let verified: { valid: boolean; reason?: string };
    try {
      verified = verifyRs512(accessToken, jwks);
    } catch (error) {
      verified = { valid: false, reason: (error as Error).message };
    }
    if (!verified.valid) return [...problems, `the issued token does not verify (${verified.reason})`];
    const claims = decodeJwt(accessToken).payload as Record<string, unknown>;
    if (claims.iss !== deployment.env.TOKEN_ISSUER) problems.push(`iss ${String(claims.iss)}`);
    if (claims.client_id !== expected.clientId)
      problems.push(`client_id ${String(claims.client_id)} ≠ ${expected.clientId}`);
    if (String(claims.exp) !== String(body.expiresIn)) problems.push('exp ≠ expiresIn');
    const granted = claims.authorities as string[];
    if (c.endpoint === 'login') {
      if (claims.user_id != null) problems.push('a client token with a user_id');
      if (JSON.stringify(granted) !== JSON.stringify(authorities(...FIRST_PARTY))) {
        problems.push(`client authorities ${JSON.stringify(granted)}`);
      }
    } else {
      if (expected.certainUser && claims.user_id !== expected.userId) {
        problems.push(`user_id ${JSON.stringify(claims.user_id)} ≠ ${JSON.stringify(expected.userId)}`);
      }
      if (!granted.every((authority) => BASE_AUTHORITIES.includes(authority))) {
        problems.push(`authorities beyond the user's: ${JSON.stringify(granted)}`);
      }
    }
    return problems;
  }

  async function runCase(c: HostileCase, tally: Tally, via = agent): Promise<void> {
    const built = buildRequest(c, currentRefresh);
    const judgement = judge(c, world, built, currentRefresh);
    tally.cases += 1;
    let response: RawResponse;
    try {
      response = await sendRawOnce(service.baseUrl, via, built);
    } catch (error) {
      // A connection the server closed unanswered is acceptable only for a head over the parser's limit.
      // For HEAD, the body of a parser-level refusal (sent before the method is known) cannot be read.
      const code = (error as { code?: string }).code;
      const oversized =
        judgement.parts.some((part) => part.label.startsWith('head ')) ||
        (built.method === 'HEAD' && code === 'HPE_INVALID_CONSTANT');
      const key = `closed (${code ?? (error as Error).message})`;
      tally.byStatus[key] = (tally.byStatus[key] ?? 0) + 1;
      if (!oversized) {
        tally.violations.push({
          kinds: [kindOf(key)],
          text: `${key}\n  ${describeCase(c, built, judgement)}`,
        });
      }
      return;
    }
    tally.byStatus[response.status] = (tally.byStatus[response.status] ?? 0) + 1;
    const verdict = (tally.byVerdict[judgement.verdict] ??= {});
    verdict[response.status] = (verdict[response.status] ?? 0) + 1;
    const problems = violationsOf(c, judgement, built.method, response);
    if (problems.length > 0) {
      tally.violations.push({
        kinds: problems.map(kindOf),
        text: `${problems.join('; ')}\n  ${describeCase(c, built, judgement)}\n  answer: ${response.status} ${response.text.slice(0, 200)}`,
      });
    }
    // Session R's refresh token rotates with every renewal through it.
    if (response.status === 200 && judgement.usesRefresh) {
      const rotated = (JSON.parse(response.text) as TokenResponse).refreshToken;
      if (rotated) currentRefresh = rotated;
    }
  }

  function report(name: string, tally: Tally, runs: number, ms: number): void {
    console.log(
      [
        `[hostile-http] ${name}: ${tally.cases} cases (seed ${SEED}) in ${(ms / 1000).toFixed(1)} s`,
        `  by status: ${JSON.stringify(tally.byStatus)}`,
        ...Object.entries(tally.byVerdict).map(
          ([verdict, counts]) => `  ${verdict}: ${JSON.stringify(counts)}`,
        ),
        `  requests violating the contract: ${tally.violations.length}`,
        ...summarizeViolations(tally),
      ].join('\n'),
    );
    expect(tally.cases).toBeGreaterThanOrEqual(runs);
  }

  it('the forged-token corpus is refused as the caller and as the token, at both routes', async () => {
    const { appA } = world.callers;
    const idp = { userId: users.u1, clientId: A.id, 'remember-me': 'true' };
    // Control: the forger's machinery makes an accepted token from the real key and claims.
    const genuine = forgeJwt(
      material.user.header,
      material.user.payload,
      rsaSigner('sha512', material.signingKey.privateKey),
    );
    await renewOk(service, appA.token, { token: genuine, 'remember-me': 'true' });
    for (const [index, forgery] of FORGERIES.entries()) {
      const forged = world.forged[index]!;
      const as = `${forgery.name}`;
      await expectAuthMeError(
        await renewToken(service, forged, { token: world.userTokens.u1, 'remember-me': 'true' }),
        401,
        'INVALID_CALLER_TOKEN',
      ).catch((error: Error) => Promise.reject(new Error(`${as} as caller: ${error.message}`)));
      await expectAuthMeError(await renewToken(service, forged, idp), 401, 'INVALID_CALLER_TOKEN').catch(
        (error: Error) => Promise.reject(new Error(`${as} as caller (identity provider): ${error.message}`)),
      );
      await expectAuthMeError(
        await renewToken(service, appA.token, { token: forged, 'remember-me': 'true' }),
        401,
        'INVALID_TOKEN',
      ).catch((error: Error) => Promise.reject(new Error(`${as} as token: ${error.message}`)));
      await expectAuthMeError(
        await service.fetch(LOGIN_PATH, { method: 'POST', headers: { authorization: `Bearer ${forged}` } }),
        401,
        'INVALID_CLIENT_CREDENTIALS',
      );
    }
    // Another client's user token, and client tokens, as the token.
    await expectAuthMeError(
      await renewToken(service, appA.token, { token: world.userTokens.b1, 'remember-me': 'true' }),
      403,
      'NOT_THE_TOKEN_CLIENT',
    );
    for (const token of world.clientTokens) {
      await expectAuthMeError(
        await renewToken(service, appA.token, { token, 'remember-me': 'true' }),
        401,
        'INVALID_TOKEN',
      );
    }
    await expectAuthMeError(
      await renewToken(service, appA.token, { token: world.userTokens.revoked, 'remember-me': 'true' }),
      412,
      'SESSION_REVOKED',
    );
  });

  it(`Renew Token: ${RENEW_RUNS} generated requests, never a 5xx, a token only for a valid shape`, async () => {
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(renewCaseArb(world), async (c) => {
        await runCase(c, tallies.renew);
      }),
      { numRuns: RENEW_RUNS, seed: SEED, endOnFailure: true },
    );
    report('Renew Token', tallies.renew, RENEW_RUNS, performance.now() - started);
    // The generators did reach both sides of the oracle.
    expect(tallies.renew.byVerdict.ok?.['200'] ?? 0).toBeGreaterThan(RENEW_RUNS / 20);
    expect(Object.values(tallies.renew.byVerdict.defect ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(
      RENEW_RUNS / 3,
    );
    expect(summarizeViolations(tallies.renew, 1, notNoStore)).toEqual([]);
  });

  it(`Login Client: ${LOGIN_RUNS} generated requests, never a 5xx, a token only for valid credentials`, async () => {
    const started = performance.now();
    await fc.assert(
      // Four at a time: every login spends an scrypt, which runs on the service's thread pool.
      fc.asyncProperty(fc.array(loginCaseArb(world), { minLength: 4, maxLength: 4 }), async (batch) => {
        await Promise.all(batch.map((c) => runCase(c, tallies.login, loginAgent)));
      }),
      { numRuns: Math.ceil(LOGIN_RUNS / 4), seed: SEED + 1, endOnFailure: true },
    );
    report('Login Client', tallies.login, LOGIN_RUNS, performance.now() - started);
    expect(tallies.login.byVerdict.ok?.['200'] ?? 0).toBeGreaterThan(LOGIN_RUNS / 20);
    expect(summarizeViolations(tallies.login, 1, notNoStore)).toEqual([]);
    // Client A never failed a login, so it still logs in.
    await loginClient(service, A.id, A.secret);
  });

  it('every refusal of the fuzzed requests carried cache-control: no-store (README, "Errors")', () => {
    const byStatus: Record<string, number> = {};
    for (const tally of [tallies.renew, tallies.login]) {
      for (const violation of tally.violations.filter((v) => v.kinds.includes(NO_STORE))) {
        const status = /no-store \((\d+)\)/.exec(violation.text)?.[1] ?? '?';
        byStatus[status] = (byStatus[status] ?? 0) + 1;
      }
    }
    expect(tallies.renew.cases + tallies.login.cases).toBeGreaterThan(0);
    expect(byStatus, 'refusals without cache-control: no-store, by status').toEqual({});
  });

  it('logged no 5xx and no unexpected failure while being fuzzed', () => {
    const failures = service.logs.filter((line) => line.includes('request failed unexpectedly'));
    // What failed, and where (the service's own frames), once per kind.
    const where = new Map<string, number>();
    for (const line of failures) {
      const { err } = JSON.parse(line) as { err?: { message?: string; code?: string; stack?: string } };
      const frames = [...(err?.stack ?? '').matchAll(/at (?:async )?([A-Z]\w+\.\w+) /g)]
        .map((match) => match[1])
        .filter((frame) => frame !== 'PgSql.query')
        .slice(0, 3);
      // Prisma's messages carry a code frame: their last line is the database's error.
      const message = (err?.message ?? '?').trim().split('\n').pop()!.trim();
      const key = `${message} @ ${frames.join(' < ')}`;
      where.set(key, (where.get(key) ?? 0) + 1);
    }
    if (where.size > 0) {
      console.log(
        `[hostile-http] unexpected failures in the service log:\n${[...where].map(([key, count]) => `  ${count} × ${key}`).join('\n')}`,
      );
    }
    expect([...where.keys()]).toEqual([]);
    expect(service.logs.filter((line) => /"statusCode":5\d\d/.test(line))).toEqual([]);
    expect(service.running).toBe(true);
  });

  it('events carrying forged JWTs and giant values are dead-lettered with a reason or applied as opaque data, never a token for a session that does not exist', async () => {
    const readers = {
      role: await TopicReader.open(`${deployment.topics.roleChanges}.dlq`),
      business: await TopicReader.open(`${deployment.topics.businessChanges}.dlq`),
      updates: await TopicReader.open(deployment.topics.sessionUpdates),
    };
    try {
      const liveUser = `hostile-evt-${authMeId()}`;
      const live = await renewOk(service, world.callers.appA.token, {
        userId: liveUser,
        clientId: A.id,
        'remember-me': 'true',
      });
      const liveSession = decodeJwt(live.accessToken).payload.sid as string;
      const shortJwt = forgeJwt({ alg: 'none' }, { sub: 'x' }, null);
      const jwts = [shortJwt, ...world.forged.slice(0, 8), world.userTokens.u1, world.clientTokens[0]!];

      type Sent = {
        topic: TopicKind;
        event: Record<string, unknown>;
        message: Message;
        probe: string;
        changesLive?: string;
      };
      const sent: Sent[] = [];
      const add = (topic: TopicKind, cloudEvent: Record<string, unknown>, changesLive?: string) => {
        const probe = `probe-${sent.length}`;
        const base = toMessage(cloudEvent as unknown as InboundCloudEvent);
        const key = typeof cloudEvent.subject === 'string' ? cloudEvent.subject : null;
        sent.push({
          topic,
          event: cloudEvent,
          probe,
          changesLive,
          message: { ...base, key, headers: { ...base.headers, 'x-probe': probe } },
        });
      };
      for (const jwt of jwts) {
        add('role', { ...events.userRoleGranted(jwt, 'FORGED') });
        add('role', { ...events.userLocked(jwt) });
        add('role', { ...events.clientRoleGranted(jwt, 'ADMIN') });
        add('role', { ...events.groupMemberAdded('hostile-group', 'USER', jwt) });
        add('role', { ...events.userRoleGranted(liveUser, jwt) }, jwt);
        add(
          'role',
          {
            ...event('iam.user.role.granted', liveUser, { userId: liveUser, role: `ID-${sent.length}` }),
            id: jwt,
          },
          `ID-${sent.length}`,
        );
        add('business', { ...events.businessMemberAdded(jwt, liveUser, [jwt]) });
      }
      for (const size of [257, 300, 4_096, 60_000, 70_000]) {
        const giant = 'g'.repeat(size);
        add('role', { ...events.userRoleGranted(giant, 'GIANT') });
        add('role', { ...events.userRoleGranted(liveUser, `R${'r'.repeat(size)}`) });
        add('business', { ...events.businessRoleGranted(giant, 'GIANT') });
        add(
          'role',
          { ...events.userRoleGranted(liveUser, `SOURCE-${size}`), source: `/${'s'.repeat(size)}` },
          `SOURCE-${size}`,
        );
      }
      const sentinel = events.userRoleGranted(liveUser, 'SENTINEL');
      add('role', { ...sentinel }, 'SENTINEL');

      const expectations = sent.map((item) => ({
        ...item,
        ...classifyRecord(Buffer.from(String(item.message.value)), item.topic),
      }));
      for (const topic of ['role', 'business'] as const) {
        const messages = sent.filter((item) => item.topic === topic).map((item) => item.message);
        const name = topic === 'role' ? deployment.topics.roleChanges : deployment.topics.businessChanges;
        for (let i = 0; i < messages.length; i += 8) await publishRaw(name, messages.slice(i, i + 8));
      }

      const deadLettered = expectations.filter((item) => item.reason !== null);
      const applied = expectations.filter((item) => item.reason === null);
      const probeOf = (record: ReceivedRecord) => record.headers['x-probe'];
      const deadline = Date.now() + 60_000;
      const liveUpdates = () =>
        readers.updates.records
          .map(
            (record) =>
              JSON.parse(record.value!.toString()) as {
                data: {
                  sessionId: string;
                  userId: string;
                  authorities?: string[];
                  cause: { kind: string; eventId?: string };
                };
              },
          )
          .filter((update) => update.data.cause.kind === 'event');
      while (
        readers.role.records.length + readers.business.records.length < deadLettered.length ||
        !liveUpdates().some((update) => update.data.cause.eventId === sentinel.id)
      ) {
        if (!service.running) throw new Error(`the service stopped:\n${service.logs.slice(-20).join('\n')}`);
        if (Date.now() > deadline) {
          throw new Error(
            `gave up: ${readers.role.records.length + readers.business.records.length}/${deadLettered.length} dead letters, sentinel applied: ${liveUpdates().some((u) => u.data.cause.eventId === sentinel.id)}\n${service.logs
              .filter((l) => l.includes('"level":50') || l.includes('"level":60'))
              .slice(-5)
              .join('\n')}`,
          );
        }
        await sleep(200);
      }
      await sleep(1_500);

      console.log(
        `[hostile-http] event path: ${sent.length} events, ${deadLettered.length} dead-lettered (${JSON.stringify(
          deadLettered.reduce<Record<string, number>>(
            (acc, item) => ({ ...acc, [item.reason!]: (acc[item.reason!] ?? 0) + 1 }),
            {},
          ),
        )}), ${applied.length} applied as opaque data`,
      );
      for (const item of expectations) {
        const letters = [...readers.role.records, ...readers.business.records].filter(
          (record) => probeOf(record) === item.probe,
        );
        const id = typeof item.event.id === 'string' ? item.event.id : '';
        const caused = liveUpdates().filter((update) => update.data.cause.eventId === id);
        const what = `${item.probe} ${String(item.event.type)} (${item.why}, ${String(item.message.value).length} B)`;
        if (item.reason !== null) {
          expect(
            letters.map((record) => record.headers['dlq-reason']),
            what,
          ).toEqual([item.reason]);
          expect(letters[0]!.topic, what).toBe(
            `${item.topic === 'role' ? deployment.topics.roleChanges : deployment.topics.businessChanges}.dlq`,
          );
          expect(caused, what).toEqual([]);
        } else {
          expect(letters, what).toEqual([]);
          // Opaque data: only a change to the live user's own roles re-issues a token, for its one session.
          if (item.changesLive !== undefined) {
            expect(
              caused.map((update) => update.data.sessionId),
              what,
            ).toEqual([liveSession]);
            expect(caused[0]!.data.authorities, what).toContain(`ROLE_${item.changesLive}`);
          } else {
            expect(caused, what).toEqual([]);
          }
        }
      }
      // No session update of any kind names a user that has no session (the forged and giant ids).
      const sessionUsers = new Set([...Object.values(users), ...idpUsers, liveUser]);
      const strangers = readers.updates.records
        .map((record) => (JSON.parse(record.value!.toString()) as { data: { userId: string } }).data.userId)
        .filter((userId) => !sessionUsers.has(userId) && (jwts.includes(userId) || userId.startsWith('ggg')));
      expect(strangers).toEqual([]);

      // The forged tokens are still refused after the events named them.
      for (const forged of world.forged.slice(0, 8)) {
        await expectAuthMeError(
          await renewToken(service, world.callers.appA.token, { token: forged, 'remember-me': 'true' }),
          401,
          'INVALID_TOKEN',
        );
      }
      // A short "JWT" used as a user id by an event is just a user id: it has no session to renew.
      await expectAuthMeError(
        await renewToken(service, world.callers.appA.token, { token: shortJwt, 'remember-me': 'true' }),
        401,
        'INVALID_TOKEN',
      );
    } finally {
      await Promise.all(Object.values(readers).map((reader) => reader.close()));
    }
  });
});
