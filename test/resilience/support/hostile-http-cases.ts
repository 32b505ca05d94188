import fc from 'fast-check';
import { isValidId as isContractId } from './hostile-cloudevent-oracle';

/**
 * Generated hostile requests for Renew Token and Login Client, each with the
 * oracle's verdict computed from the contract (http-api.md, README "Errors"),
 * independently of the service's code.
 *
 * A request is built from parts (method, path, caller/credentials, query,
 * body, extra headers). Every part is `ok` (legitimate), `maybe` (a reading of
 * the contract the service may accept or refuse: accepted is fine, refused must
 * be one of the listed answers) or a `defect` (must be refused, with one of the
 * listed answers). A request may get a token (200) only when it has no defect;
 * when every part is `ok` it must get one. With several defects the answer must
 * name one of them (the contract does not order them).
 */

export interface Outcome {
  readonly status: number;
  /** The AuthMe error code, when the contract names it. */
  readonly code?: string;
}

export type Verdict = 'ok' | 'maybe' | 'defect';

export interface Part {
  readonly verdict: Verdict;
  /** The refusals this part allows (for `ok`: none). */
  readonly outcomes: readonly Outcome[];
  readonly label: string;
}

export const ok = (label: string): Part => ({ verdict: 'ok', outcomes: [], label });
export const maybe = (label: string, ...outcomes: Outcome[]): Part => ({ verdict: 'maybe', outcomes, label });
export const defect = (label: string, ...outcomes: Outcome[]): Part => ({
  verdict: 'defect',
  outcomes,
  label,
});

const o = (status: number, code?: string): Outcome => (code === undefined ? { status } : { status, code });
export const BAD = {
  missing: o(400, 'MISSING_PARAMETER'),
  invalid: o(400, 'INVALID_PARAMETER'),
  conflicting: o(400, 'CONFLICTING_PARAMETERS'),
  badRequest: o(400, 'BAD_REQUEST'),
  callerToken: o(401, 'INVALID_CALLER_TOKEN'),
  token: o(401, 'INVALID_TOKEN'),
  refresh: o(401, 'INVALID_REFRESH_TOKEN'),
  credentials: o(401, 'INVALID_CLIENT_CREDENTIALS'),
  requirement: o(403, 'CLIENT_REQUIREMENT_NOT_MET'),
  notTheClient: o(403, 'NOT_THE_TOKEN_CLIENT'),
  applicationToken: o(403, 'APPLICATION_TOKEN_REQUIRED'),
  notFound: o(404, 'NOT_FOUND'),
  method: o(405, 'METHOD_NOT_ALLOWED'),
  revoked: o(412, 'SESSION_REVOKED'),
  notMember: o(412, 'NOT_A_BUSINESS_MEMBER'),
  tooLarge: o(413, 'PAYLOAD_TOO_LARGE'),
  uriTooLong: o(414, 'URI_TOO_LONG'),
  mediaType: o(415, 'UNSUPPORTED_MEDIA_TYPE'),
  throttled: o(429, 'TOO_MANY_FAILED_LOGINS'),
  headersTooLarge: o(431, 'REQUEST_HEADER_FIELDS_TOO_LARGE'),
} as const;

export const BODY_LIMIT = 16 * 1024;
/** Node's default limit on the request line plus headers; around it the answer may be either. */
const HEAD_LIMIT = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Query strings: every entry knows what the server decodes it to (or that it cannot know).

export type KnownKey = 'token' | 'remember-me' | 'clientId' | 'userId' | 'businessId';

const ID_KEYS: ReadonlySet<KnownKey> = new Set(['clientId', 'userId', 'businessId']);
const KNOWN_KEYS: readonly KnownKey[] = ['token', 'remember-me', 'clientId', 'userId', 'businessId'];
const MAX_LENGTH: Record<KnownKey, number> = {
  token: 8_192,
  'remember-me': 256,
  clientId: 256,
  userId: 256,
  businessId: 256,
};

/** Stands for the live refresh token of session R, resolved when the case runs (it rotates). */
export const CURRENT_REFRESH = '@@CURRENT-REFRESH@@';

export interface QueryEntry {
  /** As written on the request line (already encoded). */
  readonly raw: string;
  readonly known?: {
    readonly key: KnownKey;
    /** What the server decodes the value to. */
    readonly value: string;
    /** false when the value carries escapes a lenient and a strict decoder read differently. */
    readonly certain: boolean;
  };
  /** A harmless extra parameter; `part` says if the HTTP parser may refuse its raw bytes. */
  readonly noise?: Part;
  readonly label: string;
}

/** The decoded form of a JS string as the server sees it (lone surrogates become U+FFFD in UTF-8). */
export const canonical = (value: string): string => Buffer.from(value, 'utf8').toString('utf8');

type Encoding = 'component' | 'every' | 'every-lower' | 'plus';

function percentEvery(value: string, lower: boolean): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => `%${byte.toString(16).padStart(2, '0')}`)
    .map((escape) => (lower ? escape.toLowerCase() : escape.toUpperCase()))
    .join('');
}

/** Encodes a value so that decoding (with '+' as space) gives back canonical(value) exactly. */
export function encode(value: string, encoding: Encoding): string {
  const text = canonical(value);
  switch (encoding) {
    case 'component':
      return encodeURIComponent(text);
    case 'every':
      return percentEvery(text, false);
    case 'every-lower':
      return percentEvery(text, true);
    case 'plus':
      return encodeURIComponent(text).replace(/%20/g, '+');
  }
}

const encodingArb: fc.Arbitrary<Encoding> = fc.constantFrom(
  'component',
  'component',
  'every',
  'every-lower',
  'plus',
);

function knownEntry(key: KnownKey, value: string, encoding: Encoding, keyEncoding: Encoding): QueryEntry {
  return {
    raw: `${encode(key, keyEncoding)}=${encode(value, encoding)}`,
    known: { key, value: canonical(value), certain: true },
    label: `${key}(${encoding})`,
  };
}

const knownEntryArb = (key: KnownKey, value: fc.Arbitrary<string>): fc.Arbitrary<QueryEntry> =>
  fc
    .tuple(value, encodingArb, fc.constantFrom<Encoding>('component', 'component', 'component', 'every'))
    .map(([v, encoding, keyEncoding]) => knownEntry(key, v, encoding, keyEncoding));

/** Escapes that are not valid UTF-8 percent-encoding: a lenient decoder keeps them, a strict one refuses. */
const BROKEN_ESCAPES = [
  '%',
  '%G1',
  '%E0%A4%A',
  '%C0%80',
  '%ED%A0%80',
  '%FF',
  '%2',
  '%%',
  '%u0041',
  '%F4%90%80%80',
];

/** A value written with a broken escape somewhere: the decoded value is not certain. */
const brokenValueArb = (key: KnownKey): fc.Arbitrary<QueryEntry> =>
  fc
    .tuple(fc.string({ maxLength: 12 }), fc.constantFrom(...BROKEN_ESCAPES), fc.string({ maxLength: 12 }))
    .map(([before, broken, after]) => {
      const raw = `${encodeURIComponent(before)}${broken}${encodeURIComponent(after)}`;
      return {
        raw: `${key}=${raw}`,
        known: { key, value: raw, certain: false },
        label: `${key}(broken escape ${broken})`,
      };
    });

/** Keys the server must not take for one of its parameters (query keys are case-sensitive). */
const UNKNOWN_KEYS = [
  'Token',
  'TOKEN',
  'Remember-Me',
  'remember_me',
  'rememberMe',
  'userid',
  'UserId',
  'clientid',
  'client_id',
  'businessid',
  'token[]',
  'token%20',
  '%20token',
  'token.',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  '__proto__[token]',
  'constructor[prototype][token]',
  'access_token',
  'refresh_token',
  'grant_type',
];

/** Characters that may stand raw in a query (no '&', '=', '#', '%', '+'). */
const RAW_SAFE = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$'()*,;:@/?"];
/** Raw bytes the HTTP parser may refuse in a request target (it is fine to refuse them). */
const RAW_RISKY = [
  '"',
  '<',
  '>',
  '`',
  '{',
  '}',
  '|',
  '\\',
  '^',
  '[',
  ']',
  '\u00e9',
  '\u00ff',
  '\u0080',
  '\u007f',
];

const hugeValueArb = fc
  .tuple(
    fc.integer({ min: 1, max: 64 * 1024 }),
    fc.constantFrom('A', 'z', '%41', '%00', '%E2%82%AC', '.', '-'),
  )
  .map(([length, unit]) => unit.repeat(Math.max(1, Math.floor(length / unit.length))));

/** Parameters the server must ignore: unknown keys with hostile values. */
export const noiseEntryArb: fc.Arbitrary<QueryEntry> = fc.oneof(
  {
    // x-prefixed keys, hostile encoded values
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.string({ unit: fc.constantFrom(...RAW_SAFE), maxLength: 12 }),
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 40 }).map((v) => encodeURIComponent(canonical(v))),
          fc.string({ unit: 'grapheme', maxLength: 40 }).map((v) => encode(v, 'every')),
          fc.constantFrom(...BROKEN_ESCAPES),
          fc.constant('%00'),
          fc.constant(''),
          hugeValueArb,
        ),
      )
      .map(([key, value]) => ({ raw: `x${key}=${value}`, noise: ok('noise'), label: 'noise' })),
  },
  {
    // unknown keys that look like ours, with a known parameter's value
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom(...UNKNOWN_KEYS), fc.constantFrom('true', 'false', 'x', ''))
      .map(([key, value]) => ({
        raw: `${key}=${value}`,
        noise: ok(`look-alike ${key}`),
        label: `look-alike ${key}`,
      })),
  },
  {
    // empty segments and keys without values
    weight: 1,
    arbitrary: fc.constantFrom('', '=', '=x', 'xflag', 'x=', 'x==', 'x=a=b').map((raw) => ({
      raw,
      noise: ok('empty segment'),
      label: 'empty segment',
    })),
  },
  {
    // raw bytes the HTTP parser may refuse
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: fc.constantFrom(...RAW_SAFE), maxLength: 6 }), fc.constantFrom(...RAW_RISKY))
      .map(([key, risky]) => ({
        raw: `x${key}=${risky}`,
        noise: maybe(`raw ${JSON.stringify(risky)}`, BAD.badRequest),
        label: 'raw risky byte',
      })),
  },
);

// ---------------------------------------------------------------------------------------------
// The world the cases are drawn from.

export interface SessionRef {
  readonly userId: string;
  readonly clientId: string;
}

export type TokenInfo =
  | { readonly kind: 'access' | 'refresh'; readonly session: SessionRef }
  | { readonly kind: 'revoked'; readonly session: SessionRef }
  | { readonly kind: 'refused'; readonly outcomes: readonly Outcome[]; readonly why: string };

export interface CallerIdentity {
  readonly clientId: string;
  readonly userId?: string;
}

export interface World {
  readonly clientA: { readonly id: string; readonly secret: string };
  readonly clientB: { readonly id: string };
  readonly client3p: { readonly id: string };
  readonly victim: { readonly id: string };
  /** Valid callers (Bearer), by name. */
  readonly callers: Readonly<Record<'appA' | 'appB' | 'userU1', { token: string; identity: CallerIdentity }>>;
  readonly app3pToken: string;
  /** Tokens usable as `token`, by name, with what they are. */
  readonly userTokens: Readonly<Record<'u1' | 'u2' | 'b1' | 'revoked', string>>;
  readonly clientTokens: readonly string[];
  readonly forged: readonly string[];
  /** Users the identity-provider case may name (never R's or the revoked session's user). */
  readonly idpUsers: readonly string[];
  /** What a token value is; called when the case runs (the refresh token rotates). */
  readonly tokenInfo: (value: string) => TokenInfo;
}

// ---------------------------------------------------------------------------------------------
// Requests and their verdicts.

export interface HostileCase {
  readonly endpoint: 'renew' | 'login';
  readonly method: { readonly name: string; readonly part: Part };
  readonly path: { readonly suffix: string; readonly part: Part };
  /** Authorization header lines (none, one, or a duplicate pair). */
  readonly authorization: readonly string[];
  readonly caller: CallerPart;
  readonly query: readonly QueryEntry[];
  readonly body: BodyPart;
  readonly extraHeaders: Readonly<Record<string, string>>;
}

export type CallerPart =
  | { readonly kind: 'valid'; readonly name: keyof World['callers']; readonly part: Part }
  | { readonly kind: 'refused'; readonly part: Part }
  | { readonly kind: 'credentials'; readonly part: Part };

export interface BodyPart {
  readonly contentType?: string;
  readonly body?: Buffer;
  readonly part: Part;
}

const sendable = (value: string): string => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');

// --- methods and paths -----------------------------------------------------------------------

const methodArb: fc.Arbitrary<HostileCase['method']> = fc.oneof(
  { weight: 14, arbitrary: fc.constant({ name: 'POST', part: ok('POST') }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        'GET',
        'PUT',
        'DELETE',
        'PATCH',
        'OPTIONS',
        'HEAD',
        'PROPFIND',
        'SEARCH',
        'LOCK',
        'PURGE',
        'TRACE',
      )
      .map((name) => ({ name, part: defect(name, BAD.notFound, BAD.method) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('FOO', 'POSTX', 'BREW', 'X-POST')
      .map((name) => ({ name, part: defect(name, BAD.badRequest, BAD.notFound, BAD.method) })),
  },
);

const pathArb = (route: 'renew' | 'login'): fc.Arbitrary<HostileCase['path']> => {
  const last = route === 'renew' ? 'renew-token' : 'login';
  return fc.oneof(
    { weight: 20, arbitrary: fc.constant({ suffix: '', part: ok('path') }) },
    {
      weight: 1,
      // RFC 3986 §6.2.2.2: a percent-encoded unreserved character is the same URI.
      arbitrary: fc.constant({
        suffix: `%${last.charCodeAt(0).toString(16).toUpperCase()}${last.slice(1)}`,
        part: ok('percent-encoded path'),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom('/', '//', '/x', '.json', ';x=1', '%00', '%2F', '/..').map((tail) => ({
        suffix: `${last}${tail}`,
        part: defect(`path +${tail}`, BAD.notFound, BAD.badRequest),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(last.toUpperCase(), `${last}s`, last.slice(0, -1))
        .map((other) => ({ suffix: other, part: defect(`path ${other}`, BAD.notFound) })),
    },
  );
};

// --- bodies ------------------------------------------------------------------------------------

const OK_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'text/plain',
  'text/plain; charset=utf-8',
];
/** Readings the contract leaves open (case, parameters): accepting them is fine. */
const MAYBE_TYPES = [
  'APPLICATION/JSON',
  'Text/Plain',
  'application/json; charset=latin1',
  'application/json ; charset=utf-8',
  'text/plain; charset=iso-8859-1',
  'application/json;',
  'application/json-patch+json',
  'application/merge-patch+json',
];
const BAD_TYPES = [
  'application/xml',
  'text/html',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'image/png',
  'application/jsonx',
  'text/plainx',
  'application/x-www-form-urlencodedx',
  'json',
];

const isJsonType = (type: string) => /^application\/json\s*(;|$)/i.test(type);

/** The verdict of a body under a content type (README: JSON, form or text, at most 16 KiB; bad JSON is 400). */
export function judgeBody(contentType: string | undefined, body: Buffer | undefined): Part {
  const size = body?.length ?? 0;
  if (size > BODY_LIMIT) {
    return defect(`body ${size} B`, BAD.tooLarge, BAD.mediaType);
  }
  if (contentType === undefined) {
    return size === 0 ? ok('no body') : defect('body without content-type', BAD.mediaType);
  }
  const label = `${contentType} ${size} B`;
  if (BAD_TYPES.includes(contentType) || contentType.startsWith('x-')) return defect(label, BAD.mediaType);
  const maybeType = MAYBE_TYPES.includes(contentType);
  // Bytes that are not UTF-8 under a text media type: refusing them (400) is as fine as reading them.
  const utf8 = isUtf8(body ?? Buffer.alloc(0));
  if (isJsonType(contentType) || maybeType) {
    const text = (body ?? Buffer.alloc(0)).toString('utf8');
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    if (maybeType) return maybe(label, BAD.badRequest, BAD.mediaType);
    if (size === 0 || parses) return utf8 ? ok(label) : maybe(`${label} (not UTF-8)`, BAD.badRequest);
    if (text.trim().length === 0) return maybe(`${label} (whitespace)`, BAD.badRequest);
    return defect(`${label} (not JSON)`, BAD.badRequest);
  }
  return utf8 ? ok(label) : maybe(`${label} (not UTF-8)`, BAD.badRequest);
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const bodyArb: fc.Arbitrary<BodyPart> = fc
  .oneof(
    { weight: 10, arbitrary: fc.constant<[string | undefined, Buffer | undefined]>([undefined, undefined]) },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(...OK_TYPES)
        .map((t): [string | undefined, Buffer | undefined] => [t, Buffer.alloc(0)]),
    },
    {
      weight: 2,
      arbitrary: fc
        .jsonValue({ maxDepth: 3 })
        .map((value): [string | undefined, Buffer | undefined] => [
          'application/json',
          Buffer.from(JSON.stringify(value) ?? 'null'),
        ]),
    },
    {
      weight: 2,
      arbitrary: fc
        .string({ maxLength: 60 })
        .map((s): [string | undefined, Buffer | undefined] => ['application/json', Buffer.from(`{${s}`)]),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.option(fc.constantFrom(...OK_TYPES, ...MAYBE_TYPES, ...BAD_TYPES), { nil: undefined }),
          fc.uint8Array({ maxLength: 512 }),
        )
        .map(([t, bytes]): [string | undefined, Buffer | undefined] => [t, Buffer.from(bytes)]),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...OK_TYPES, ...BAD_TYPES),
          fc.integer({ min: BODY_LIMIT - 64, max: BODY_LIMIT + 4_096 }),
          fc.constantFrom('x', ' ', '{', '\u0000', '\u00e9'),
        )
        .map(([t, size, fill]): [string | undefined, Buffer | undefined] => [
          t,
          Buffer.alloc(size, Buffer.from(fill)),
        ]),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({
          unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'),
          minLength: 1,
          maxLength: 20,
        })
        .map((t): [string | undefined, Buffer | undefined] => [`x-${t}`, Buffer.from('{}')]),
    },
  )
  .map(([contentType, body]) => ({ contentType, body, part: judgeBody(contentType, body) }));

// --- extra headers -----------------------------------------------------------------------------

const extraHeadersArb: fc.Arbitrary<Record<string, string>> = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'x-fuzz',
        'accept',
        'user-agent',
        'x-forwarded-for',
        'x-request-id',
        'accept-language',
        'origin',
        'cookie',
      ),
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.constantFrom('*/*', 'application/xml', 'text/html'),
      ),
    ),
    { maxLength: 3 },
  )
  .map((pairs) =>
    Object.fromEntries(
      pairs.map(([name, value], index) => [
        `${name}${name === 'x-fuzz' ? `-${index}` : ''}`,
        sendable(value),
      ]),
    ),
  );

// --- Authorization for Renew Token (the caller) -----------------------------------------------

const junkAuthorizationArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }).map(sendable),
  fc
    .tuple(
      fc.constantFrom('Bearer', 'Basic', 'Token', 'Digest', 'JWT', 'Negotiate', 'bearer', ''),
      fc.string({ maxLength: 80 }),
    )
    .map(([scheme, rest]) => sendable(`${scheme} ${rest}`)),
  fc.constantFrom(
    '',
    'Bearer',
    'Bearer ',
    'Bearer null',
    'Bearer undefined',
    'Bearer .',
    'Bearer a.b.c',
    'Basic Og==',
  ),
);

export function callerArb(
  world: World,
): fc.Arbitrary<{ caller: CallerPart; authorization: readonly string[] }> {
  const validName = fc.constantFrom<keyof World['callers']>('appA', 'appA', 'appA', 'userU1', 'appB');
  const scheme = fc.constantFrom('Bearer ', 'Bearer ', 'Bearer ', 'bearer ', 'BEARER ', 'Bearer   ');
  return fc.oneof(
    {
      weight: 12,
      arbitrary: fc
        .tuple(validName, scheme, fc.constantFrom('', ' ', '  '))
        .map(([name, prefix, trailing]) => ({
          caller: { kind: 'valid' as const, name, part: ok(`caller ${name}`) },
          authorization: [`${prefix}${world.callers[name].token}${trailing}`],
        })),
    },
    {
      weight: 1,
      arbitrary: fc.constant({
        caller: { kind: 'refused' as const, part: defect('caller 3rd party', BAD.requirement) },
        authorization: [`Bearer ${world.app3pToken}`],
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constant({
        caller: { kind: 'refused' as const, part: defect('no caller', BAD.callerToken) },
        authorization: [],
      }),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...world.forged).map((token) => ({
        caller: { kind: 'refused' as const, part: defect('forged caller', BAD.callerToken) },
        authorization: [`Bearer ${token}`],
      })),
    },
    {
      weight: 2,
      arbitrary: junkAuthorizationArb.map((value) => ({
        caller: { kind: 'refused' as const, part: defect('junk caller', BAD.callerToken) },
        authorization: [value],
      })),
    },
    {
      weight: 1,
      // The real token, bent: wrong separator, extra bytes, two tokens, another scheme, too long.
      arbitrary: fc
        .tuple(
          validName,
          fc.constantFrom(
            (t: string) => `Bearer\t${t}`,
            (t: string) => `Bearer${t}`,
            (t: string) => `Bearer ${t}.`,
            (t: string) => `Bearer ${t} ${t}`,
            (t: string) => `Basic ${t}`,
            (t: string) => `Token ${t}`,
            (t: string) => t,
            (t: string) => `Bearer ${t.slice(0, -1)}`,
            (_t: string) => `Bearer ${'A'.repeat(9_000)}`,
          ),
        )
        .map(([name, bend]) => ({
          caller: { kind: 'refused' as const, part: defect('bent caller', BAD.callerToken) },
          authorization: [bend(world.callers[name].token)],
        })),
    },
    {
      weight: 1,
      // Two Authorization lines. Node keeps the first; a server that reads the first line of a
      // malformed request may answer for it, so a valid first line is `maybe`; junk first is a defect.
      arbitrary: fc.tuple(validName, junkAuthorizationArb, fc.boolean()).map(([name, junk, validFirst]) => ({
        caller: validFirst
          ? {
              kind: 'valid' as const,
              name,
              part: maybe('duplicate Authorization, valid first', BAD.callerToken, BAD.badRequest),
            }
          : {
              kind: 'refused' as const,
              part: defect('duplicate Authorization, junk first', BAD.callerToken, BAD.badRequest),
            },
        authorization: validFirst
          ? [`Bearer ${world.callers[name].token}`, junk]
          : [junk, `Bearer ${world.callers[name].token}`],
      })),
    },
  );
}

// --- Renew Token query -------------------------------------------------------------------------

const AUTHME_ID = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 24, maxLength: 24 });
const WEIRD_CHARS = [
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\u0085',
];

/** A token value that is not a usable token of ours (the oracle classifies it by value when the case runs). */
function junkTokenArb(world: World): fc.Arbitrary<string> {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');
  return fc.oneof(
    fc.constantFrom(...world.forged),
    fc.constantFrom(...world.clientTokens),
    fc.uuid({ version: [1, 2, 3, 4, 5] }),
    fc.uuid().map((u) => u.toUpperCase()),
    fc
      .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.base64String({ maxLength: 64 }))
      .map(
        ([h, p, s]) => `${b64(h)}.${b64(p)}.${s.replace(/=/g, '').replace(/\+/g, '-').replace(/\//g, '_')}`,
      ),
    fc
      .tuple(
        fc.constantFrom('none', 'HS512', 'RS256', 'RS512', 'ES256', 'PS512', 'EdDSA', ''),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([alg, p]) => `${b64({ alg, typ: 'JWT', kid: 'x' })}.${b64(p)}.`),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
    // A real user token with one character changed (never a segment's last character, whose
    // low bits base64url may leave unused).
    fc
      .tuple(
        fc.constantFrom(world.userTokens.u1, world.userTokens.u2),
        fc.nat(),
        fc.constantFrom(...'AbZ09-_'),
      )
      .map(([token, at, replacement]) => {
        const positions = [...token]
          .map((_, i) => i)
          .filter((i) => token[i] !== '.' && token[i + 1] !== '.' && i !== token.length - 1);
        const index = positions[at % positions.length]!;
        const swapped = token[index] === replacement ? (replacement === 'A' ? 'B' : 'A') : replacement;
        return `${token.slice(0, index)}${swapped}${token.slice(index + 1)}`;
      }),
  );
}

interface QueryShape {
  readonly entries: QueryEntry[];
  readonly label: string;
}

function shapeArb(world: World): fc.Arbitrary<QueryShape> {
  const rememberMe = fc.constantFrom('true', 'false');
  const idpUser = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...world.idpUsers) },
    { weight: 2, arbitrary: AUTHME_ID },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...WEIRD_CHARS), fc.string({ maxLength: 8 }))
        .map(([a, weird, b]) => `${a}${weird}${b}`),
    },
    { weight: 1, arbitrary: fc.integer({ min: 257, max: 2_000 }).map((n) => 'u'.repeat(n)) },
  );
  const clientId = fc.oneof(
    { weight: 8, arbitrary: fc.constant(world.clientA.id) },
    { weight: 1, arbitrary: fc.constantFrom(world.clientB.id, world.client3p.id, world.victim.id) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }) },
  );
  const sessionToken = fc.constantFrom(
    world.userTokens.u1,
    world.userTokens.u1,
    world.userTokens.u2,
    world.userTokens.b1,
    world.userTokens.revoked,
  );
  const idp = fc
    .tuple(
      knownEntryArb('userId', idpUser),
      knownEntryArb('clientId', clientId),
      knownEntryArb('remember-me', rememberMe),
    )
    .map((entries) => ({ entries, label: 'identity provider' }));
  const access = fc
    .tuple(
      knownEntryArb('token', sessionToken),
      knownEntryArb('remember-me', rememberMe),
      fc.option(knownEntryArb('userId', fc.constantFrom(...world.idpUsers, 'someone-else')), { freq: 4 }),
      fc.option(knownEntryArb('clientId', fc.constantFrom(world.clientA.id, world.clientB.id)), { freq: 4 }),
    )
    .map(([token, remember, userId, client]) => ({
      entries: [token, remember, ...(userId ? [userId] : []), ...(client ? [client] : [])],
      label: 'access token',
    }));
  const refresh = fc
    .tuple(fc.constantFrom<Encoding>('component', 'every'), fc.boolean())
    .map(([encoding, withClient]) => ({
      entries: [
        {
          raw: `token=${encoding === 'every' ? '@@ENCODED-REFRESH@@' : CURRENT_REFRESH}`,
          known: { key: 'token' as const, value: CURRENT_REFRESH, certain: true },
          label: `token(refresh, ${encoding})`,
        },
        knownEntry('remember-me', 'true', 'component', 'component'),
        ...(withClient ? [knownEntry('clientId', world.clientA.id, 'component', 'component')] : []),
      ],
      label: 'refresh token',
    }));
  const junkToken = fc
    .tuple(knownEntryArb('token', junkTokenArb(world)), knownEntryArb('remember-me', rememberMe))
    .map((entries) => ({ entries, label: 'unusable token' }));
  // Random keys and values: known keys with random values, in any number.
  const randomKeys = fc
    .array(
      fc.oneof(
        fc
          .constantFrom(...KNOWN_KEYS)
          .chain((key) =>
            knownEntryArb(
              key,
              fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('true', 'false', '')),
            ),
          ),
        fc.constantFrom(...KNOWN_KEYS).chain((key) => brokenValueArb(key)),
      ),
      { maxLength: 6 },
    )
    .map((entries) => ({ entries, label: 'random parameters' }));
  return fc.oneof(
    { weight: 6, arbitrary: idp },
    { weight: 5, arbitrary: access },
    { weight: 2, arbitrary: refresh },
    { weight: 4, arbitrary: junkToken },
    { weight: 3, arbitrary: randomKeys },
  );
}

type Mutation = (entries: QueryEntry[]) => QueryEntry[];

function mutationArb(world: World): fc.Arbitrary<{ name: string; apply: Mutation }> {
  const replaceKey = (key: KnownKey, replacement: QueryEntry[]) => (entries: QueryEntry[]) => [
    ...entries.filter((entry) => entry.known?.key !== key),
    ...replacement,
  ];
  return fc.oneof(
    fc.constant({ name: 'drop remember-me', apply: replaceKey('remember-me', []) }),
    fc
      .constantFrom('yes', 'no', '1', '0', 'on', 'truee', 'null', ' true', 'true ', 'true\u0000', 't', '')
      .chain((value) =>
        knownEntryArb('remember-me', fc.constant(value)).map((entry) => ({
          name: `remember-me=${JSON.stringify(value)}`,
          apply: replaceKey('remember-me', [entry]),
        })),
      ),
    fc.constantFrom('TRUE', 'True', 'FALSE', 'fAlSe').chain((value) =>
      knownEntryArb('remember-me', fc.constant(value)).map((entry) => ({
        name: `remember-me=${value}`,
        apply: replaceKey('remember-me', [entry]),
      })),
    ),
    fc.constant({
      name: 'remember-me without =',
      apply: replaceKey('remember-me', [
        {
          raw: 'remember-me',
          known: { key: 'remember-me', value: '', certain: true },
          label: 'remember-me (no =)',
        },
      ]),
    }),
    fc.constant({
      name: 'repeat a parameter',
      apply: (entries: QueryEntry[]) => {
        const known = entries.filter((entry) => entry.known);
        return known.length === 0 ? entries : [...entries, known[known.length - 1]!];
      },
    }),
    fc.constantFrom(...KNOWN_KEYS).chain((key) =>
      knownEntryArb(key, fc.constant('')).map((entry) => ({
        name: `empty ${key}`,
        apply: (entries: QueryEntry[]) => [...entries.filter((e) => e.known?.key !== key), entry],
      })),
    ),
    fc.tuple(fc.constantFrom(...KNOWN_KEYS), fc.integer({ min: 1, max: 700 })).map(([key, extra]) => {
      const entry = knownEntry(key, 'a'.repeat(MAX_LENGTH[key] + extra), 'component', 'component');
      return { name: `over-long ${key}`, apply: replaceKey(key, [entry]) };
    }),
    fc
      .oneof(
        AUTHME_ID,
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
        fc.constantFrom('%00', '\u0000', 'biz\u0000x', ' '),
      )
      .chain((business) =>
        knownEntryArb('businessId', fc.constant(business)).map((entry) => ({
          name: 'businessId',
          apply: replaceKey('businessId', [entry]),
        })),
      ),
    fc.constantFrom(...KNOWN_KEYS).chain((key) =>
      brokenValueArb(key).map((entry) => ({
        name: `broken escape in ${key}`,
        apply: replaceKey(key, [entry]),
      })),
    ),
    fc.constant({ name: 'drop userId', apply: replaceKey('userId', []) }),
    fc.constant({ name: 'drop clientId', apply: replaceKey('clientId', []) }),
    fc.constant({ name: 'drop token', apply: replaceKey('token', []) }),
    knownEntryArb('clientId', fc.constantFrom(world.clientB.id, world.victim.id, 'someone-else')).map(
      (entry) => ({ name: 'other clientId', apply: replaceKey('clientId', [entry]) }),
    ),
  );
}

export function renewQueryArb(world: World): fc.Arbitrary<{ entries: QueryEntry[]; label: string }> {
  return fc
    .tuple(
      shapeArb(world),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant([]) },
        { weight: 2, arbitrary: fc.array(mutationArb(world), { minLength: 1, maxLength: 2 }) },
      ),
      fc.array(noiseEntryArb, { maxLength: 3 }),
      fc.nat(),
    )
    .map(([shape, mutations, noise, seed]) => {
      let entries = shape.entries;
      for (const mutation of mutations) entries = mutation.apply(entries);
      const all = [...entries, ...noise];
      // A deterministic shuffle (parameter order must not matter).
      const shuffled = all
        .map((entry, index) => ({ entry, rank: (seed * 31 + index * 7919) % 104729 }))
        .sort((a, b) => a.rank - b.rank)
        .map(({ entry }) => entry);
      return {
        entries: shuffled,
        label: [
          shape.label,
          ...mutations.map((m) => m.name),
          ...(noise.length ? [`${noise.length} noise`] : []),
        ].join(' + '),
      };
    });
}

// --- Login Client credentials ------------------------------------------------------------------

export function credentialsArb(
  world: World,
): fc.Arbitrary<{ caller: CallerPart; authorization: readonly string[] }> {
  const basic = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const valid = `${world.clientA.id}:${world.clientA.secret}`;
  const refused = (label: string, ...values: string[]) => ({
    caller: { kind: 'credentials' as const, part: defect(label, BAD.credentials, BAD.throttled) },
    authorization: values,
  });
  return fc.oneof(
    {
      // Every login costs an scrypt (~50-100 ms here): valid and failing secrets are a minority.
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('Basic ', 'Basic ', 'basic ', 'BASIC ', 'Basic   '), fc.constantFrom('', ' '))
        .map(([scheme, trailing]) => ({
          caller: { kind: 'credentials' as const, part: ok('valid credentials') },
          authorization: [`${scheme}${basic(valid)}${trailing}`],
        })),
    },
    { weight: 2, arbitrary: fc.constant(refused('no Authorization')) },
    {
      weight: 1,
      arbitrary: fc
        .string({ maxLength: 40 })
        .map((secret) => refused('victim, wrong secret', `Basic ${basic(`${world.victim.id}:${secret}`)}`)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }))
        .map(([id, secret]) => refused('random credentials', `Basic ${basic(`${id}:${secret}`)}`)),
    },
    {
      weight: 5,
      arbitrary: junkAuthorizationArb.map((value) => refused('junk Authorization', value)),
    },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(
          `Basic ${basic(world.clientA.id)}`,
          `Basic ${basic(`:${world.clientA.secret}`)}`,
          `Basic ${basic(valid).replace(/=+$/, '')}!`,
          `Basic\t${basic(valid)}`,
          `Basic${basic(valid)}`,
          `Bearer ${basic(valid)}`,
          `Basic ${Buffer.from(valid).toString('base64url')}~`,
          `Basic ${basic(valid)} ${basic(valid)}`,
          `Basic ${basic(`${world.clientA.id}:${'s'.repeat(2_000)}`)}`,
          `Basic ${'A'.repeat(9_000)}`,
        )
        .map((value) => ({
          // Refused before the secret is checked: these never count as a failed login of client A.
          caller: { kind: 'credentials' as const, part: defect('bent credentials', BAD.credentials) },
          authorization: [value],
        })),
    },
    {
      weight: 3,
      arbitrary: fc
        .constantFrom(...world.forged, ...world.clientTokens)
        .map((token) => refused('a token instead of credentials', `Bearer ${token}`)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(junkAuthorizationArb, fc.boolean()).map(([junk, validFirst]) => ({
        caller: {
          kind: 'credentials' as const,
          part: validFirst
            ? maybe('duplicate Authorization, valid first', BAD.credentials, BAD.badRequest)
            : defect('duplicate Authorization, junk first', BAD.credentials, BAD.throttled, BAD.badRequest),
        },
        authorization: validFirst ? [`Basic ${basic(valid)}`, junk] : [junk, `Basic ${basic(valid)}`],
      })),
    },
  );
}

// --- whole cases -------------------------------------------------------------------------------

const harmlessBodyArb: fc.Arbitrary<BodyPart> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constant<[string | undefined, Buffer | undefined]>([undefined, undefined]) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...OK_TYPES)
        .map((t): [string | undefined, Buffer | undefined] => [t, Buffer.alloc(0)]),
    },
  )
  .map(([contentType, body]) => ({ contentType, body, part: judgeBody(contentType, body) }));

const POST = { name: 'POST', part: ok('POST') };
const CANONICAL = { suffix: '', part: ok('path') };

function assemble(
  endpoint: HostileCase['endpoint'],
  parts: {
    method: HostileCase['method'];
    path: HostileCase['path'];
    caller: { caller: CallerPart; authorization: readonly string[] };
    query: readonly QueryEntry[];
    body: BodyPart;
    extraHeaders: Record<string, string>;
  },
): HostileCase {
  return {
    endpoint,
    method: parts.method,
    path: parts.path,
    authorization: parts.caller.authorization,
    caller: parts.caller.caller,
    query: parts.query,
    body: parts.body,
    extraHeaders: parts.extraHeaders,
  };
}

/**
 * Half the cases are wild (every part hostile at random); half are focused: a
 * well-formed POST from a legitimate caller whose query (or credentials) alone
 * is generated, so that the valid shapes and their near misses are well covered.
 */
export function renewCaseArb(world: World): fc.Arbitrary<HostileCase> {
  const validCaller = callerArb(world).filter(({ caller }) => caller.kind === 'valid');
  const wild = fc
    .record({
      method: methodArb,
      path: pathArb('renew'),
      caller: callerArb(world),
      query: renewQueryArb(world).map((query) => query.entries),
      body: bodyArb,
      extraHeaders: extraHeadersArb,
    })
    .map((parts) => assemble('renew', parts));
  const focused = fc
    .record({
      method: fc.constant(POST),
      path: fc.constant(CANONICAL),
      caller: validCaller,
      query: renewQueryArb(world).map((query) => query.entries),
      body: harmlessBodyArb,
      extraHeaders: fc.constant({}),
    })
    .map((parts) => assemble('renew', parts));
  return fc.oneof(wild, focused);
}

export function loginCaseArb(world: World): fc.Arbitrary<HostileCase> {
  const wild = fc
    .record({
      method: methodArb,
      path: pathArb('login'),
      caller: credentialsArb(world),
      query: fc.array(noiseEntryArb, { maxLength: 3 }),
      body: bodyArb,
      extraHeaders: extraHeadersArb,
    })
    .map((parts) => assemble('login', parts));
  const focused = fc
    .record({
      method: fc.constant(POST),
      path: fc.constant(CANONICAL),
      caller: credentialsArb(world),
      query: fc.constant([]),
      body: harmlessBodyArb,
      extraHeaders: fc.constant({}),
    })
    .map((parts) => assemble('login', parts));
  return fc.oneof({ weight: 3, arbitrary: wild }, { weight: 2, arbitrary: focused });
}

// --- building the request and judging it -----------------------------------------------------

export const ROUTES = {
  renew: '/security/iam/v1/user-identities/',
  login: '/security/iam/v1/client-identities/',
} as const;

export interface BuiltRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: Record<string, string | string[]>;
  readonly body?: Buffer;
  readonly headBytes: number;
}

export function buildRequest(c: HostileCase, currentRefresh: string): BuiltRequest {
  const route = c.endpoint === 'renew' ? 'renew-token' : 'login';
  const suffix = c.path.suffix === '' ? route : c.path.suffix;
  const query = c.query
    .map((entry) =>
      entry.raw
        .replace(CURRENT_REFRESH, currentRefresh)
        .replace('@@ENCODED-REFRESH@@', encode(currentRefresh, 'every')),
    )
    .join('&');
  const target = `${ROUTES[c.endpoint]}${suffix}${c.query.length > 0 ? `?${query}` : ''}`;
  const headers: Record<string, string | string[]> = { ...c.extraHeaders };
  if (c.authorization.length === 1) headers.authorization = c.authorization[0]!;
  if (c.authorization.length > 1) headers.authorization = [...c.authorization];
  if (c.body.contentType !== undefined) headers['content-type'] = c.body.contentType;
  // Framed explicitly: Node frames a body of GET, HEAD, DELETE or OPTIONS only if told its length.
  if (c.body.body !== undefined) headers['content-length'] = String(c.body.body.length);
  let headBytes = `${c.method.name} ${target} HTTP/1.1\r\n`.length + 120;
  for (const [name, value] of Object.entries(headers)) {
    for (const line of Array.isArray(value) ? value : [String(value)])
      headBytes += name.length + line.length + 4;
  }
  return { method: c.method.name, target, headers, body: c.body.body, headBytes };
}

export interface Judgement {
  readonly verdict: Verdict;
  readonly allowed: readonly Outcome[];
  readonly parts: readonly Part[];
  /** For an expected token: whose. */
  readonly expect?: {
    readonly userId?: string;
    readonly clientId: string;
    readonly refreshToken: boolean;
    readonly certainUser: boolean;
  };
  /** The request presented session R's live refresh token. */
  readonly usesRefresh: boolean;
}

function sizePart(headBytes: number): Part | undefined {
  if (headBytes > HEAD_LIMIT + 600) return defect(`head ${headBytes} B`, BAD.headersTooLarge, BAD.uriTooLong);
  if (headBytes > HEAD_LIMIT - 2_500)
    return maybe(`head ${headBytes} B`, BAD.headersTooLarge, BAD.uriTooLong);
  return undefined;
}

/** The Renew Token rules (http-api.md §1, README "Ways in" and "Errors"), applied to decoded parameters. */
function judgeRenewParameters(
  c: HostileCase,
  world: World,
  currentRefresh: string,
): { parts: Part[]; expect?: Judgement['expect']; usesRefresh: boolean } {
  const parts: Part[] = [];
  const byKey = new Map<KnownKey, NonNullable<QueryEntry['known']>[]>();
  for (const entry of c.query) {
    if (!entry.known) continue;
    const value = entry.known.value === CURRENT_REFRESH ? currentRefresh : entry.known.value;
    byKey.set(entry.known.key, [...(byKey.get(entry.known.key) ?? []), { ...entry.known, value }]);
  }
  const single = (key: KnownKey): { value: string; certain: boolean } | undefined => {
    const values = byKey.get(key);
    return values && values.length === 1 ? values[0] : undefined;
  };
  let syntaxOk = true;
  for (const [key, values] of byKey) {
    if (values.length > 1) {
      parts.push(defect(`${key} repeated`, BAD.invalid));
      syntaxOk = false;
      continue;
    }
    const { value, certain } = values[0]!;
    if (value.length === 0) {
      parts.push(defect(`${key} empty`, BAD.invalid));
      syntaxOk = false;
    } else if (value.length > MAX_LENGTH[key]) {
      parts.push(defect(`${key} over-long`, BAD.invalid));
      syntaxOk = false;
    } else if (!certain) {
      parts.push(maybe(`${key} with a broken escape`, BAD.invalid, BAD.badRequest));
    } else if (ID_KEYS.has(key) && !isContractId(value)) {
      // Ids over HTTP follow the contract's rule for ids in events.
      parts.push(defect(`${key} is not an id`, BAD.invalid));
      syntaxOk = false;
    } else if (key === 'token' && !/^[\x21-\x7e]+$/.test(value)) {
      parts.push(defect('token with characters no token has', BAD.invalid));
      syntaxOk = false;
    }
  }
  const remember = single('remember-me');
  if (!byKey.has('remember-me')) {
    parts.push(defect('remember-me missing', BAD.missing));
    syntaxOk = false;
  } else if (
    remember &&
    remember.value.length > 0 &&
    remember.value !== 'true' &&
    remember.value !== 'false'
  ) {
    if (['true', 'false'].includes(remember.value.toLowerCase())) {
      parts.push(maybe(`remember-me=${remember.value}`, BAD.invalid));
    } else {
      parts.push(defect(`remember-me=${JSON.stringify(remember.value).slice(0, 20)}`, BAD.invalid));
      syntaxOk = false;
    }
  }
  const rememberMe = remember?.value.toLowerCase() === 'true';

  const caller = c.caller.kind === 'valid' ? world.callers[c.caller.name].identity : undefined;
  const token = single('token');
  const userId = single('userId');
  const clientId = single('clientId');
  const business = single('businessId');
  const usesRefresh = token?.value === currentRefresh;
  if (business) parts.push(defect('businessId of a business the user is not in', BAD.notMember, BAD.invalid));
  if (!syntaxOk || !caller) return { parts, usesRefresh };

  if (!byKey.has('token')) {
    if (!userId || !clientId) {
      parts.push(defect('userId or clientId missing', BAD.missing));
      return { parts, usesRefresh };
    }
    if (caller.userId !== undefined)
      parts.push(defect("a user's token starts a session", BAD.applicationToken));
    else if (clientId.value !== caller.clientId) parts.push(defect('another client', BAD.notTheClient));
    return {
      parts,
      usesRefresh,
      expect: {
        userId: userId.value,
        clientId: caller.clientId,
        refreshToken: rememberMe,
        certainUser: userId.certain,
      },
    };
  }
  if (!token) return { parts, usesRefresh };
  const info = world.tokenInfo(token.value);
  if (info.kind === 'refused') {
    parts.push(defect(info.why, ...info.outcomes));
    return { parts, usesRefresh };
  }
  const { session } = info;
  if (session.clientId !== caller.clientId)
    parts.push(defect('caller is not the token client', BAD.notTheClient));
  else if (caller.userId !== undefined && caller.userId !== session.userId) {
    parts.push(defect("a user's token renews another user", BAD.notTheClient));
  }
  if (userId && userId.value !== session.userId)
    parts.push(defect('userId contradicts the token', BAD.conflicting));
  if (clientId && clientId.value !== session.clientId)
    parts.push(defect('clientId contradicts the token', BAD.conflicting));
  if (info.kind === 'revoked') parts.push(defect('revoked session', BAD.revoked));
  return {
    parts,
    usesRefresh,
    expect: {
      userId: session.userId,
      clientId: session.clientId,
      refreshToken: rememberMe,
      certainUser: true,
    },
  };
}

export function judge(c: HostileCase, world: World, built: BuiltRequest, currentRefresh: string): Judgement {
  const parts: Part[] = [c.method.part, c.path.part, c.body.part, c.caller.part];
  for (const entry of c.query) if (entry.noise) parts.push(entry.noise);
  const size = sizePart(built.headBytes);
  if (size) parts.push(size);
  let expect: Judgement['expect'];
  let usesRefresh = false;
  if (c.endpoint === 'renew') {
    const renew = judgeRenewParameters(c, world, currentRefresh);
    parts.push(...renew.parts);
    expect = renew.expect;
    usesRefresh = renew.usesRefresh;
  } else {
    expect = { clientId: world.clientA.id, refreshToken: false, certainUser: true };
  }
  const defects = parts.filter((part) => part.verdict === 'defect');
  const maybes = parts.filter((part) => part.verdict === 'maybe');
  const refusals = [...defects, ...maybes].flatMap((part) => part.outcomes);
  if (defects.length > 0) return { verdict: 'defect', allowed: refusals, parts, usesRefresh };
  if (maybes.length > 0)
    return { verdict: 'maybe', allowed: [{ status: 200 }, ...refusals], parts, expect, usesRefresh };
  return { verdict: 'ok', allowed: [{ status: 200 }], parts, expect, usesRefresh };
}

export function describeCase(c: HostileCase, built: BuiltRequest, judgement: Judgement): string {
  const clip = (text: string, max = 300) =>
    text.length > max ? `${text.slice(0, max)}…(${text.length})` : text;
  return [
    `${built.method} ${clip(built.target)}`,
    `authorization: ${clip(JSON.stringify(c.authorization), 200)}`,
    `content-type: ${c.body.contentType ?? '-'}, body ${c.body.body?.length ?? 0} B`,
    `verdict ${judgement.verdict}: ${
      judgement.parts
        .filter((p) => p.verdict !== 'ok')
        .map((p) => `${p.verdict} ${p.label}`)
        .join('; ') || 'all parts ok'
    }`,
  ].join('\n    ');
}
