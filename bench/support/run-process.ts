import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

/** Runs a TypeScript load generator in its own Node process; resolves with its JSON result line. */
export function runLoadProcess<TPlan, TResult>(
  script: string,
  plan: TPlan,
): Promise<{ result: TResult; pid: number }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, script)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = output.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line) return reject(new Error(`${script} exited with ${code}`));
      resolvePromise({ result: JSON.parse(line) as TResult, pid: child.pid ?? 0 });
    });
    child.stdin.end(JSON.stringify(plan));
  });
}
