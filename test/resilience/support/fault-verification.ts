import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Kafka } from 'kafkajs';
import { TopicReader, type ReceivedRecord } from '../../support/kafka';
import type { Deployment, ServiceInstance } from '../../support/service';
import { openSealedToken, type SessionUpdateEvent } from '../../support/session-updates';
import { sleep } from './fault-infrastructure';
import type { RoleToggleStream } from './role-toggle-stream';

/** What the verification of one fault found, as counts (the figures) and readable problems (the failures). */
export interface TopicVerdict {
  /** Distinct records on the session-update topic (by partition and offset). */
  readonly updatesPublished: number;
  readonly updatesExpected: number;
  /** Records repeating a (sessionId, claimsVersion) already on the topic. */
  readonly duplicates: number;
  /** (sessionId, claimsVersion) pairs the model expects that are not on the topic. */
  readonly missing: number;
  /** Updates whose claimsVersion is lower than one before it on the topic (same session). */
  readonly outOfOrder: number;
  /** Updates whose authorities (or cause) differ from the model's for that version. */
  readonly wrongAuthorities: number;
  readonly wrongCause: number;
  /** Events whose updates on the topic are not exactly one. */
  readonly eventsNotExactlyOnce: number;
  /** Sessions whose latest token (decrypted, signature verified) does not carry the expected authorities. */
  readonly wrongFinalTokens: number;
  readonly problems: string[];
}

interface ParsedUpdate {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | null;
  readonly event: SessionUpdateEvent;
}

/**
 * Reads the whole session-update topic with a fresh read_committed consumer,
 * until `expected` distinct records are there (or the time is up), then a
 * quiet period more, so that anything published twice shows up too.
 */
export async function readSessionUpdates(
  kafka: Kafka,
  topic: string,
  expected: number,
  options: { timeoutMs?: number; quietMs?: number } = {},
): Promise<ReceivedRecord[]> {
  const reader = await TopicReader.open(topic, kafka);
  try {
    const distinct = () => new Set(reader.records.map((r) => `${r.partition}/${r.offset}`)).size;
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    while (distinct() < expected && Date.now() < deadline) await sleep(200);
    let before = -1;
    while (distinct() !== before) {
      before = distinct();
      await sleep(options.quietMs ?? 2_000);
    }
    const seen = new Set<string>();
    return reader.records.filter((record) => {
      const id = `${record.partition}/${record.offset}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  } finally {
    await reader.close();
  }
}

/**
 * Checks the topic against the model: per session, versions 1..N each exactly
 * once and in order (v1 the HTTP start, then one update per event of its
 * user, in the order sent, with the authorities the model holds after that
 * event), and the latest token, decrypted and verified, carrying the final
 * authorities.
 */
export async function verifySessionUpdates(context: {
  deployment: Deployment;
  service: ServiceInstance;
  stream: RoleToggleStream;
  sessions: ReadonlyMap<string, string>;
  records: readonly ReceivedRecord[];
}): Promise<TopicVerdict> {
  const { stream, sessions, records } = context;
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < 40) problems.push(problem);
  };
  const userOfSession = new Map([...sessions].map(([user, sid]) => [sid, user]));
  const bySession = new Map<string, ParsedUpdate[]>();
  const causes = new Map<string, number>();
  for (const record of records) {
    const event = JSON.parse(record.value?.toString('utf8') ?? 'null') as SessionUpdateEvent;
    const sid = event?.data?.sessionId;
    if (!sid || !userOfSession.has(sid)) {
      note(`update for an unknown session at ${record.partition}/${record.offset}: ${sid}`);
      continue;
    }
    const list = bySession.get(sid) ?? [];
    list.push({ partition: record.partition, offset: BigInt(record.offset), key: record.key, event });
    bySession.set(sid, list);
    if (event.data.cause.kind === 'event') {
      causes.set(event.data.cause.eventId, (causes.get(event.data.cause.eventId) ?? 0) + 1);
    }
  }

  let duplicates = 0;
  let missing = 0;
  let outOfOrder = 0;
  let wrongAuthorities = 0;
  let wrongCause = 0;
  let wrongFinalTokens = 0;
  // The deployment's published keys; without them (no instance answers) the claims are still read.
  let jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  try {
    const response = await context.service.fetch('/security/iam/v1/keys');
    jwks = createLocalJWKSet((await response.json()) as JSONWebKeySet);
  } catch (error) {
    note(`the JWKS could not be fetched, token signatures not verified: ${(error as Error).message}`);
  }

  for (const [user, sid] of sessions) {
    const model = stream.model.get(user)!;
    const expectedVersions = 1 + model.steps.length;
    const updates = (bySession.get(sid) ?? []).sort((a, b) =>
      a.partition !== b.partition ? a.partition - b.partition : a.offset < b.offset ? -1 : 1,
    );
    if (new Set(updates.map((u) => u.partition)).size > 1) {
      note(`${user}: updates of session ${sid} on several partitions`);
    }
    const firstOfVersion = new Map<number, ParsedUpdate>();
    let previous = 0;
    for (const update of updates) {
      const { data, type } = update.event;
      if (update.key !== user)
        note(`${user}: record key ${update.key} at ${update.partition}/${update.offset}`);
      if (type !== 'iam.session.token-renewed') note(`${user}: unexpected ${type} v${data.claimsVersion}`);
      if (data.claimsVersion < previous) {
        outOfOrder += 1;
        note(`${user}: v${data.claimsVersion} after v${previous} on the topic`);
      }
      previous = Math.max(previous, data.claimsVersion);
      if (firstOfVersion.has(data.claimsVersion)) {
        duplicates += 1;
        note(`${user}: v${data.claimsVersion} published again at ${update.partition}/${update.offset}`);
        continue;
      }
      firstOfVersion.set(data.claimsVersion, update);
      if (data.claimsVersion < 1 || data.claimsVersion > expectedVersions) {
        note(`${user}: unexpected v${data.claimsVersion} (the model expects ${expectedVersions} versions)`);
      }
    }
    for (let version = 1; version <= expectedVersions; version += 1) {
      const update = firstOfVersion.get(version);
      if (!update) {
        missing += 1;
        note(`${user}: v${version} missing (session ${sid})`);
        continue;
      }
      if (update.event.type !== 'iam.session.token-renewed') continue;
      const data = update.event.data;
      const step = version === 1 ? undefined : model.steps[version - 2]!;
      const expectedAuthorities = step ? step.authorities : model.initial;
      if (JSON.stringify(data.authorities) !== JSON.stringify(expectedAuthorities)) {
        wrongAuthorities += 1;
        note(
          `${user} v${version}: authorities ${data.authorities.join(',')} ≠ ${expectedAuthorities.join(',')}`,
        );
      }
      const cause = data.cause;
      const causeOk = step
        ? cause.kind === 'event' && cause.eventId === step.eventId && cause.eventType === step.eventType
        : cause.kind === 'http';
      if (!causeOk) {
        wrongCause += 1;
        note(`${user} v${version}: cause ${JSON.stringify(cause)}, expected ${step ? step.eventId : 'http'}`);
      }
    }

    // The latest token on the topic, as a downstream service opens and verifies it.
    const latest = [...firstOfVersion.values()].sort(
      (a, b) => b.event.data.claimsVersion - a.event.data.claimsVersion,
    )[0];
    if (!latest || latest.event.type !== 'iam.session.token-renewed') {
      wrongFinalTokens += 1;
      note(`${user}: no latest token on the topic`);
      continue;
    }
    try {
      const jwt = await openSealedToken(context.deployment, latest.event.data.accessToken);
      const payload = jwks
        ? (
            await jwtVerify(jwt, jwks, {
              issuer: context.deployment.env.TOKEN_ISSUER,
              algorithms: ['RS512'],
            })
          ).payload
        : decodeJwt(jwt);
      const claims = payload as { sid?: string; authorities?: string[]; claims_version?: number };
      if (
        claims.sid !== sid ||
        claims.claims_version !== expectedVersions ||
        JSON.stringify(claims.authorities) !== JSON.stringify(model.final)
      ) {
        wrongFinalTokens += 1;
        note(
          `${user}: latest token v${claims.claims_version} carries ${claims.authorities?.join(',')}, expected v${expectedVersions} ${model.final.join(',')}`,
        );
      }
    } catch (error) {
      wrongFinalTokens += 1;
      note(`${user}: latest token does not open or verify: ${(error as Error).message}`);
    }
  }

  const eventsNotExactlyOnce = stream.events.filter((event) => causes.get(event.id) !== 1).length;
  if (eventsNotExactlyOnce > 0) note(`${eventsNotExactlyOnce} event(s) did not re-issue exactly one token`);
  return {
    updatesPublished: records.length,
    updatesExpected: sessions.size + stream.events.length,
    duplicates,
    missing,
    outOfOrder,
    wrongAuthorities,
    wrongCause,
    eventsNotExactlyOnce,
    wrongFinalTokens,
    problems,
  };
}
