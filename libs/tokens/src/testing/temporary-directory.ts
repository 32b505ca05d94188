import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Temporary directories for one test file, removed by `cleanup()`. */
export class TemporaryDirectories {
  private readonly created: string[] = [];

  create(prefix = 'iam-tokens-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.created.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const dir of this.created.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
