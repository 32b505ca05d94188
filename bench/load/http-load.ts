/**
 * The HTTP load generator, run as its own process (so its CPU is not the
 * service's). Each virtual user renews its own session with its latest access
 * token, one request at a time; connections are kept alive.
 *
 * Closed loop (`rate` 0): every connection sends as soon as its last answer
 * came — the sustainable maximum. Open loop (`rate` > 0): requests are due at
 * a fixed rate and latency counts from when a request was due, so a slow
 * service cannot hide its queueing (no coordinated omission).
 *
 * Input: a JSON LoadPlan on stdin. Output: one JSON LoadResult line on stdout.
 */
import { Http1Connection, requestBytes, type Http1Response } from './http1-connection';
import { summarize, type LatencySummary } from '../support/stats';

export interface LoadPlan {
  readonly baseUrl: string;
  readonly callerToken: string;
  /** The latest access token of each virtual user's session. */
  readonly userTokens: string[];
  readonly connections: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Requests per second offered; 0 for a closed loop. */
  readonly rate: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly ok: number;
  readonly errors: Record<string, number>;
  readonly throughput: number;
  readonly latency: LatencySummary;
  readonly durationMs: number;
}

const PATH = '/security/iam/v1/user-identities/renew-token';

/**
 * Connections free to send, taken in turn (first in, first out) so that none
 * sits idle long enough for the server's keep-alive timeout to close it under
 * a request; a request finding none waits in line, as with Node's agent.
 */
class ConnectionPool {
  private readonly free: Http1Connection[];
  private readonly queue: Array<(connection: Http1Connection) => void> = [];

  constructor(url: URL, size: number) {
    if (url.protocol !== 'http:')
      throw new Error(`the load generator speaks plain HTTP, not ${url.protocol}`);
    const port = Number(url.port || 80);
    this.free = Array.from({ length: size }, () => new Http1Connection(url.hostname, port));
  }

  async send(request: Buffer): Promise<Http1Response> {
    const connection = this.free.shift() ?? (await new Promise<Http1Connection>((r) => this.queue.push(r)));
    try {
      return await connection.send(request);
    } finally {
      const next = this.queue.shift();
      if (next) next(connection);
      else this.free.push(connection);
    }
  }

  close(): void {
    for (const connection of this.free) connection.close();
  }
}

async function main(): Promise<void> {
  const plan = JSON.parse(await readStdin()) as LoadPlan;
  const url = new URL(plan.baseUrl);
  const pool = new ConnectionPool(url, plan.connections);
  const headers = { Authorization: `Bearer ${plan.callerToken}` };
  const idle = plan.userTokens.map((_, index) => index);
  const tokens = [...plan.userTokens];
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const countError = (reason: string) => (errors[reason] = (errors[reason] ?? 0) + 1);
  let ok = 0;
  let measuring = false;

  const renew = async (user: number, dueAt: number): Promise<void> => {
    const target = `${PATH}?token=${encodeURIComponent(tokens[user]!)}&remember-me=false`;
    try {
      const response = await pool.send(requestBytes('POST', target, url.host, headers));
      const elapsed = performance.now() - dueAt;
      if (response.status === 200) {
        tokens[user] = (JSON.parse(response.body.toString()) as { accessToken: string }).accessToken;
        // Throughput counts answers within the window; latency counts every request sent in it.
        if (measuring && performance.now() <= ends) ok += 1;
      } else if (measuring) {
        countError(String(response.status));
      }
      if (measuring) latencies.push(elapsed);
    } catch (error) {
      if (measuring) countError((error as Error).message);
    } finally {
      idle.push(user);
    }
  };

  const started = performance.now();
  const warmupEnds = started + plan.warmupMs;
  const ends = warmupEnds + plan.durationMs;
  setTimeout(() => (measuring = true), plan.warmupMs);

  if (plan.rate === 0) {
    await Promise.all(
      Array.from({ length: plan.connections }, async () => {
        while (performance.now() < ends) {
          const user = idle.shift();
          if (user === undefined) {
            await new Promise((r) => setImmediate(r));
            continue;
          }
          await renew(user, performance.now());
        }
      }),
    );
  } else {
    const interval = 1_000 / plan.rate;
    const pending: Promise<void>[] = [];
    let due = started;
    while (due < ends) {
      const now = performance.now();
      while (due <= now && due < ends) {
        const user = idle.shift();
        if (user === undefined) break; // every user busy: the request waits for one, its latency still counts from `due`
        pending.push(renew(user, due));
        due += interval;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(pending);
  }
  pool.close();

  const result: LoadResult = {
    requests: ok + Object.values(errors).reduce((a, b) => a + b, 0),
    ok,
    errors,
    throughput: ok / (plan.durationMs / 1_000),
    latency: summarize(latencies),
    durationMs: plan.durationMs,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function readStdin(): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.on('data', (chunk: Buffer) => (text += chunk.toString()));
    process.stdin.on('end', () => resolve(text));
  });
}

void main();
