import { readFileSync } from 'node:fs';
import { compactDecrypt, importJWK, type JWK } from 'jose';
import { testKafka, TopicReader, type ReceivedRecord } from './kafka';
import type { Deployment } from './service';

export type UpdateCause =
  { kind: 'http' } | { kind: 'event'; eventId: string; eventType: string } | { kind: 'operator' };

export interface TokenRenewedData {
  sessionId: string;
  userId: string;
  clientId: string;
  businessId: string | null;
  accessToken: string;
  tokenEncryption: 'jwe' | 'none';
  tokenType: 'Bearer';
  expiresIn: string;
  scope: string[];
  authorities: string[];
  added: string[];
  removed: string[];
  claimsVersion: number;
  cause: UpdateCause;
}

export interface SessionRevokedData {
  sessionId: string;
  userId: string;
  clientId: string;
  reason: string;
  claimsVersion: number;
  cause: UpdateCause;
}

interface Envelope<TType extends string, TData> {
  specversion: string;
  id: string;
  source: string;
  type: TType;
  time: string;
  subject: string;
  datacontenttype: string;
  data: TData;
}

export type TokenRenewedEvent = Envelope<'iam.session.token-renewed', TokenRenewedData>;
export type SessionRevokedEvent = Envelope<'iam.session.revoked', SessionRevokedData>;
export type SessionUpdateEvent = TokenRenewedEvent | SessionRevokedEvent;

/** One record of the session-update topic, parsed, with where it was read. */
export interface SessionUpdateRecord {
  readonly record: ReceivedRecord;
  readonly event: SessionUpdateEvent;
}

const parsed = new WeakMap<ReceivedRecord, SessionUpdateRecord>();

function parse(record: ReceivedRecord): SessionUpdateRecord {
  let update = parsed.get(record);
  if (!update) {
    update = { record, event: JSON.parse(record.value?.toString('utf8') ?? 'null') as SessionUpdateEvent };
    parsed.set(record, update);
  }
  return update;
}

function causeEventId(update: SessionUpdateRecord): string | undefined {
  const { cause } = update.event.data;
  return cause.kind === 'event' ? cause.eventId : undefined;
}

/**
 * The session-update topic as a downstream service reads it (read_committed,
 * from the beginning), with the look-ups the tests need.
 */
export class SessionUpdateLog {
  private constructor(readonly reader: TopicReader) {}

  static async open(deployment: Deployment): Promise<SessionUpdateLog> {
    return new SessionUpdateLog(await TopicReader.open(deployment.topics.sessionUpdates));
  }

  get size(): number {
    return this.reader.records.length;
  }

  all(): SessionUpdateRecord[] {
    return this.reader.records.map(parse);
  }

  forSession(sessionId: string): SessionUpdateRecord[] {
    return this.all().filter((update) => update.event.data.sessionId === sessionId);
  }

  causedBy(eventId: string): SessionUpdateRecord[] {
    return this.all().filter((update) => causeEventId(update) === eventId);
  }

  /** Waits until at least `count` updates match; returns every match. */
  async waitFor(
    predicate: (update: SessionUpdateRecord) => boolean,
    count = 1,
    timeoutMs = 30_000,
  ): Promise<SessionUpdateRecord[]> {
    await this.reader.waitFor((records) => records.map(parse).filter(predicate).length >= count, timeoutMs);
    return this.all().filter(predicate);
  }

  /** Waits until `count` updates caused by the event have arrived; returns them. */
  async waitForCause(eventId: string, count = 1, timeoutMs = 30_000): Promise<SessionUpdateRecord[]> {
    await this.reader.waitFor(
      (records) => records.map(parse).filter((update) => causeEventId(update) === eventId).length >= count,
      timeoutMs,
    );
    return this.causedBy(eventId);
  }

  /** Waits until the session has an update with at least this claims version. */
  async waitForVersion(sessionId: string, claimsVersion: number, timeoutMs = 30_000): Promise<void> {
    await this.reader.waitFor(
      (records) =>
        records
          .map(parse)
          .some(
            (update) =>
              update.event.data.sessionId === sessionId && update.event.data.claimsVersion >= claimsVersion,
          ),
      timeoutMs,
    );
  }

  /** The session's latest token-renewed event (highest claims version). */
  latestToken(sessionId: string): TokenRenewedEvent | undefined {
    const tokens = this.forSession(sessionId)
      .map((update) => update.event)
      .filter((event): event is TokenRenewedEvent => event.type === 'iam.session.token-renewed');
    return tokens.sort((a, b) => b.data.claimsVersion - a.data.claimsVersion)[0];
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}

/** Opens a JWE from the session-update topic with the downstream recipient's private key. */
export async function openSealedToken(deployment: Deployment, jwe: string): Promise<string> {
  const jwk = JSON.parse(readFileSync(deployment.recipientPrivateJwk, 'utf8')) as JWK;
  const key = await importJWK(jwk, 'RSA-OAEP-256');
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, key);
  if (protectedHeader.alg !== 'RSA-OAEP-256' || protectedHeader.enc !== 'A256GCM') {
    throw new Error(`unexpected JWE header ${JSON.stringify(protectedHeader)}`);
  }
  return new TextDecoder().decode(plaintext);
}

/** How far the deployment's consumer group is behind the end of the topics (committed offsets). */
export async function consumerLag(groupId: string, topics: readonly string[]): Promise<number> {
  const admin = testKafka.admin();
  await admin.connect();
  try {
    let lag = 0;
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const done = committed.find((entry) => entry.topic === topic)?.partitions ?? [];
      for (const end of ends) {
        const high = Number(end.high);
        const low = Number(end.low);
        const offset = Number(done.find((p) => p.partition === end.partition)?.offset ?? '-1');
        lag += Math.max(0, high - (offset < 0 ? low : offset));
      }
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the consumer group has committed every record of the input topics. */
export async function waitUntilConsumed(deployment: Deployment, timeoutMs = 30_000): Promise<void> {
  const topics = [deployment.topics.roleChanges, deployment.topics.businessChanges];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lag = await consumerLag(deployment.groupId, topics);
    if (lag === 0) return;
    if (Date.now() > deadline) throw new Error(`consumer group still ${lag} record(s) behind`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
