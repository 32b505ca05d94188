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
import { Agent, request } from 'node:http';
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

async function main(): Promise<void> {
  const plan = JSON.parse(await readStdin()) as LoadPlan;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: plan.connections,
    maxFreeSockets: plan.connections,
  });
  const idle = plan.userTokens.map((_, index) => index);
  const tokens = [...plan.userTokens];
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let ok = 0;
  let measuring = false;

  const renew = (user: number, dueAt: number) =>
    new Promise<void>((resolve) => {
      const query = `token=${encodeURIComponent(tokens[user]!)}&remember-me=false`;
      const req = request(
        `${plan.baseUrl}${PATH}?${query}`,
        { method: 'POST', agent, headers: { authorization: `Bearer ${plan.callerToken}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const elapsed = performance.now() - dueAt;
            if (res.statusCode === 200) {
              tokens[user] = (
                JSON.parse(Buffer.concat(chunks).toString()) as { accessToken: string }
              ).accessToken;
              // Throughput counts answers within the window; latency counts every request sent in it.
              if (measuring && performance.now() <= ends) ok += 1;
            } else if (measuring) {
              errors[String(res.statusCode)] = (errors[String(res.statusCode)] ?? 0) + 1;
            }
            if (measuring) latencies.push(elapsed);
            idle.push(user);
            resolve();
          });
        },
      );
      req.on('error', (error) => {
        if (measuring) errors[error.message] = (errors[error.message] ?? 0) + 1;
        idle.push(user);
        resolve();
      });
      req.end();
    });

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
  agent.destroy();

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
