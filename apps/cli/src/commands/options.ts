import { accessSync, constants, statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../command';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses a command's flags strictly: an unknown flag or a missing value is a usage error (exit 2). */
export function parseOptions<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean' } },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function requireOption(value: string | undefined, name: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value.trim();
}

export function listOption(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** A file the command will read: its absence is the operator's to fix (exit 2), not a failure. */
export function readableFile(path: string, name: string): void {
  try {
    accessSync(path, constants.R_OK);
    if (statSync(path).isFile()) return;
  } catch {
    // Reported below, as one message for every reason.
  }
  throw new UsageError(`--${name} ${path} is not a readable file`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function uuidOption(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!UUID.test(value.trim())) throw new UsageError(`--${name} must be a session id (a UUID)`);
  return value.trim();
}
