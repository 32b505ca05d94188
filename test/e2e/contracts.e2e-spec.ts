import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Parser } from '@asyncapi/parser';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { format as prettierFormat, resolveConfig as prettierConfig } from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '@iam/config';
import { buildAsyncApiDocument } from '@iam/messaging';
import { Application } from '../support/applications';
import { event, events, publish, publishRaw, toMessage, type InboundCloudEvent } from '../support/events';
import { loginClient, type TokenResponse } from '../support/http';
import { TopicReader, type ReceivedRecord } from '../support/kafka';
import { LOGIN_PATH, RENEW_PATH, KEYS_PATH, UUID } from '../support/renewal';
import { createDeployment, ServiceInstance, type Deployment } from '../support/service';
import { tearDownSuite } from '../support/suite';
import { SessionUpdateLog, type SessionUpdateRecord } from '../support/session-updates';

const ROOT = resolve(__dirname, '..', '..');
const OPENAPI_PATH = resolve(ROOT, 'docs/openapi.json');
const ASYNCAPI_PATH = resolve(ROOT, 'docs/asyncapi.yaml');
const UPDATE_CONTRACTS = process.env.UPDATE_CONTRACTS === '1';

/** The inbound event types of events.md, per input topic: the public contract, written out independently. */
const ROLE_CHANGE_TYPES = [
  'iam.user.role.granted',
  'iam.user.role.revoked',
  'iam.user.locked',
  'iam.user.unlocked',
  'iam.client.role.granted',
  'iam.client.role.revoked',
  'iam.group.role.granted',
  'iam.group.role.revoked',
  'iam.group.member.added',
  'iam.group.member.removed',
  'iam.group.dependency.added',
  'iam.group.dependency.removed',
  'iam.group.deleted',
];
const BUSINESS_CHANGE_TYPES = [
  'iam.business.role.granted',
  'iam.business.role.revoked',
  'iam.business.member.added',
  'iam.business.member.removed',
  'iam.business.member.role.granted',
  'iam.business.member.role.revoked',
  'iam.business.deactivated',
];
const SESSION_UPDATE_TYPES = ['iam.session.token-renewed', 'iam.session.revoked'];

type JsonObject = Record<string, unknown>;

interface OpenApiOperation {
  parameters: Array<{ name: string; in: string; required?: boolean; schema?: JsonObject }>;
  responses: Record<string, { content?: Record<string, { schema: JsonObject }> }>;
  security?: Array<Record<string, string[]>>;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonObject>; securitySchemes: Record<string, JsonObject> };
}

interface AsyncApiMessage {
  name: string;
  title: string;
  contentType?: string;
  headers: JsonObject & { properties: Record<string, unknown>; required?: string[] };
  payload: JsonObject;
  bindings?: { kafka?: { key?: JsonObject } };
}
interface AsyncApiDocument {
  asyncapi: string;
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  operations: Record<string, { action: string; channel: { $ref: string } }>;
  components: { messages: Record<string, AsyncApiMessage> };
}

/** Ajv for OpenAPI 3.0 schema objects (JSON Schema plus the `example` annotation). */
function openApiAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addVocabulary(['example']);
  return ajv;
}

/** Ajv for the AsyncAPI document's schemas (draft 7 generated from the service's zod schemas). */
function asyncApiAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv;
}

function expectValid(validate: ValidateFunction, value: unknown, what: string): void {
  const valid = validate(value);
  expect(validate.errors ?? [], `${what}: ${JSON.stringify(value).slice(0, 400)}`).toEqual([]);
  expect(valid, what).toBe(true);
}

/** A channel's messages, their $refs resolved. */
function channelMessages(document: AsyncApiDocument, channel: string): AsyncApiMessage[] {
  const messages = document.channels[channel]?.messages ?? {};
  return Object.values(messages).map(({ $ref }) => {
    const name = /^#\/components\/messages\/(.+)$/.exec($ref)?.[1];
    const message = name === undefined ? undefined : document.components.messages[name];
    if (!message) throw new Error(`unresolved message reference ${$ref}`);
    return message;
  });
}

function messageFor(document: AsyncApiDocument, channel: string, type: string): AsyncApiMessage {
  const message = channelMessages(document, channel).find((candidate) => candidate.title === type);
  if (!message) throw new Error(`channel ${channel} documents no message ${type}`);
  return message;
}

/**
 * The contracts the service serves (OpenAPI for HTTP, AsyncAPI for Kafka) are
 * valid documents, are the committed ones, and describe what the running
 * service really answers and publishes.
 */
describe('published contracts match the running service (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let updates: SessionUpdateLog;
  let roleDlq: TopicReader;
  let app: Application;
  let openapi: OpenApiDocument;
  let dereferenced: OpenApiDocument;
  let asyncapi: AsyncApiDocument;

  beforeAll(async () => {
    deployment = await createDeployment('contracts');
    service = await ServiceInstance.start(deployment);
    updates = await SessionUpdateLog.open(deployment);
    roleDlq = await TopicReader.open(`${deployment.topics.roleChanges}.dlq`);
    app = await Application.register(service, 'contracts-app');
  });
  afterAll(() => tearDownSuite({ deployment, service, readers: [updates, roleDlq] }));

  describe('OpenAPI (GET /openapi.json)', () => {
    beforeAll(async () => {
      const response = await service.fetch('/openapi.json');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type') ?? '').toMatch(/^application\/json/);
      openapi = (await response.json()) as OpenApiDocument;
      dereferenced = (await SwaggerParser.dereference(structuredClone(openapi) as never)) as never;
    });

    it('is a valid OpenAPI 3 document', async () => {
      expect(openapi.openapi).toMatch(/^3\.\d+\.\d+$/);
      await expect(SwaggerParser.validate(structuredClone(openapi) as never)).resolves.toBeDefined();
    });

    it('is the committed docs/openapi.json (UPDATE_CONTRACTS=1 rewrites it)', async () => {
      if (UPDATE_CONTRACTS) {
        const options = (await prettierConfig(OPENAPI_PATH)) ?? {};
        const text = await prettierFormat(JSON.stringify(openapi, null, 2), {
          ...options,
          filepath: OPENAPI_PATH,
        });
        writeFileSync(OPENAPI_PATH, text.endsWith('\n') ? text : `${text}\n`);
      }
      const committed = readFileSync(OPENAPI_PATH, 'utf8');
      expect(committed.endsWith('\n')).toBe(true);
      expect(JSON.parse(committed)).toEqual(openapi);
    });

    it('documents the three AuthMe routes with their methods and security', () => {
      expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining([RENEW_PATH, LOGIN_PATH, KEYS_PATH]));
      expect(Object.keys(openapi.paths[RENEW_PATH]!)).toEqual(['post']);
      expect(Object.keys(openapi.paths[LOGIN_PATH]!)).toEqual(['post']);
      expect(Object.keys(openapi.paths[KEYS_PATH]!)).toEqual(['get']);
      expect(openapi.paths[RENEW_PATH]!.post!.security).toEqual([{ bearer: [] }]);
      expect(openapi.paths[LOGIN_PATH]!.post!.security).toEqual([{ basic: [] }]);
      expect(openapi.components.securitySchemes).toEqual({
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        basic: { type: 'http', scheme: 'basic' },
      });
    });

    it('documents the Renew Token query parameters by their contract names', () => {
      const parameters = openapi.paths[RENEW_PATH]!.post!.parameters;
      expect(parameters.map((parameter) => parameter.name).sort()).toEqual(
        ['businessId', 'clientId', 'remember-me', 'token', 'userId'].sort(),
      );
      for (const parameter of parameters) expect(parameter.in, parameter.name).toBe('query');
      const byName = new Map(parameters.map((parameter) => [parameter.name, parameter]));
      expect(byName.get('remember-me')).toMatchObject({ required: true, schema: { type: 'boolean' } });
      // `token` is required except in the identity-provider case, so the document cannot require it.
      for (const name of ['token', 'clientId', 'userId', 'businessId']) {
        expect(byName.get(name)!.required, name).toBe(false);
      }
    });

    it('types the string query parameters as strings (http-api.md: token, clientId, userId, businessId are strings)', () => {
      const parameters = openapi.paths[RENEW_PATH]!.post!.parameters;
      const types = Object.fromEntries(
        parameters.map((parameter) => [parameter.name, parameter.schema?.type ?? '(untyped)']),
      );
      expect(types).toEqual({
        token: 'string',
        'remember-me': 'boolean',
        clientId: 'string',
        userId: 'string',
        businessId: 'string',
      });
    });

    it('documents the 200 body and every error status of Renew Token, errors as an array of { code, message }', () => {
      const renew = dereferenced.paths[RENEW_PATH]!.post!;
      expect(Object.keys(renew.responses)).toEqual(
        expect.arrayContaining(['200', '400', '401', '403', '412', '500', '503']),
      );
      const ok = renew.responses['200']!.content!['application/json']!.schema as {
        type: string;
        properties: Record<string, JsonObject>;
        required: string[];
      };
      expect(ok.type).toBe('object');
      expect(Object.keys(ok.properties).sort()).toEqual(
        ['accessToken', 'expiresIn', 'refreshToken', 'scope', 'tokenType'].sort(),
      );
      expect(ok.properties.accessToken).toMatchObject({ type: 'string' });
      expect(ok.properties.tokenType).toMatchObject({ type: 'string' });
      expect(ok.properties.refreshToken).toMatchObject({ type: 'string' });
      expect(ok.properties.expiresIn).toMatchObject({ type: 'string' });
      expect(ok.properties.scope).toMatchObject({ type: 'array', items: { type: 'string' } });
      expect([...ok.required].sort()).toEqual(['accessToken', 'expiresIn', 'scope', 'tokenType']);

      for (const status of ['400', '401', '403', '412', '500', '503']) {
        expect(renew.responses[status]!.content!['application/json']!.schema, status).toEqual({
          type: 'array',
          items: {
            type: 'object',
            properties: {
              code: expect.objectContaining({ type: 'string' }),
              message: expect.objectContaining({ type: 'string' }),
            },
            required: ['code', 'message'],
          },
        });
      }
      const login = dereferenced.paths[LOGIN_PATH]!.post!;
      expect(Object.keys(login.responses)).toEqual(expect.arrayContaining(['200', '401', '503']));
      expect(login.responses['200']!.content!['application/json']!.schema).toEqual(ok);
      // A database outage is a 503 to retry after `retry-after` seconds (faults.res-spec.ts, fault 2).
      for (const operation of [renew, login])
        expect((operation.responses['503'] as { headers?: JsonObject }).headers).toHaveProperty(
          'retry-after',
        );
    });

    it('real Renew Token and Login Client answers validate against the documented schemas', async () => {
      const ajv = openApiAjv();
      const schemaOf = (path: string, status: string) =>
        dereferenced.paths[path]!.post!.responses[status]!.content!['application/json']!.schema;
      const renewOk = ajv.compile(schemaOf(RENEW_PATH, '200'));
      const loginOk = ajv.compile(schemaOf(LOGIN_PATH, '200'));
      const documented = Object.keys((schemaOf(RENEW_PATH, '200') as { properties: JsonObject }).properties);

      const bodies: Array<[string, TokenResponse, ValidateFunction, boolean]> = [];
      const started = await app.session('contracts-http-user');
      bodies.push(['renew (identity provider, remember-me)', started.response, renewOk, true]);
      const renewed = await app.renewWithToken(started.response.accessToken, { rememberMe: false });
      expect(renewed.status).toBe(200);
      bodies.push(['renew (token, no remember-me)', (await renewed.json()) as TokenResponse, renewOk, false]);
      const byRefresh = await app.renewWithToken(started.response.refreshToken!);
      expect(byRefresh.status).toBe(200);
      bodies.push(['renew (refresh token)', (await byRefresh.json()) as TokenResponse, renewOk, true]);
      bodies.push(['client login', await loginClient(service, app.clientId, app.secret), loginOk, false]);

      for (const [what, body, validate, withRefreshToken] of bodies) {
        expectValid(validate, body, what);
        for (const key of Object.keys(body))
          expect(documented, `${what}: undocumented field ${key}`).toContain(key);
        expect(body.tokenType, what).toBe('Bearer');
        expect(body.expiresIn, what).toMatch(/^\d{10}$/);
        expect(Array.isArray(body.scope), what).toBe(true);
        if (withRefreshToken) expect(body.refreshToken, what).toMatch(UUID);
        else expect(body.refreshToken, what).toBeUndefined();
      }
    });

    it('real error answers validate against the documented error schema of their status', async () => {
      const ajv = openApiAjv();
      const check = async (path: string, response: Response, status: number) => {
        const text = await response.text();
        expect(response.status, text).toBe(status);
        const operation = dereferenced.paths[path]!.post!;
        const documented = operation.responses[String(status)];
        expect(documented, `${path} documents ${status}`).toBeDefined();
        expectValid(
          ajv.compile(documented!.content!['application/json']!.schema),
          JSON.parse(text),
          `${path} ${status}`,
        );
      };
      const renew = (token: string | undefined, query: Record<string, string>) =>
        service.fetch(`${RENEW_PATH}?${new URLSearchParams(query).toString()}`, {
          method: 'POST',
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });

      await check(RENEW_PATH, await renew(app.token, { token: 'x' }), 400);
      await check(RENEW_PATH, await renew(app.token, { token: 'not-a-token', 'remember-me': 'true' }), 401);
      await check(
        RENEW_PATH,
        await renew(undefined, { userId: 'u', clientId: app.clientId, 'remember-me': 'true' }),
        401,
      );
      const weak = await Application.register(service, 'contracts-weak-app', {
        roles: ['CLI-AUTH-IDENTIFIED'],
      });
      await check(RENEW_PATH, await weak.renewForUser('contracts-weak-user'), 403);

      const locked = 'contracts-locked-http-user';
      const session = await app.session(locked);
      const lock = events.userLocked(locked);
      await publish(deployment.topics.roleChanges, [lock]);
      await updates.waitForCause(lock.id);
      await check(
        RENEW_PATH,
        await renew(app.token, { token: session.response.accessToken, 'remember-me': 'true' }),
        412,
      );
      const wrongSecret = await service.fetch(LOGIN_PATH, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${app.clientId}:wrong-secret-0000`).toString('base64')}`,
        },
      });
      await check(LOGIN_PATH, wrongSecret, 401);
    });
  });

  describe('AsyncAPI (GET /asyncapi.json)', () => {
    const ajv = asyncApiAjv();

    beforeAll(async () => {
      const response = await service.fetch('/asyncapi.json');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type') ?? '').toMatch(/^application\/json/);
      asyncapi = (await response.json()) as AsyncApiDocument;
    });

    it("is the document built for the deployment's configuration, and the committed one with its topic names", () => {
      expect(asyncapi).toEqual(buildAsyncApiDocument(loadConfig(deployment.env)));

      const committed = parseYaml(readFileSync(ASYNCAPI_PATH, 'utf8')) as AsyncApiDocument;
      const addresses: Record<string, string> = {
        roleChanges: deployment.topics.roleChanges,
        businessChanges: deployment.topics.businessChanges,
        roleChangesDeadLetters: `${deployment.topics.roleChanges}.dlq`,
        businessChangesDeadLetters: `${deployment.topics.businessChanges}.dlq`,
        sessionUpdates: deployment.topics.sessionUpdates,
      };
      expect(Object.keys(committed.channels).sort()).toEqual(Object.keys(addresses).sort());
      for (const [name, channel] of Object.entries(committed.channels)) channel.address = addresses[name]!;
      expect(asyncapi).toEqual(committed);
    });

    it('is a valid AsyncAPI 3 document whose channels are the deployment topics', async () => {
      expect(asyncapi.asyncapi).toBe('3.0.0');
      const { diagnostics, document } = await new Parser().parse(JSON.stringify(asyncapi));
      const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
      expect(errors.map((error) => `${error.path.join('.')}: ${error.message}`)).toEqual([]);
      expect(
        document
          ?.channels()
          .all()
          .map((channel) => channel.address()),
      ).toEqual([
        deployment.topics.roleChanges,
        deployment.topics.businessChanges,
        `${deployment.topics.roleChanges}.dlq`,
        `${deployment.topics.businessChanges}.dlq`,
        deployment.topics.sessionUpdates,
      ]);
      const actions = Object.fromEntries(
        Object.values(asyncapi.operations).map((operation) => [operation.channel.$ref, operation.action]),
      );
      expect(actions).toEqual({
        '#/channels/roleChanges': 'receive',
        '#/channels/businessChanges': 'receive',
        '#/channels/roleChangesDeadLetters': 'send',
        '#/channels/businessChangesDeadLetters': 'send',
        '#/channels/sessionUpdates': 'send',
      });
    });

    it('documents exactly the event types of events.md on each topic', () => {
      const titles = (channel: string) => channelMessages(asyncapi, channel).map((message) => message.title);
      expect(titles('roleChanges')).toEqual(ROLE_CHANGE_TYPES);
      expect(titles('businessChanges')).toEqual(BUSINESS_CHANGE_TYPES);
      expect(titles('sessionUpdates')).toEqual(SESSION_UPDATE_TYPES);
      expect(titles('roleChangesDeadLetters')).toEqual(['Dead letter']);
      expect(titles('businessChangesDeadLetters')).toEqual(['Dead letter']);
    });

    it('every inbound event the tests publish validates against its message schema; malformed ones do not', () => {
      const roleEvents: InboundCloudEvent[] = [
        events.userRoleGranted('u', 'R'),
        events.userRoleRevoked('u', 'R'),
        events.userLocked('u'),
        events.userUnlocked('u'),
        events.clientRoleGranted('c', 'CLI-X'),
        events.clientRoleRevoked('c', 'CLI-X'),
        events.groupRoleGranted('g', 'R'),
        events.groupRoleRevoked('g', 'R'),
        events.groupMemberAdded('g', 'USER', 'u'),
        events.groupMemberRemoved('g', 'BUSINESS', 'b'),
        events.groupDependencyAdded('g', 'h'),
        events.groupDependencyRemoved('g', 'h'),
        events.groupDeleted('g'),
      ];
      const businessEvents: InboundCloudEvent[] = [
        events.businessRoleGranted('b', 'R'),
        events.businessRoleRevoked('b', 'R'),
        events.businessMemberAdded('b', 'u', ['BUSINESSOWNER']),
        events.businessMemberRemoved('b', 'u'),
        events.businessMemberRoleGranted('b', 'u', 'BUSINESSADMIN'),
        events.businessMemberRoleRevoked('b', 'u', 'BUSINESSADMIN'),
        events.businessDeactivated('b'),
      ];
      expect(roleEvents.map((e) => e.type)).toEqual(ROLE_CHANGE_TYPES);
      expect(businessEvents.map((e) => e.type)).toEqual(BUSINESS_CHANGE_TYPES);
      for (const [channel, list] of [
        ['roleChanges', roleEvents],
        ['businessChanges', businessEvents],
      ] as const) {
        for (const inbound of list) {
          const message = messageFor(asyncapi, channel, inbound.type);
          const kafka = toMessage(inbound);
          expectValid(ajv.compile(message.payload), JSON.parse(String(kafka.value)), inbound.type);
          expectValid(ajv.compile(message.headers), kafka.headers, `${inbound.type} headers`);
          expectValid(ajv.compile(message.bindings!.kafka!.key!), kafka.key, `${inbound.type} key`);
        }
      }
      const granted = messageFor(asyncapi, 'roleChanges', 'iam.user.role.granted');
      const validate = ajv.compile(granted.payload);
      const good = events.userRoleGranted('u', 'R') as unknown as JsonObject;
      expect(validate({ ...good, specversion: '2.0' })).toBe(false);
      expect(validate({ ...good, data: { userId: 'u' } })).toBe(false);
      expect(validate({ ...good, type: 'iam.user.role.revoked' })).toBe(false);
      expect(validate({ ...good, time: 'yesterday' })).toBe(false);
    });

    describe('what the running service publishes validates against the document', () => {
      const user = 'contracts-async-user';
      const sessionUpdateMessage = (update: SessionUpdateRecord) =>
        messageFor(asyncapi, 'sessionUpdates', update.event.type);

      /** Validates a session-update record: payload, headers (all documented) and key. */
      const checkSessionUpdate = (update: SessionUpdateRecord, what: string) => {
        const message = sessionUpdateMessage(update);
        expectValid(ajv.compile(message.payload), update.event, `${what} payload`);
        expectValid(ajv.compile(message.headers), update.record.headers, `${what} headers`);
        expect(
          Object.keys(update.record.headers).filter((name) => !(name in message.headers.properties)),
        ).toEqual([]);
        expectValid(ajv.compile(message.bindings!.kafka!.key!), update.record.key, `${what} key`);
        expect(update.record.key, what).toBe(update.event.data.userId);
      };
      let session: Awaited<ReturnType<Application['session']>>;
      let granted: InboundCloudEvent;

      it('iam.session.token-renewed caused by an HTTP renewal', async () => {
        session = await app.session(user);
        const renewed = await app.renewWithToken(session.response.accessToken);
        expect(renewed.status).toBe(200);
        const [first, second] = await updates.waitFor(
          (update) => update.event.data.sessionId === session.claims.sid,
          2,
        );
        for (const [update, version] of [
          [first!, 1],
          [second!, 2],
        ] as const) {
          checkSessionUpdate(update, `http renewal v${version}`);
          expect(update.event.type).toBe('iam.session.token-renewed');
          expect(update.event.data).toMatchObject({ claimsVersion: version, cause: { kind: 'http' } });
          expect(update.record.headers).toEqual({ 'content-type': 'application/cloudevents+json' });
        }
      });

      it('iam.session.token-renewed caused by a role-change event (and the event itself validates)', async () => {
        granted = events.userRoleGranted(user, 'CONTRACT-ROLE');
        expectValid(
          ajv.compile(messageFor(asyncapi, 'roleChanges', granted.type).payload),
          granted,
          'inbound grant',
        );
        await publish(deployment.topics.roleChanges, [granted]);
        const [update] = await updates.waitForCause(granted.id);
        checkSessionUpdate(update!, 'event renewal');
        expect(update!.event.type).toBe('iam.session.token-renewed');
        expect(update!.event.data).toMatchObject({
          sessionId: session.claims.sid,
          claimsVersion: 3,
          added: ['ROLE_CONTRACT-ROLE'],
          removed: [],
          cause: { kind: 'event', eventId: granted.id, eventType: granted.type },
        });
        expect(update!.record.headers).toEqual({
          'content-type': 'application/cloudevents+json',
          'iam-event-time': granted.time,
        });
      });

      it('iam.session.revoked caused by a user-locked event (and the event itself validates)', async () => {
        const locked = events.userLocked(user);
        expectValid(
          ajv.compile(messageFor(asyncapi, 'roleChanges', locked.type).payload),
          locked,
          'inbound lock',
        );
        await publish(deployment.topics.roleChanges, [locked]);
        const [update] = await updates.waitForCause(locked.id);
        checkSessionUpdate(update!, 'revocation');
        expect(update!.event.type).toBe('iam.session.revoked');
        expect(update!.event.data).toEqual({
          sessionId: session.claims.sid,
          userId: user,
          clientId: app.clientId,
          reason: 'user-locked',
          claimsVersion: 4,
          cause: { kind: 'event', eventId: locked.id, eventType: locked.type },
        });
      });

      it('a dead letter carries the documented headers (and its record fails the inbound schema)', async () => {
        const poison = {
          ...event('iam.user.role.granted', user, { userId: user, role: 'X' }),
          specversion: '2.0',
        };
        const inbound = messageFor(asyncapi, 'roleChanges', 'iam.user.role.granted');
        expect(ajv.compile(inbound.payload)(poison)).toBe(false);
        const value = JSON.stringify(poison);
        await publishRaw(deployment.topics.roleChanges, [
          {
            key: user,
            value,
            headers: { 'content-type': 'application/cloudevents+json', 'x-probe': 'contract' },
          },
        ]);
        await roleDlq.waitFor((records) => records.length >= 1);
        expect(roleDlq.records).toHaveLength(1);
        const letter: ReceivedRecord = roleDlq.records[0]!;
        const [message] = channelMessages(asyncapi, 'roleChangesDeadLetters');
        expectValid(ajv.compile(message!.headers), letter.headers, 'dead-letter headers');
        const documented = Object.keys(message!.headers.properties);
        const added = Object.keys(letter.headers).filter((name) => name.startsWith('dlq-'));
        expect(added.filter((name) => !documented.includes(name))).toEqual([]);
        expect(letter.headers).toMatchObject({
          'content-type': 'application/cloudevents+json',
          'x-probe': 'contract',
          'dlq-reason': 'unknown-schema-version',
          'dlq-event-id': poison.id,
          'dlq-origin-topic': deployment.topics.roleChanges,
        });
        expect(letter.key).toBe(user);
        expect(letter.value?.toString('utf8')).toBe(value);
        // The dead-letter channel documents no other message, and the business one the same.
        expect(channelMessages(asyncapi, 'businessChangesDeadLetters')).toEqual([message]);
      });
    });
  });
});
