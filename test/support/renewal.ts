import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compactDecrypt, importJWK, type JWK } from 'jose';
import { expect } from 'vitest';
import { renewToken, type TokenResponse } from './http';
import type { ReceivedRecord } from './kafka';
import { runCli, type Deployment, type ServiceInstance } from './service';

export const RENEW_PATH = '/security/iam/v1/user-identities/renew-token';
export const LOGIN_PATH = '/security/iam/v1/client-identities/login';
export const KEYS_PATH = '/security/iam/v1/keys';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An opaque id in AuthMe's form (24 hex digits). */
export function authMeId(): string {
  return randomBytes(12).toString('hex');
}

export interface ClientSpec {
  readonly id: string;
  readonly secret: string;
  readonly roles: readonly string[];
  readonly scopes?: readonly string[];
  readonly service?: string;
}

/** Registers a client through the operator CLI, as an operator would. */
export async function registerClient(deployment: Deployment, spec: ClientSpec): Promise<void> {
  const args = [
    'client',
    'create',
    '--id',
    spec.id,
    '--secret',
    spec.secret,
    '--roles',
    spec.roles.join(','),
  ];
  if (spec.scopes) args.push('--scopes', spec.scopes.join(','));
  if (spec.service) args.push('--service', spec.service);
  const result = await runCli(deployment, args);
  if (result.code !== 0) {
    throw new Error(`client create ${spec.id} failed (${result.code}): ${result.stdout}${result.stderr}`);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` returns a value (not undefined), or fails naming what it waited for. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 200 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

/** Text that must never reach a caller: stack frames, file paths, driver and runtime error names. */
const INTERNALS = [
  /\n\s+at /,
  /\bat [\w.<>]+ \(/,
  /node_modules/,
  /\/work\//,
  /dist\/apps/,
  /\.(ts|js):\d+/,
  /\b(TypeError|ReferenceError|SyntaxError|RangeError)\b/,
  /Unexpected token/i,
  /prisma/i,
  /\bSELECT\b|\bINSERT\b|\bUPDATE\b/,
  /ECONNREFUSED|ECONNRESET/,
  /kafkajs/i,
];

export function expectNoInternals(text: string): void {
  for (const pattern of INTERNALS) expect(text, `response leaks internals (${pattern})`).not.toMatch(pattern);
}

export interface AuthMeError {
  code: string;
  message: string;
}

/**
 * Asserts an AuthMe error answer: the status, a JSON array of exactly
 * `{ code, message }` entries (optionally the code), and nothing internal.
 */
export async function expectAuthMeError(
  response: Response,
  status: number,
  code?: string,
): Promise<AuthMeError[]> {
  const text = await response.text();
  expect(response.status, `status (body: ${text.slice(0, 300)})`).toBe(status);
  expect(response.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = JSON.parse(text) as unknown;
  expect(Array.isArray(body)).toBe(true);
  const entries = body as AuthMeError[];
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) {
    expect(Object.keys(entry).sort()).toEqual(['code', 'message']);
    expect(typeof entry.code).toBe('string');
    expect(typeof entry.message).toBe('string');
    expect(entry.code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  }
  if (code !== undefined) expect(entries.map((entry) => entry.code)).toEqual([code]);
  expectNoInternals(text);
  return entries;
}

/** Renews and expects a 200, returning the token response. */
export async function renewOk(
  service: ServiceInstance,
  callerToken: string | undefined,
  query: Record<string, string>,
): Promise<TokenResponse> {
  const response = await renewToken(service, callerToken, query);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`renew-token answered ${response.status}: ${text}`);
  return JSON.parse(text) as TokenResponse;
}

/** The `iam.session.token-renewed` / `iam.session.revoked` CloudEvents of the session-update topic. */
export interface SessionUpdateEvent {
  specversion: string;
  id: string;
  source: string;
  type: 'iam.session.token-renewed' | 'iam.session.revoked';
  time: string;
  subject: string;
  datacontenttype: string;
  data: {
    sessionId: string;
    userId: string;
    clientId: string;
    businessId?: string | null;
    accessToken?: string;
    tokenEncryption?: 'jwe' | 'none';
    tokenType?: string;
    expiresIn?: string;
    scope?: string[];
    authorities?: string[];
    added?: string[];
    removed?: string[];
    claimsVersion: number;
    reason?: string;
    cause: { kind: string; eventId?: string; eventType?: string };
  };
}

export interface SessionUpdateRecord {
  readonly record: ReceivedRecord;
  readonly event: SessionUpdateEvent;
}

export function sessionUpdates(records: readonly ReceivedRecord[]): SessionUpdateRecord[] {
  return records.map((record) => ({
    record,
    event: JSON.parse(record.value?.toString('utf8') ?? 'null') as SessionUpdateEvent,
  }));
}

/** Decrypts a session update's compact JWE with the downstream consumer's private key. */
export async function openSealedToken(deployment: Deployment, jwe: string): Promise<string> {
  const jwk = JSON.parse(readFileSync(deployment.recipientPrivateJwk, 'utf8')) as JWK;
  const key = await importJWK(jwk, 'RSA-OAEP-256');
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, key);
  expect(protectedHeader.alg).toBe('RSA-OAEP-256');
  return new TextDecoder().decode(plaintext);
}
