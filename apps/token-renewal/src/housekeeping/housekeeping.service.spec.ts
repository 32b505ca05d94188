import pino from 'pino';
import type { QueryResultRow } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '@iam/config';
import { ServiceMetrics } from '@iam/observability';
import type { Sql } from '@iam/persistence';
import { ManualClock } from '../../../../libs/tokens/src/testing/manual-clock';
import { HousekeepingService } from './housekeeping.service';

/** The database as housekeeping sees it: each statement answers with the next count (then `rest`), or fails. */
class ScriptedSql implements Sql {
  readonly statements: string[] = [];

  constructor(
    private readonly answers: (number | Error)[],
    private readonly rest = 0,
  ) {}

  async query<T extends QueryResultRow>(name: string | null): Promise<T[]> {
    this.statements.push(name ?? '(unnamed)');
    await settle(1);
    const answer = this.answers.shift() ?? this.rest;
    if (answer instanceof Error) throw answer;
    return [{ count: answer } as unknown as T];
  }

  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return work(this);
  }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done` holds (timers of a few ms may run late on a busy machine). */
async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await settle(10);
  }
}

describe('HousekeepingService: housekeeping on a timer, one run at a time', () => {
  let service: HousekeepingService | undefined;
  afterEach(async () => {
    await service?.beforeApplicationShutdown();
    service = undefined;
  });

  function start(sql: Sql, intervalMs: number) {
    const metrics = new ServiceMetrics({ defaultMetrics: false });
    const config = {
      housekeeping: {
        intervalMs,
        processedEventRetentionMs: 86_400_000,
        endedSessionRetentionMs: 86_400_000,
      },
    } as unknown as AppConfig;
    service = new HousekeepingService(
      config,
      sql,
      new ManualClock(new Date('2026-11-30T12:00:00.000Z')),
      metrics,
      pino({ level: 'silent' }),
    );
    service.onApplicationBootstrap();
    const deleted = async (table: string) =>
      (await metrics.housekeepingDeleted.get()).values.find((value) => value.labels.table === table)?.value;
    return { deleted };
  }

  it('runs every interval and counts what it deleted, per table', async () => {
    // First run: 3 processed events, then 2 sessions; the runs after it find nothing.
    const sql = new ScriptedSql([3, 2]);
    const { deleted } = start(sql, 20);
    await until(() => sql.statements.length >= 4);

    expect(await deleted('processed_events')).toBe(3);
    expect(await deleted('sessions')).toBe(2);
    expect(sql.statements.slice(0, 2)).toEqual([
      'housekeeping-processed-events',
      'housekeeping-ended-sessions',
    ]);
  });

  it('tries again at the next interval after a failed run (the database away)', async () => {
    const sql = new ScriptedSql([new Error('connection refused'), 5, 0]);
    const { deleted } = start(sql, 20);
    await until(() => sql.statements.length >= 4);

    expect(await deleted('processed_events')).toBe(5);
  });

  it('a shutdown stops a run through a long backlog between two batches', async () => {
    // Every batch comes back full: without the stop, this run would never end.
    const sql = new ScriptedSql([], 1_000);
    start(sql, 20);
    await until(() => sql.statements.length >= 3);

    await service!.beforeApplicationShutdown();
    const after = sql.statements.length;
    await settle(60);
    expect(sql.statements.length).toBe(after);
  });

  it('never runs with an interval of 0, and runs no more once shut down', async () => {
    const idle = new ScriptedSql([]);
    start(idle, 0);
    await settle(60);
    expect(idle.statements).toEqual([]);
    await service!.beforeApplicationShutdown();

    const stopped = new ScriptedSql([]);
    start(stopped, 20);
    await service!.beforeApplicationShutdown();
    await settle(60);
    expect(stopped.statements).toEqual([]);
  });
});
