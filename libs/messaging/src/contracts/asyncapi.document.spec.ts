import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { EventType, type SessionUpdate } from '@iam/domain';
import { PlaintextTokenSealer } from '@iam/tokens';
import { SessionUpdateEncoder } from '../session-updates/session-update.encoder';
import { buildAsyncApiDocument } from './asyncapi.document';
import { defaultContractConfig } from './contract-config';

const DOCUMENT_PATH = resolve(__dirname, '../../../../docs/asyncapi.yaml');
const document = buildAsyncApiDocument(defaultContractConfig());

type Messages = Record<string, { payload: object; headers?: object }>;
const messages = (document.components as { messages: Messages }).messages;

describe('the AsyncAPI document', () => {
  it('is the committed docs/asyncapi.yaml (run with UPDATE_CONTRACTS=1 to regenerate)', () => {
    if (process.env.UPDATE_CONTRACTS === '1')
      writeFileSync(DOCUMENT_PATH, stringify(document, { lineWidth: 0 }));
    expect(parse(readFileSync(DOCUMENT_PATH, 'utf8'))).toEqual(document);
  });

  it('is a valid AsyncAPI 3 document', async () => {
    const { diagnostics, document: parsed } = await new Parser().parse(JSON.stringify(document));
    const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
    expect(errors.map((error) => `${error.path.join('.')}: ${error.message}`)).toEqual([]);
    expect(
      parsed
        ?.channels()
        .all()
        .map((channel) => channel.address()),
    ).toEqual([
      'iam.role-changes.v1',
      'iam.business-changes.v1',
      'iam.role-changes.v1.dlq',
      'iam.business-changes.v1.dlq',
      'iam.session-updates.v1',
    ]);
  });

  it('describes every inbound event type and both outbound ones', () => {
    expect(Object.values(messages).map((message) => (message as { title?: string }).title)).toEqual(
      expect.arrayContaining([...Object.values(EventType), 'Dead letter']),
    );
  });

  it('accepts what the encoder produces', async () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const encoder = new SessionUpdateEncoder(
      'topic',
      new PlaintextTokenSealer(),
      { uuid: () => '6f1c3a52-8a0e-4f8e-9a51-1c2b3d4e5f60' },
      { now: () => new Date('2026-11-28T10:00:00Z') },
    );
    const renewed: SessionUpdate = {
      type: EventType.SessionTokenRenewed,
      sessionId: '6f1c3a52-8a0e-4f8e-9a51-1c2b3d4e5f61',
      userId: 'u1',
      clientId: 'c1',
      businessId: null,
      accessToken: 'a.b.c',
      expiresAt: new Date('2026-11-28T10:15:00Z'),
      scope: ['READ'],
      authorities: ['ROLE_USER'],
      added: ['ROLE_USER'],
      removed: [],
      claimsVersion: 2,
      cause: { kind: 'event', eventId: 'e1', eventType: EventType.UserRoleGranted, occurredAt: new Date() },
    };
    const revoked: SessionUpdate = {
      type: EventType.SessionRevoked,
      sessionId: '6f1c3a52-8a0e-4f8e-9a51-1c2b3d4e5f61',
      userId: 'u1',
      clientId: 'c1',
      reason: 'user-locked',
      claimsVersion: 3,
      cause: { kind: 'http' },
    };
    for (const [update, name] of [
      [renewed, 'SessionTokenRenewed'],
      [revoked, 'SessionRevoked'],
    ] as const) {
      const message = await encoder.encode(update);
      const validate = ajv.compile(messages[name]!.payload);
      const valid = validate(JSON.parse(message.value.toString()));
      expect(validate.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
      const headers = Object.fromEntries(message.headers.map(([key, value]) => [key, value.toString()]));
      expect(ajv.validate(messages[name]!.headers!, headers)).toBe(true);
    }
  });

  it('refuses what the contract does not allow', () => {
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(messages.SessionRevoked!.payload);
    expect(validate({ specversion: '1.0', type: 'iam.session.revoked', data: { reason: 'bored' } })).toBe(
      false,
    );
  });
});
