import fc from 'fast-check';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, authorities } from '../support/applications';
import { event, events, publish, publishRaw, toMessage, type InboundCloudEvent } from '../support/events';
import { TopicReader, type ReceivedRecord } from '../support/kafka';
import { createDeployment, ServiceInstance, type Deployment } from '../support/service';
import { tearDownSuite } from '../support/suite';
import { waitUntilConsumed } from '../support/session-updates';
import {
  classifyRecord,
  MAX_RECORD_BYTES,
  TYPE_SPECS,
  TYPES_OF,
  type Classification,
  type TopicKind,
} from './support/hostile-cloudevent-oracle';
import { seededRandom } from '../support/seeded-random';

/**
 * Fuzzed records on both input topics, interleaved with good events that
 * change live sessions' roles (README, "Dead letters" and "Guarantees"):
 * every bad record is dead-lettered exactly once with the reason an
 * independent classification predicts, unchanged; every good event is applied
 * and its session update carries the expected authorities; no bad record
 * produces a session update; and the consumer keeps going.
 *
 * HOSTILE_SEED replays a run.
 */

const SEED = Number(process.env.HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const BASE = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC'];
const LIVE_USERS = 8;
const GOOD_ROLE_EVENTS = 120;
const GOOD_BUSINESS_EVENTS = 40;
const PROBE = 'x-probe';

interface Bad {
  readonly topic: TopicKind;
  readonly kind: string;
  readonly value: Buffer | null;
  /** Where the key comes from: the subject, a live key (same partition as good events), none, or random. */
  keyChoice: 'subject' | 'live' | 'none' | 'random';
  key?: string | null;
  probe?: string;
  expected?: Classification;
}

// --- building blocks of the fuzz -------------------------------------------------------------

/** A valid event of a type, in the fuzz namespace (no live session is ever affected by it). */
function fuzzEvent(type: string, n: number): Record<string, unknown> {
  const spec = TYPE_SPECS[type]!;
  const data: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(spec.fields)) {
    data[field] =
      kind === 'id'
        ? `fz-${field}-${n}`
        : kind === 'role'
          ? `FZ_ROLE_${n}`
          : kind === 'roles'
            ? ['BUSINESSUSER']
            : 'USER';
  }
  return { ...event(type, String(data[spec.subjectField]), data) } as Record<string, unknown>;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');

const CONTROL = [
  '\u0001',
  '\u0007',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009f',
  '\t',
  '\n',
  '\r',
  ' ',
  '\u00a0',
  '\u2028',
  '\u3000',
];

const wrongTypeArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.double(),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
);

const withControlArb = (base: string) =>
  fc
    .tuple(fc.nat({ max: base.length }), fc.constantFrom(...CONTROL))
    .map(([at, control]) => `${base.slice(0, at)}${control}${base.slice(at)}`);

/** Mutations of one event's `data` (fast-check): wrong types, missing fields, long ids, control characters… */
function dataMutationArb(type: string): fc.Arbitrary<{ kind: string; event: Record<string, unknown> }> {
  const spec = TYPE_SPECS[type]!;
  const fields = Object.keys(spec.fields);
  const mutate = (name: string, change: (data: Record<string, unknown>) => void) =>
    fc.nat().map((n) => {
      const base = fuzzEvent(type, n);
      const data = { ...(base.data as Record<string, unknown>) };
      change(data);
      return { kind: name, event: { ...base, data } };
    });
  const perField = fc.constantFrom(...fields).chain((field) => {
    const kind = spec.fields[field]!;
    const options: Array<fc.Arbitrary<{ kind: string; event: Record<string, unknown> }>> = [
      mutate(`${field} missing`, (data) => delete data[field]),
      wrongTypeArb.chain((wrong) => mutate(`${field} of a wrong type`, (data) => (data[field] = wrong))),
      mutate(`${field} empty`, (data) => (data[field] = '')),
    ];
    if (kind === 'id') {
      options.push(
        fc
          .integer({ min: 257, max: 6_000 })
          .chain((length) =>
            mutate(`${field} ${length} characters long`, (data) => (data[field] = 'i'.repeat(length))),
          ),
        withControlArb(`fz-${field}`).chain((value) =>
          mutate(`${field} with a control or space character`, (data) => (data[field] = value)),
        ),
        fc
          .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
          .chain((value) => mutate(`${field} unicode`, (data) => (data[field] = value))),
      );
    }
    if (kind === 'role') {
      options.push(
        fc
          .constantFrom(
            'ROLE WITH SPACE',
            '-LEADING',
            'ROLE/SLASH',
            'RÔLE',
            'R'.repeat(129),
            '.DOT',
            'role\u0000x',
            'ROLE\n',
          )
          .chain((value) => mutate(`${field} not a role name`, (data) => (data[field] = value))),
      );
    }
    if (kind === 'roles') {
      options.push(
        mutate('roles a string', (data) => (data[field] = 'BUSINESSOWNER')),
        mutate('roles with an invalid role', (data) => (data[field] = ['BUSINESSUSER', 'not a role'])),
        mutate('65 roles', (data) => (data[field] = Array.from({ length: 65 }, (_, i) => `R${i}`))),
        mutate('64 roles', (data) => (data[field] = Array.from({ length: 64 }, (_, i) => `R${i}`))),
      );
    }
    if (kind === 'memberType') {
      options.push(
        fc
          .constantFrom('user', 'GROUP', 'CLIENT', 'USER ', '')
          .chain((value) => mutate('memberType not in the enum', (data) => (data[field] = value))),
      );
    }
    return fc.oneof(...options);
  });
  return fc.oneof(
    { weight: 8, arbitrary: perField },
    {
      weight: 1,
      arbitrary: mutate(
        'subject is not the data entity',
        (data) => (data[spec.subjectField] = 'fz-someone-else'),
      ),
    },
    {
      weight: 1,
      arbitrary: mutate('data empty', (data) => Object.keys(data).forEach((key) => delete data[key])),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }))
        .chain(([name, value]) => mutate('an extra field', (data) => (data[`x-${name}`] = value))),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.constant(null), fc.constant([1, 2]), fc.constant('data'), fc.integer())
        .chain((value) =>
          fc
            .nat()
            .map((n) => ({ kind: 'data not an object', event: { ...fuzzEvent(type, n), data: value } })),
        ),
    },
  );
}

const ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'data',
] as const;

/** Mutations of the CloudEvents envelope. */
const envelopeMutationArb: fc.Arbitrary<{ kind: string; topic: TopicKind; event: Record<string, unknown> }> =
  fc
    .tuple(fc.constantFrom(...Object.keys(TYPE_SPECS)), fc.nat(), fc.constantFrom(...ATTRIBUTES))
    .chain(([type, n, attribute]) => {
      const base = fuzzEvent(type, n);
      const topic = TYPE_SPECS[type]!.topic;
      const values: fc.Arbitrary<unknown> = fc.oneof(
        wrongTypeArb,
        fc.constant(''),
        fc.constant(undefined),
        ...(attribute === 'id' || attribute === 'subject'
          ? [fc.constant('s'.repeat(257)), withControlArb(String(base[attribute]))]
          : []),
        ...(attribute === 'source' ? [fc.constant(`/${'s'.repeat(1_024)}`)] : []),
        ...(attribute === 'type' ? [fc.constant(`iam.${'t'.repeat(260)}`)] : []),
        ...(attribute === 'time'
          ? [
              fc.constantFrom(
                'yesterday',
                '2026-01-01 00:00:00Z',
                '2026-01-01T00:00:00',
                '2026-13-01T00:00:00Z',
                '1767225600',
                '2026-01-01T00:00Z',
              ),
            ]
          : []),
        ...(attribute === 'datacontenttype'
          ? [fc.constantFrom('text/plain', 'application/xml', 'APPLICATION/JSON')]
          : []),
        ...(attribute === 'specversion' ? [fc.constantFrom('2.0', '0.3', '1', '1.0 ', 'v1.0')] : []),
      );
      return values.map((value) => {
        const mutated = { ...base };
        if (value === undefined) delete mutated[attribute];
        else mutated[attribute] = value;
        return { kind: `${attribute} ${value === undefined ? 'missing' : 'changed'}`, topic, event: mutated };
      });
    });

/** The bad records of a run: about 1,100, each with its kind; their verdicts are computed independently later. */
function badRecords(seed: number): Bad[] {
  const bad: Bad[] = [];
  const sample = <T>(arb: fc.Arbitrary<T>, count: number, offset: number) =>
    fc.sample(arb, { numRuns: count, seed: seed + offset });
  const keyChoices: Array<Bad['keyChoice']> = ['live', 'live', 'subject', 'none', 'random'];
  const pick = seededRandom(seed);
  const keyChoice = () => keyChoices[Math.floor(pick() * keyChoices.length)]!;
  const topicOf = () => (pick() < 0.7 ? 'role' : 'business') as TopicKind;

  // Random bytes and random JSON.
  for (const bytes of sample(fc.uint8Array({ maxLength: 300 }), 90, 1)) {
    bad.push({ topic: topicOf(), kind: 'random bytes', value: Buffer.from(bytes), keyChoice: keyChoice() });
  }
  for (const value of sample(fc.jsonValue({ maxDepth: 3 }), 50, 2)) {
    bad.push({ topic: topicOf(), kind: 'random JSON', value: json(value), keyChoice: keyChoice() });
  }
  // Every cut point of a few valid events (UTF-8 multi-byte characters included).
  const whole = [
    {
      topic: 'role' as const,
      event: { ...events.userRoleGranted('fz-cut-user', 'FZ_CUT'), source: '/authme/tést-ü' },
    },
    {
      topic: 'role' as const,
      event: { ...events.groupMemberAdded('fz-cut-group', 'USER', 'fz-cut-member') },
    },
    {
      topic: 'business' as const,
      event: { ...events.businessMemberAdded('fz-cut-biz', 'fz-cut-user', ['BUSINESSOWNER']) },
    },
  ];
  for (const { topic, event: cloudEvent } of whole) {
    const bytes = json(cloudEvent);
    for (let cut = 0; cut < bytes.length; cut += 1) {
      bad.push({ topic, kind: 'truncated JSON', value: bytes.subarray(0, cut), keyChoice: keyChoice() });
    }
  }
  // Valid envelopes with invalid payloads: mutations of every type's data.
  Object.keys(TYPE_SPECS).forEach((type, index) => {
    for (const { kind, event: mutated } of sample(dataMutationArb(type), 13, 100 + index)) {
      bad.push({
        topic: TYPE_SPECS[type]!.topic,
        kind: `${type}: ${kind}`,
        value: json(mutated),
        keyChoice: keyChoice(),
      });
    }
  });
  // Envelope mutations, wrong spec versions.
  for (const { kind, topic, event: mutated } of sample(envelopeMutationArb, 90, 3)) {
    bad.push({ topic, kind: `envelope: ${kind}`, value: json(mutated), keyChoice: keyChoice() });
  }
  for (const specversion of ['2.0', '0.3', '1', 1, 1.0, null, '', ' 1.0', '1.0.0', true]) {
    bad.push({
      topic: topicOf(),
      kind: `specversion ${JSON.stringify(specversion)}`,
      value: json({ ...fuzzEvent(TYPES_OF.role[0]!, 7), specversion }),
      keyChoice: keyChoice(),
    });
  }
  // Unknown types and the other topic's types.
  for (const type of [
    'iam.user.renamed',
    'iam.user.role.granted.v2',
    'IAM.USER.ROLE.GRANTED',
    'iam.session.token-renewed',
    'x',
    ' iam.user.locked',
  ]) {
    bad.push({
      topic: 'role',
      kind: `type ${type}`,
      value: json({ ...fuzzEvent('iam.user.locked', 3), type }),
      keyChoice: keyChoice(),
    });
  }
  for (const type of TYPES_OF.business) {
    bad.push({
      topic: 'role',
      kind: `business type ${type} on the role topic`,
      value: json(fuzzEvent(type, 5)),
      keyChoice: keyChoice(),
    });
  }
  for (const type of TYPES_OF.role) {
    bad.push({
      topic: 'business',
      kind: `role type ${type} on the business topic`,
      value: json(fuzzEvent(type, 6)),
      keyChoice: keyChoice(),
    });
  }
  // Above (and at) the 64 KiB limit.
  for (const size of [
    MAX_RECORD_BYTES - 200,
    MAX_RECORD_BYTES + 1,
    MAX_RECORD_BYTES + 5_000,
    100_000,
    200_000,
  ]) {
    const padded = fuzzEvent('iam.user.role.granted', size);
    const skeleton = json({ ...padded, data: { ...(padded.data as object), padding: '' } }).length;
    const value = json({
      ...padded,
      data: { ...(padded.data as object), padding: 'p'.repeat(Math.max(0, size - skeleton)) },
    });
    bad.push({ topic: topicOf(), kind: `a ${value.length}-byte record`, value, keyChoice: keyChoice() });
  }
  bad.push({
    topic: 'role',
    kind: '70 KB of random bytes',
    value: Buffer.alloc(70_000, 0xfe),
    keyChoice: 'live',
  });
  // No value at all (tombstones) and empty values.
  for (let i = 0; i < 6; i += 1)
    bad.push({ topic: i % 2 ? 'role' : 'business', kind: 'tombstone', value: null, keyChoice: keyChoice() });
  for (let i = 0; i < 4; i += 1)
    bad.push({
      topic: i % 2 ? 'role' : 'business',
      kind: 'empty value',
      value: Buffer.alloc(0),
      keyChoice: keyChoice(),
    });
  return bad;
}

// --- the test ------------------------------------------------------------------------------------

interface SessionUpdate {
  type: string;
  data: {
    sessionId: string;
    userId: string;
    authorities?: string[];
    added?: string[];
    removed?: string[];
    cause: { kind: string; eventId?: string; eventType?: string };
  };
}

describe('hostile records on the input topics, fuzzed (resilience)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let app: Application;
  const readers = {} as Record<'roleDlq' | 'businessDlq' | 'updates', TopicReader>;
  const liveUsers = Array.from({ length: LIVE_USERS }, (_, i) => `hk-live-${i}-${SEED.toString(36)}`);
  const businessUser = `hk-member-${SEED.toString(36)}`;
  const business = `hk-business-${SEED.toString(36)}`;
  const sessions = new Map<string, string>();

  const topicName = (topic: TopicKind) =>
    topic === 'role' ? deployment.topics.roleChanges : deployment.topics.businessChanges;
  const updates = (): SessionUpdate[] =>
    readers.updates.records.map((record) => JSON.parse(record.value!.toString('utf8')) as SessionUpdate);

  async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (!service.running) {
        throw new Error(
          `the service stopped while waiting for ${what}:\n${service.logs.slice(-15).join('\n')}`,
        );
      }
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    deployment = await createDeployment('hostile_kafka', { SESSION_UPDATE_PLAINTEXT: 'true' });
    service = await ServiceInstance.start(deployment);
    readers.roleDlq = await TopicReader.open(`${deployment.topics.roleChanges}.dlq`);
    readers.businessDlq = await TopicReader.open(`${deployment.topics.businessChanges}.dlq`);
    readers.updates = await TopicReader.open(deployment.topics.sessionUpdates);
    app = await Application.register(service, `hk-app-${SEED.toString(36)}`);
    await publish(deployment.topics.businessChanges, [
      events.businessMemberAdded(business, businessUser, ['BUSINESSUSER']),
    ]);
    await waitUntilConsumed(deployment);
    for (const user of liveUsers) sessions.set(user, (await app.session(user)).claims.sid);
    sessions.set(
      businessUser,
      (await app.sessionEventually(businessUser, { businessId: business })).claims.sid,
    );
  });

  afterAll(() => tearDownSuite({ deployment, service, readers: Object.values(readers) }));

  it('dead-letters every fuzzed record exactly once with the predicted reason, and applies every good event between them', async () => {
    const started = performance.now();
    const pick = seededRandom(SEED ^ 0x5eed);

    // Good events and their expected authorities (an independent model of each session).
    const held = new Map<string, Set<string>>([...liveUsers, business].map((id) => [id, new Set<string>()]));
    const good: Array<{
      topic: TopicKind;
      event: InboundCloudEvent;
      sessionId: string;
      authorities: string[];
    }> = [];
    const toggle = (subject: string, prefix: string) => {
      const roles = held.get(subject)!;
      const revoke = roles.size > 0 && pick() < 0.35;
      const role = revoke ? [...roles][Math.floor(pick() * roles.size)]! : `${prefix}-${good.length}`;
      if (revoke) roles.delete(role);
      else roles.add(role);
      return { role, revoke, roles: [...roles] };
    };
    for (let i = 0; i < GOOD_ROLE_EVENTS; i += 1) {
      const user = liveUsers[Math.floor(pick() * liveUsers.length)]!;
      const { role, revoke, roles } = toggle(user, 'GOOD');
      good.push({
        topic: 'role',
        event: revoke ? events.userRoleRevoked(user, role) : events.userRoleGranted(user, role),
        sessionId: sessions.get(user)!,
        authorities: authorities(...BASE, ...roles),
      });
    }
    for (let i = 0; i < GOOD_BUSINESS_EVENTS; i += 1) {
      const { role, revoke, roles } = toggle(business, 'BGOOD');
      good.push({
        topic: 'business',
        event: revoke
          ? events.businessRoleRevoked(business, role)
          : events.businessRoleGranted(business, role),
        sessionId: sessions.get(businessUser)!,
        authorities: authorities(...BASE, 'BUSINESS', 'BUSINESSUSER', ...roles),
      });
    }

    // The bad records, keyed, probed and classified.
    const bad = badRecords(SEED);
    const liveKeys = { role: liveUsers, business: [business] };
    bad.forEach((record, index) => {
      record.probe = `bad-${index}`;
      let subject: string | null = null;
      try {
        const parsed = JSON.parse(record.value?.toString('utf8') ?? 'null') as { subject?: unknown } | null;
        subject = typeof parsed?.subject === 'string' ? parsed.subject : null;
      } catch {
        subject = null;
      }
      record.key =
        record.keyChoice === 'live'
          ? liveKeys[record.topic][Math.floor(pick() * liveKeys[record.topic].length)]!
          : record.keyChoice === 'subject'
            ? subject
            : record.keyChoice === 'random'
              ? `k-${Math.floor(pick() * 1e9).toString(36)}`
              : null;
      record.expected = classifyRecord(record.value, record.topic);
    });
    const deadLettered = bad.filter((record) => record.expected!.reason !== null);
    const acceptedAsValid = bad.filter((record) => record.expected!.reason === null);
    expect(deadLettered.length).toBeGreaterThanOrEqual(1_000);

    // Interleave good and bad on each topic (same keys: same partitions, one order).
    for (const topic of ['role', 'business'] as const) {
      const goods = good
        .filter((g) => g.topic === topic)
        .map((g, i) => {
          const message = toMessage(g.event);
          return { ...message, headers: { ...message.headers, [PROBE]: `good-${topic}-${i}` } } as Message;
        });
      const bads = bad
        .filter((record) => record.topic === topic)
        .map((record): Message => ({
          key: record.key ?? null,
          value: record.value,
          headers:
            pick() < 0.8
              ? { 'content-type': 'application/cloudevents+json', [PROBE]: record.probe! }
              : { [PROBE]: record.probe! },
        }));
      const sequence: Message[] = [];
      while (goods.length + bads.length > 0) {
        const fromGood =
          bads.length === 0 || (goods.length > 0 && pick() < goods.length / (goods.length + bads.length));
        sequence.push((fromGood ? goods.shift() : bads.shift())!);
      }
      let batch: Message[] = [];
      let bytes = 0;
      for (const message of sequence) {
        const size = (message.value as Buffer | string | null)?.length ?? 0;
        if (batch.length > 0 && (bytes + size > 400_000 || batch.length >= 200)) {
          await publishRaw(topicName(topic), batch);
          batch = [];
          bytes = 0;
        }
        batch.push(message);
        bytes += size;
      }
      if (batch.length > 0) await publishRaw(topicName(topic), batch);
    }
    const produced = performance.now();

    const expectedLetters = { role: 0, business: 0 };
    for (const record of deadLettered) expectedLetters[record.topic] += 1;
    const goodIds = new Set(good.map((g) => g.event.id));
    const goodUpdates = () =>
      updates().filter((u) => u.data.cause.kind === 'event' && goodIds.has(u.data.cause.eventId!));
    await until(
      `${deadLettered.length} dead letters and ${good.length} session updates`,
      () =>
        readers.roleDlq.records.length >= expectedLetters.role &&
        readers.businessDlq.records.length >= expectedLetters.business &&
        goodUpdates().length >= good.length,
      180_000,
    );
    const drained = performance.now();
    // A quiet period: anything dead-lettered twice, or published for a bad record, would show now.
    await new Promise((r) => setTimeout(r, 3_000));

    const byReason = deadLettered.reduce<Record<string, number>>(
      (acc, record) => ({ ...acc, [record.expected!.reason!]: (acc[record.expected!.reason!] ?? 0) + 1 }),
      {},
    );
    console.log(
      [
        `[hostile-kafka] seed ${SEED}: ${bad.length} fuzzed records (${deadLettered.length} bad, ${acceptedAsValid.length} valid after mutation) + ${good.length} good events`,
        `  expected reasons: ${JSON.stringify(byReason)}`,
        `  produced in ${((produced - started) / 1000).toFixed(1)} s, all dead letters and updates readable ${((drained - produced) / 1000).toFixed(1)} s later`,
      ].join('\n'),
    );

    // Every bad record: exactly one dead letter, the predicted reason, the record unchanged.
    const letters = new Map<string, ReceivedRecord[]>();
    for (const record of [...readers.roleDlq.records, ...readers.businessDlq.records]) {
      const probe = record.headers[PROBE] ?? '(no probe)';
      letters.set(probe, [...(letters.get(probe) ?? []), record]);
    }
    const mismatches: string[] = [];
    for (const record of bad) {
      const found = letters.get(record.probe!) ?? [];
      const what = `${record.probe} [${record.topic}] ${record.kind} (${record.value?.length ?? 'null'} B, ${record.expected!.why})`;
      if (record.expected!.reason === null) {
        if (found.length > 0)
          mismatches.push(`${what}: valid, yet dead-lettered as ${found[0]!.headers['dlq-reason']}`);
        continue;
      }
      if (found.length !== 1) {
        mismatches.push(`${what}: ${found.length} dead letters`);
        continue;
      }
      const letter = found[0]!;
      const problems: string[] = [];
      if (letter.topic !== `${topicName(record.topic)}.dlq`) problems.push(`on ${letter.topic}`);
      if (letter.headers['dlq-reason'] !== record.expected!.reason) {
        problems.push(
          `reason ${letter.headers['dlq-reason']}, expected ${record.expected!.reason} (detail: ${letter.headers['dlq-detail']})`,
        );
      }
      if (letter.headers['dlq-event-id'] !== record.expected!.eventId) {
        problems.push(
          `dlq-event-id ${JSON.stringify(letter.headers['dlq-event-id'])}, expected ${JSON.stringify(record.expected!.eventId)}`,
        );
      }
      if (letter.headers['dlq-origin-topic'] !== topicName(record.topic)) problems.push('dlq-origin-topic');
      const unchanged =
        record.value === null
          ? letter.value === null
          : letter.value !== null && letter.value.equals(record.value);
      if (!unchanged) problems.push('the value changed');
      if (letter.key !== (record.key ?? null)) problems.push(`key ${letter.key} ≠ ${record.key}`);
      if (problems.length > 0) mismatches.push(`${what}: ${problems.join('; ')}`);
    }
    const strays = [...letters.keys()].filter((probe) => !probe.startsWith('bad-'));
    expect(strays, 'dead letters of good events or unknown records').toEqual([]);
    expect(mismatches, mismatches.slice(0, 10).join('\n')).toEqual([]);
    expect(readers.roleDlq.records).toHaveLength(expectedLetters.role);
    expect(readers.businessDlq.records).toHaveLength(expectedLetters.business);

    // Every good event applied exactly once, with the model's authorities; nothing else caused an update.
    const eventUpdates = updates().filter((u) => u.data.cause.kind === 'event');
    const wrong: string[] = [];
    for (const g of good) {
      const caused = eventUpdates.filter((u) => u.data.cause.eventId === g.event.id);
      if (caused.length !== 1) {
        wrong.push(`${g.event.type} ${g.event.id}: ${caused.length} updates`);
      } else if (
        caused[0]!.data.sessionId !== g.sessionId ||
        JSON.stringify(caused[0]!.data.authorities) !== JSON.stringify(g.authorities)
      ) {
        wrong.push(
          `${g.event.type} ${g.event.id}: ${caused[0]!.data.sessionId} ${JSON.stringify(caused[0]!.data.authorities)}, expected ${g.sessionId} ${JSON.stringify(g.authorities)}`,
        );
      }
    }
    expect(wrong, wrong.slice(0, 10).join('\n')).toEqual([]);
    const unexplained = eventUpdates.filter((u) => !goodIds.has(u.data.cause.eventId!));
    expect(
      unexplained.map((u) => `${u.data.cause.eventType} ${u.data.cause.eventId} → ${u.data.userId}`),
    ).toEqual([]);

    // The consumer is still processing good records on both topics.
    const lastRole = events.userRoleGranted(liveUsers[0]!, 'LAST-ROLE');
    const lastBusiness = events.businessRoleGranted(business, 'LAST-BUSINESS');
    await publish(deployment.topics.roleChanges, [lastRole]);
    await publish(deployment.topics.businessChanges, [lastBusiness]);
    await until(
      'the last good events',
      () => [lastRole.id, lastBusiness.id].every((id) => updates().some((u) => u.data.cause.eventId === id)),
      30_000,
    );
    expect(service.running).toBe(true);
  });

  it('events whose ids differ only in characters UTF-8 cannot carry are not confused: each valid one is applied', async () => {
    const user = liveUsers[2]!;
    // "\ud800" and "\udbff" (unpaired surrogates) and "\ufffd" (the replacement character) are three ids.
    const ids = ['sur-\ud800', 'sur-\udbff', 'sur-\ufffd'];
    const sent = ids.map((id, i) => ({ ...events.userRoleGranted(user, `SURROGATE-${i}`), id }));
    await publishRaw(
      deployment.topics.roleChanges,
      sent.map((cloudEvent, i) => ({
        key: user,
        value: JSON.stringify(cloudEvent),
        headers: { [PROBE]: `surrogate-${i}` },
      })),
    );
    const sentinel = events.userRoleGranted(user, 'SURROGATE-SENTINEL');
    await publish(deployment.topics.roleChanges, [sentinel]);
    await until(
      'the sentinel after the surrogate ids',
      () => updates().some((u) => u.data.cause.eventId === sentinel.id),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const outcome = sent.map((cloudEvent, i) => {
      const letter = readers.roleDlq.records.find((record) => record.headers[PROBE] === `surrogate-${i}`);
      const applied = updates().filter((u) => u.data.authorities?.includes(`ROLE_SURROGATE-${i}`)).length > 0;
      return `${JSON.stringify(cloudEvent.id)}: ${letter ? `dead-lettered (${letter.headers['dlq-reason']})` : applied ? 'applied' : 'LOST'}`;
    });
    // Each is either refused with a reason or applied; none silently dropped as a "duplicate" of another.
    expect(outcome.filter((line) => line.endsWith('LOST'))).toEqual([]);
  });

  it('an event id whose JSON carries a NUL character is dead-lettered, and the consumer goes on', async () => {
    const user = liveUsers[1]!;
    const poisoned = { ...events.userRoleGranted(user, 'NUL-ROLE'), id: 'evt\u0000nul' };
    const after = events.userRoleGranted(user, 'AFTER-NUL');
    await publishRaw(deployment.topics.roleChanges, [
      { key: user, value: JSON.stringify(poisoned), headers: { [PROBE]: 'nul-id' } },
      { ...toMessage(after), headers: { [PROBE]: 'after-nul' } },
    ]);
    await until(
      'the dead letter of the NUL id and the next event',
      () =>
        readers.roleDlq.records.some((record) => record.headers[PROBE] === 'nul-id') &&
        updates().some((u) => u.data.cause.eventId === after.id),
      30_000,
    );
    const letter = readers.roleDlq.records.find((record) => record.headers[PROBE] === 'nul-id')!;
    expect(letter.headers['dlq-reason']).toBe(
      classifyRecord(Buffer.from(JSON.stringify(poisoned)), 'role').reason,
    );
    expect(updates().filter((u) => u.data.cause.eventId === poisoned.id)).toEqual([]);
  });
});
