import 'reflect-metadata';
import { ConfigError } from '@iam/config';
import { CliContext, print } from './cli-context';
import { ExitCode, UsageError, type Command } from './command';
import { clientCreate, clientList } from './commands/client.commands';
import { dlqList, dlqRedrive } from './commands/dlq.commands';
import { housekeepingRun } from './commands/housekeeping.command';
import { keysList, keysRotate } from './commands/keys.commands';
import { replay } from './commands/replay.command';
import { initLocalRecipient } from './commands/session-updates.commands';
import { sessionsList, sessionsRevoke } from './commands/sessions.commands';
import { topicsEnsure } from './commands/topics.commands';

const COMMANDS: readonly Command[] = [
  clientCreate,
  clientList,
  keysList,
  keysRotate,
  replay,
  dlqList,
  dlqRedrive,
  sessionsList,
  sessionsRevoke,
  housekeepingRun,
  topicsEnsure,
  initLocalRecipient,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'Usage: npm run cli -- <command> [options]     (add --help to any command)',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Exit codes: 0 done, 1 failed, 2 usage error, 3 done but needs attention.',
  ].join('\n');
}

/** Finds the command whose words start the arguments ("client create --id x" → client create). */
function route(argv: string[]): { command: Command; args: string[] } | undefined {
  for (const command of COMMANDS) {
    const words = command.name.split(' ');
    if (words.every((word, index) => argv[index] === word))
      return { command, args: argv.slice(words.length) };
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const routed = route(argv);
  if (!routed) {
    print(usage());
    return argv.length === 0 || argv.includes('--help') ? ExitCode.Ok : ExitCode.Usage;
  }
  if (routed.args.includes('--help')) {
    print(routed.command.help);
    return ExitCode.Ok;
  }
  const context = new CliContext();
  try {
    return await routed.command.run(routed.args, context);
  } finally {
    await context.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n(see --help)\n`);
      process.exit(ExitCode.Usage);
    }
    process.stderr.write(
      `${error instanceof ConfigError ? error.message : `failed: ${(error as Error).message}`}\n`,
    );
    process.exit(ExitCode.Failure);
  },
);
