import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Peak and current resident memory of a process, from /proc (Linux). */
export function memoryOf(pid: number): { peakRssMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

const TICKS_PER_SECOND = 100;

/** A process's name and the fields after it in /proc/<pid>/stat (field 14, utime, is index 11). */
function statOf(pid: number): { readonly comm: string; readonly fields: string[] } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = stat.lastIndexOf(')');
  return { comm: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
}

/** CPU seconds a process has used (user + system). */
export function cpuSecondsOf(pid: number): number {
  const { fields } = statOf(pid);
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export const coreCount = (): number => cpus().length;

/**
 * Node's options for the service under test, from BENCH_SERVICE_NODE_ARGS
 * (`--cpu-prof --cpu-prof-dir=/tmp/prof` profiles it during a benchmark).
 */
export function serviceNodeArgs(): string[] {
  return (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter((arg) => arg.length > 0);
}

/**
 * Extra environment for the service under test, from BENCH_SERVICE_ENV
 * (`MALLOC_ARENA_MAX=4 LOG_LEVEL=warn`): to measure a setting against the defaults.
 */
export function serviceEnv(): Record<string, string> {
  const pairs = (process.env.BENCH_SERVICE_ENV ?? '').split(' ').filter((pair) => pair.includes('='));
  return Object.fromEntries(
    pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

/**
 * Where the machine's CPU went during a measurement, in cores. Roughly sums to
 * the core count: interrupt time is in no group, and a process that exits
 * inside the window loses its ticks (except this process's reaped children).
 */
export interface CpuSplit {
  readonly service: number;
  readonly postgres: number;
  readonly broker: number;
  /** This benchmark process and the load processes it ran (reaped children included). */
  readonly loadGenerator: number;
  readonly other: number;
  readonly idle: number;
  /** Time the hypervisor gave to other guests: this machine is shared. */
  readonly steal: number;
  /** The service's event loop: time it ran on a core, and time it was ready but queued for one. */
  readonly eventLoop: { readonly ran: number; readonly queued: number };
}

/**
 * The scheduler's account of a process's main thread (/proc/<pid>/task/<pid>/schedstat):
 * nanoseconds on a core and nanoseconds runnable but waiting for one. A main thread that
 * waits about as long as it runs is starved by the machine, not limited by its own work.
 */
function mainThreadSchedule(pid: number): { ranNs: number; queuedNs: number } {
  try {
    const [ran, queued] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ');
    return { ranNs: Number(ran), queuedNs: Number(queued) };
  } catch {
    return { ranNs: 0, queuedNs: 0 };
  }
}

interface MachineSnapshot {
  readonly at: number;
  /** /proc/stat's aggregate line: user nice system idle iowait irq softirq steal. */
  readonly machine: readonly number[];
  /** CPU ticks of every process, with how it is classified. */
  readonly processes: ReadonlyMap<number, { readonly group: ProcessGroup; readonly ticks: number }>;
  readonly eventLoop: { readonly ranNs: number; readonly queuedNs: number };
}

type ProcessGroup = Exclude<keyof CpuSplit, 'eventLoop'>;

function classify(pid: number, comm: string, servicePid: number): ProcessGroup {
  if (pid === servicePid) return 'service';
  if (pid === process.pid) return 'loadGenerator';
  if (comm === 'postgres') return 'postgres';
  if (comm === 'java') {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (commandLine.includes('kafka.Kafka')) return 'broker';
  }
  return 'other';
}

function snapshot(servicePid: number): MachineSnapshot {
  const machine = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const processes = new Map<number, { group: ProcessGroup; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const { comm, fields } = statOf(pid);
      // utime + stime, plus reaped children's for this process (the load processes it ran).
      const own = Number(fields[11]) + Number(fields[12]);
      const children = pid === process.pid ? Number(fields[13]) + Number(fields[14]) : 0;
      processes.set(pid, { group: classify(pid, comm, servicePid), ticks: own + children });
    } catch {
      // The process ended between listing and reading.
    }
  }
  return { at: performance.now(), machine, processes, eventLoop: mainThreadSchedule(servicePid) };
}

/**
 * Samples every process's CPU time, then the split since: the benchmarks
 * print it so a reader can see which process a target is waiting on.
 */
export class CpuSplitSampler {
  private constructor(
    private readonly servicePid: number,
    private readonly start: MachineSnapshot,
  ) {}

  static start(servicePid: number): CpuSplitSampler {
    return new CpuSplitSampler(servicePid, snapshot(servicePid));
  }

  stop(): CpuSplit {
    const end = snapshot(this.servicePid);
    const seconds = (end.at - this.start.at) / 1_000;
    const cores = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
    const split: Record<ProcessGroup, number> = {
      service: 0,
      postgres: 0,
      broker: 0,
      loadGenerator: 0,
      other: 0,
      idle: 0,
      steal: 0,
    };
    for (const [pid, { group, ticks }] of end.processes) {
      // A process that started during the window counts from zero.
      split[group] += cores(ticks - (this.start.processes.get(pid)?.ticks ?? 0));
    }
    const delta = (index: number) => (end.machine[index] ?? 0) - (this.start.machine[index] ?? 0);
    split.idle = cores(delta(3) + delta(4));
    split.steal = cores(delta(7));
    // A service that exited before the end reads as zero: count nothing rather than a negative.
    const nsAsCores = (ns: number) => Math.max(0, ns) / 1e9 / seconds;
    const eventLoop = {
      ran: nsAsCores(end.eventLoop.ranNs - this.start.eventLoop.ranNs),
      queued: nsAsCores(end.eventLoop.queuedNs - this.start.eventLoop.queuedNs),
    };
    return { ...split, eventLoop };
  }
}

/** `service 1.01, PostgreSQL 0.45, …` in cores, then the service's event loop. */
export function describeCpuSplit(split: CpuSplit): string {
  const parts: Array<[string, number]> = [
    ['service', split.service],
    ['PostgreSQL', split.postgres],
    ['broker', split.broker],
    ['load generator', split.loadGenerator],
    ['other', split.other],
    ['idle', split.idle],
    ['steal', split.steal],
  ];
  const cores = parts.map(([name, value]) => `${name} ${value.toFixed(2)}`).join(', ');
  const { ran, queued } = split.eventLoop;
  return `${cores} cores; service event loop on a core ${ran.toFixed(2)}, queued for one ${queued.toFixed(2)}`;
}
