/** Fields that may carry tokens, secrets or credentials, wherever they appear in a log line. */
const SENSITIVE_KEYS = [
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'secret',
  'clientSecret',
  'client_secret',
  'password',
  'authorization',
  'cookie',
  'privateKey',
  'private_key',
] as const;

/** pino `redact` paths: the sensitive keys at the top level and two levels down. */
export const REDACTED_PATHS: readonly string[] = SENSITIVE_KEYS.flatMap((key) => [
  key,
  `*.${key}`,
  `*.*.${key}`,
  `req.headers.${key}`,
]);

export const REDACTED = '[REDACTED]';

const SENSITIVE_QUERY_PARAMETERS = new Set<string>(SENSITIVE_KEYS.map((key) => key.toLowerCase()));

/**
 * Removes the values of sensitive query parameters (`?token=…`) from a request URL
 * before it is logged. Parameter names are kept so the log still says what was sent.
 */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const path = url.slice(0, queryStart);
  const query = url
    .slice(queryStart + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const rawName = equals === -1 ? pair : pair.slice(0, equals);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the raw name.
      }
      return SENSITIVE_QUERY_PARAMETERS.has(name.toLowerCase()) && equals !== -1
        ? `${rawName}=${REDACTED}`
        : pair;
    })
    .join('&');
  return `${path}?${query}`;
}
