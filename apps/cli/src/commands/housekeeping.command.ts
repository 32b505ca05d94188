import { PgHousekeeping } from '@iam/persistence';
import { print, table } from '../cli-context';
import { ExitCode, type Command } from '../command';
import { parseOptions } from './options';

export const housekeepingRun: Command = {
  name: 'housekeeping run',
  summary: 'Delete processed-event records and ended sessions past their retention, now',
  help: `Usage: npm run cli -- housekeeping run [--json]

Does once, at once, what every instance does every HOUSEKEEPING_INTERVAL:
deletes the records of completed events processed more than
PROCESSED_EVENT_RETENTION ago, and sessions (with their refresh-token hashes)
more than ENDED_SESSION_RETENTION past their absolute expiry, a batch at a
time. Safe beside running instances. Prints the rows deleted per table.`,
  async run(args, context) {
    const options = parseOptions(args, { json: { type: 'boolean' } });
    const { sql } = await context.database();
    const pruned = await new PgHousekeeping(sql, context.config.housekeeping).prune(new Date());
    print(options.json ? JSON.stringify(pruned) : table([pruned]));
    return ExitCode.Ok;
  },
};
