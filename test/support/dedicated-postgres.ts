import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A PostgreSQL cluster of the test's own (initdb in a temporary directory, its
 * own port), so a fault test can stop and restart a database without touching
 * the machine's shared one. As root it runs as the `postgres` user.
 */
export class DedicatedPostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bin: string,
  ) {}

  static create(port: number): DedicatedPostgres {
    const bin = findBinaries();
    const dir = mkdtempSync(join(tmpdir(), 'iam-pg-'));
    const postgres = new DedicatedPostgres(port, dir, bin);
    if (process.getuid?.() === 0) chownSync(dir, uid('postgres'), gid('postgres'));
    postgres.run('initdb', [
      '-D',
      postgres.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    return postgres;
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  urlFor(database: string): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /**
   * Starts the cluster, trying up to three times while the failed attempt left no server behind:
   * a start on a busy CI machine has failed once within a second for a reason its log did not
   * reach us for. pg_ctl only says "examine the log output", so a final failure carries the
   * log's end. A server still starting (a timed-out wait) is not started over.
   */
  start(attempts = 3): void {
    for (let attempt = 1; ; attempt++) {
      try {
        this.runPgCtlStart();
        return;
      } catch (error) {
        if (attempt >= attempts || this.running()) {
          throw new Error(`${(error as Error).message}\n--- server.log (tail) ---\n${this.logTail()}`);
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000);
      }
    }
  }

  /** Whether a postmaster runs on the data directory (`pg_ctl status` exits 0). */
  private running(): boolean {
    try {
      this.run('pg_ctl', ['-D', this.dataDir, 'status']);
      return true;
    } catch {
      return false;
    }
  }

  private get logFile(): string {
    return join(this.dir, 'server.log');
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '(no server.log)';
    }
  }

  private runPgCtlStart(): void {
    this.run('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      this.logFile,
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** `fast`: a clean shutdown that disconnects clients; `immediate`: as in a crash (recovery on start). */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    this.run('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  destroy(): void {
    try {
      this.stop('immediate');
    } catch {
      // Already stopped.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(tool: string, args: string[]): void {
    const command = join(this.bin, tool);
    const asRoot = process.getuid?.() === 0;
    const result = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' })
      : spawnSync(command, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${tool} failed: ${result.stderr || result.stdout}`);
  }
}

function findBinaries(): string {
  const base = '/usr/lib/postgresql';
  const version = existsSync(base) ? readdirSync(base).sort().pop() : undefined;
  if (!version) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  return join(base, version, 'bin');
}

function idOf(flag: '-u' | '-g', name: string): number {
  const result = spawnSync('id', [flag, name], { encoding: 'utf8' });
  return Number(result.stdout.trim());
}
const uid = (name: string) => idOf('-u', name);
const gid = (name: string) => idOf('-g', name);
