import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';

export const RESULTS_DIR = resolve(__dirname, '..', 'results');
const RESULTS_FILE = join(RESULTS_DIR, 'faults.json');

/** The figures of one fault, as they go into the README's Guarantees section. */
export interface FaultFigures {
  readonly key: string;
  readonly fault: string;
  readonly passed: boolean;
  readonly events: number;
  readonly users: number;
  readonly sessions: number;
  /** Updates on the topic after the stream (one per session start, one per event), before the final HTTP renewals. */
  readonly updatesExpected: number;
  readonly updatesPublished: number;
  readonly duplicates: number;
  readonly missing: number;
  readonly outOfOrder: number;
  readonly wrongAuthorities: number;
  readonly eventsNotExactlyOnce: number;
  readonly wrongFinalTokens: number;
  readonly wrongHttpRenewals: number;
  readonly processedEvents: number;
  readonly completedEvents: number;
  readonly outboxLeft: number;
  /** Events published but not yet completed, and outbox rows not yet relayed, when the fault struck. */
  readonly inFlightAtFault: number;
  readonly outboxAtFault: number;
  /** Redelivered records the service recognised as already applied (from its logs). */
  readonly redeliveriesRecognised: number;
  /** Fault → dependency or instance back; fault → processing resumed; fault → everything published. */
  readonly outageMs: number;
  readonly recoverMs: number | null;
  readonly catchUpMs: number | null;
  readonly durationMs: number;
  readonly details: Record<string, unknown>;
  readonly problems: readonly string[];
}

interface ResultsFile {
  generatedAt: string;
  machine: { cpus: number; loadAverage1m: number; node: string };
  faults: FaultFigures[];
}

/** Adds (or replaces) one fault's figures in test/resilience/results/faults.json. */
export function recordFigures(figures: FaultFigures, order: readonly string[]): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  let previous: FaultFigures[] = [];
  if (existsSync(RESULTS_FILE)) {
    try {
      previous = (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as ResultsFile).faults ?? [];
    } catch {
      previous = [];
    }
  }
  const faults = [...previous.filter((entry) => entry.key !== figures.key), figures].sort(
    (a, b) => order.indexOf(a.key) - order.indexOf(b.key),
  );
  const file: ResultsFile = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, loadAverage1m: Number(loadavg()[0]!.toFixed(2)), node: process.version },
    faults,
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(file, null, 2)}\n`);
}

/** One line per fault, for the test output. */
export function summaryTable(figures: readonly FaultFigures[]): string {
  const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)}s`);
  const rows = figures.map((f) => ({
    fault: f.key,
    ok: f.passed ? 'yes' : 'NO',
    events: String(f.events),
    updates: `${f.updatesPublished}/${f.updatesExpected}`,
    inFlight: String(f.inFlightAtFault),
    outage: seconds(f.outageMs),
    recover: seconds(f.recoverMs),
    catchUp: seconds(f.catchUpMs),
    dup: String(f.duplicates),
    missing: String(f.missing),
    order: String(f.outOfOrder),
    wrongAuth: String(f.wrongAuthorities + f.wrongFinalTokens + f.wrongHttpRenewals),
    redelivered: String(f.redeliveriesRecognised),
    total: seconds(f.durationMs),
  }));
  if (rows.length === 0) return '(no fault ran)';
  const columns = Object.keys(rows[0]!) as (keyof (typeof rows)[number])[];
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  return [line(columns), ...rows.map((row) => line(columns.map((c) => row[c])))].join('\n');
}
