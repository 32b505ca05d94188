import { Client } from 'pg';
import { rsaSigningRatePerCore } from './rsa-ceiling';

/**
 * How fast this machine is right now, by three yardsticks measured in the same
 * run as the figures they go with. Its speed varies from hour to hour, and not
 * evenly: RSA signing has been at its fastest in an hour when PostgreSQL and
 * JavaScript were slow, so one rate alone does not tell a slow hour from a
 * slower build.
 */
export interface MachineSpeed {
  /** RS512 (RSA-2048) signatures a second on one core: each renewal makes one. */
  readonly rsaSigningPerCore: number;
  /** Rounds a second on one core of plain JavaScript shaped like a token's handling (see jsRound). */
  readonly jsRoundsPerCore: number;
  /** Sequential `SELECT 1` round trips a second on one connection: PostgreSQL, the socket and the scheduler. */
  readonly postgresRoundTripsPerS: number;
}

export async function measureMachineSpeed(databaseUrl: string): Promise<MachineSpeed> {
  return {
    rsaSigningPerCore: rsaSigningRatePerCore(),
    jsRoundsPerCore: jsRoundsPerCore(),
    postgresRoundTripsPerS: await postgresRoundTripsPerSecond(databaseUrl),
  };
}

export function describeMachineSpeed(speed: MachineSpeed): string {
  const rate = (value: number) => Math.round(value).toLocaleString('en-US');
  return (
    `RSA-2048 signing ${rate(speed.rsaSigningPerCore)}/s per core, ` +
    `JavaScript ${rate(speed.jsRoundsPerCore)} rounds/s per core, ` +
    `PostgreSQL ${rate(speed.postgresRoundTripsPerS)} round trips/s`
  );
}

const AUTHORITIES = Array.from({ length: 16 }, (_, index) => `ROLE_BENCH-AUTHORITY-${index}`);

/**
 * A token's claims written as a JWT segment and read back: JSON, base64url, a
 * sort and a shape check, the kind of work a renewal does around its signature.
 */
function jsRound(round: number): number {
  const claims = {
    jti: `bench-${round}`,
    sub: `user-${round % 256}`,
    authorities: [...AUTHORITIES].reverse().sort(),
    iat: 1_700_000_000 + round,
    exp: 1_700_000_900 + round,
  };
  const segment = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const read = JSON.parse(Buffer.from(segment, 'base64url').toString()) as typeof claims;
  return /^[A-Za-z0-9_-]+$/.test(segment) ? read.authorities.length : 0;
}

function jsRoundsPerCore(durationMs = 1_000): number {
  let checksum = 0;
  /** Rounds for `ms`, in hundreds so that reading the clock costs nothing. */
  const roundsFor = (ms: number) => {
    let rounds = 0;
    const started = performance.now();
    while (performance.now() - started < ms) {
      for (let batch = 0; batch < 100; batch += 1) checksum += jsRound(rounds + batch);
      rounds += 100;
    }
    return rounds;
  };
  // Long enough for V8 to have optimised jsRound: a count of rounds was not, on a busy machine.
  roundsFor(500);
  const rounds = roundsFor(durationMs);
  if (checksum === 0) throw new Error('the JavaScript yardstick did no work');
  return rounds / (durationMs / 1_000);
}

async function postgresRoundTripsPerSecond(databaseUrl: string, durationMs = 1_000): Promise<number> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (let warmup = 0; warmup < 200; warmup += 1) await client.query('SELECT 1');
    let roundTrips = 0;
    const started = performance.now();
    while (performance.now() - started < durationMs) {
      await client.query('SELECT 1');
      roundTrips += 1;
    }
    return roundTrips / ((performance.now() - started) / 1_000);
  } finally {
    await client.end();
  }
}
