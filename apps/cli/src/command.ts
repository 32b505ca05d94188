import type { CliContext } from './cli-context';

/** Exit codes scripts can rely on (README, "Operator runbook"). */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  /** The command ran and found something an operator must look at (e.g. dead letters left). */
  Attention: 3,
} as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Command {
  /** e.g. "client create" */
  readonly name: string;
  readonly summary: string;
  /** The full --help text: usage line, options, examples. */
  readonly help: string;
  run(args: string[], context: CliContext): Promise<number>;
}
