import { Agent, request, type OutgoingHttpHeaders } from 'node:http';

/**
 * A deliberately low-level HTTP client for hostile input: node:http with the
 * request target passed through exactly as written, so malformed percent
 * escapes, repeated parameters and raw bytes reach the server unchanged
 * (fetch and URL normalise them). Duplicate header lines are sent by giving a
 * header an array of values.
 */

export interface RawRequest {
  readonly method: string;
  /** The request target exactly as it goes on the request line (path and query). */
  readonly target: string;
  readonly headers: OutgoingHttpHeaders;
  readonly body?: Buffer;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly text: string;
}

export function hostileAgent(sockets = 4): Agent {
  return new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}

/** Sends one request; resolves with the answer, rejects only on a transport failure. */
export function sendRaw(
  baseUrl: string,
  agent: Agent,
  raw: RawRequest,
  timeoutMs = 30_000,
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port: Number(port),
        method: raw.method,
        path: raw.target,
        headers: raw.headers,
        agent,
        // Our own parser must not stop a strange answer from reaching the assertions.
        insecureHTTPParser: true,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString('utf8'),
          });
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(raw.body);
  });
}

/**
 * Retries once on a connection the server closed while it sat idle in the pool
 * (keep-alive race; the request never reached the service). Anything else is
 * the caller's to judge.
 */
export async function sendRawOnce(
  baseUrl: string,
  agent: Agent,
  raw: RawRequest,
  timeoutMs?: number,
): Promise<RawResponse> {
  try {
    return await sendRaw(baseUrl, agent, raw, timeoutMs);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw error;
    return sendRaw(baseUrl, agent, raw, timeoutMs);
  }
}
