import type { INestApplicationContext } from '@nestjs/common';
import { inputTopics, readTopicRange, type InputChannelName } from '@iam/messaging';
import { RolledBackSql, decodeHeaders, type Sql } from '@iam/persistence';
import {
  InboundRecordProcessor,
  type RecordOutcome,
} from '../../../token-renewal/src/role-events/inbound-record.processor';
import { SQL } from '../../../token-renewal/src/infrastructure/tokens';
import { print } from '../cli-context';
import { ExitCode, UsageError, type Command } from '../command';
import { parseOptions, requireOption } from './options';
import { withServiceContext } from './service-context';

interface WouldPublish {
  readonly topic: string;
  readonly type: string;
  readonly sessionId?: string;
  readonly userId?: string;
  readonly added?: string[];
  readonly removed?: string[];
  readonly reason?: string;
  readonly claimsVersion?: number;
  readonly cause?: unknown;
  readonly deadLetterReason?: string;
}

/** Date and time with its offset: without one, JavaScript reads the host's local time. */
const RFC_3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function instant(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (!RFC_3339.test(value) || Number.isNaN(at.getTime())) {
    throw new UsageError(
      `--${name} must be an RFC 3339 time with its offset, e.g. 2026-11-28T10:00:00Z or 2026-11-28T11:00:00+01:00`,
    );
  }
  return at;
}

/**
 * The outbox rows the dry run wrote, as they would be published: those of its
 * own transaction (`xmin`), not the live service's committed meanwhile.
 */
async function outboxWrittenAfter(sql: Sql, baseline: string): Promise<WouldPublish[]> {
  const rows = await sql.query<{ topic: string; value: Buffer | null; headers: unknown }>(
    'replay-outbox-after',
    'SELECT topic, value, headers FROM outbox WHERE id > $1 AND xmin = pg_current_xact_id()::xid ORDER BY id',
    [baseline],
  );
  return rows.map((row) => {
    if (row.value === null)
      return { topic: row.topic, type: 'dead-letter', deadLetterReason: 'empty-record' };
    const deadLetterReason = decodeHeaders(row.headers)
      .find(([name]) => name === 'dlq-reason')?.[1]
      .toString();
    if (deadLetterReason !== undefined || row.value === null) {
      return { topic: row.topic, type: 'dead-letter', deadLetterReason: deadLetterReason ?? 'unknown' };
    }
    const event = JSON.parse(row.value.toString('utf8')) as {
      type: string;
      data: Omit<WouldPublish, 'topic' | 'type'>;
    };
    // Only what describes the change: never the token minted inside the rolled-back transaction.
    const { sessionId, userId, added, removed, reason, claimsVersion, cause } = event.data;
    return {
      topic: row.topic,
      type: event.type,
      sessionId,
      userId,
      added,
      removed,
      reason,
      claimsVersion,
      cause,
    };
  });
}

function describe(update: WouldPublish): string {
  if (update.type === 'dead-letter')
    return `would dead-letter to ${update.topic}: ${update.deadLetterReason}`;
  const cause = JSON.stringify(update.cause);
  if (update.type === 'iam.session.revoked') {
    return `would revoke session ${update.sessionId} of user ${update.userId}: ${update.reason} (cause ${cause})`;
  }
  const changes = [
    ...(update.added ?? []).map((a) => `+${a}`),
    ...(update.removed ?? []).map((r) => `-${r}`),
  ];
  return (
    `would renew session ${update.sessionId} of user ${update.userId}: ${changes.join(' ') || '(no change)'} ` +
    `(claimsVersion ${update.claimsVersion}, cause ${cause})`
  );
}

function summarize(outcomes: readonly RecordOutcome[]) {
  const summary = {
    records: outcomes.length,
    applied: 0,
    duplicate: 0,
    noEffect: 0,
    deadLettered: 0,
    renewed: 0,
    revoked: 0,
  };
  for (const outcome of outcomes) {
    if (outcome.kind === 'dead-lettered') summary.deadLettered += 1;
    else {
      if (outcome.applied === 'fan-out') summary.applied += 1;
      else if (outcome.applied === 'duplicate') summary.duplicate += 1;
      else summary.noEffect += 1;
      summary.renewed += outcome.reissued;
      summary.revoked += outcome.revoked;
    }
  }
  return summary;
}

export const replay: Command = {
  name: 'replay',
  summary: "Re-process a time range of an input topic through the live consumer's code path",
  help: `Usage: npm run cli -- replay --topic <input topic> --from <RFC 3339 time> [--to <time>] [--dry-run] [--json]

Reads the records of the range (each partition in order; a throw-away consumer
group, so the service's committed offsets are untouched) and processes each one
exactly as the live consumer does: validation, dead-lettering, last-writer-wins
application, re-issue of the affected sessions. Events already processed change
nothing and publish nothing, so a replay is safe to repeat; events whose records
housekeeping has deleted (PROCESSED_EVENT_RETENTION) are applied again, and
last-writer-wins leaves the facts as they are (README, Operator runbook). Updates
are written to the outbox and published by the running service.

--dry-run runs the same code in one database transaction that is rolled back:
nothing changes, and it prints every session update (authorities added and
removed) and dead letter the replay would publish, then a summary.

Options:
  --topic <name>   one of the service's input topics (KAFKA_TOPIC_ROLE_CHANGES, KAFKA_TOPIC_BUSINESS_CHANGES)
  --from <time>    first record at or after this instant
  --to <time>      stop before this instant (default: the end of the topic now)
  --dry-run        change nothing; print what would be published
  --json           print JSON instead of text

Exit codes: 0 done, 1 failed, 2 usage error, 3 done but some records were dead-lettered.`,
  async run(args, context) {
    const options = parseOptions(args, {
      topic: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const topic = requireOption(options.topic, 'topic');
    const channel = (Object.entries(inputTopics(context.config)) as Array<[InputChannelName, string]>).find(
      ([, name]) => name === topic,
    )?.[0];
    if (!channel) throw new UsageError(`${topic} is not one of the service's input topics`);
    const from = instant(requireOption(options.from, 'from'), 'from');
    const to = instant(options.to, 'to');
    if (from && to && to.getTime() <= from.getTime()) {
      throw new UsageError('--to must be later than --from: the range would hold no record');
    }
    const dryRun = options['dry-run'] === true;

    return withServiceContext(context, { dryRun }, async (app: INestApplicationContext) => {
      const processor = app.get(InboundRecordProcessor);
      const sql = app.get<Sql>(SQL);
      const [baseline] = await sql.query<{ max: string }>(
        'replay-outbox-baseline',
        'SELECT COALESCE(max(id), 0) AS max FROM outbox',
      );
      const outcomes: RecordOutcome[] = [];
      let lastReport = 0;
      try {
        await readTopicRange(
          context.kafka,
          { topic, ...(from ? { from } : {}), ...(to ? { to } : {}) },
          context.config.kafka.groupId,
          async (record) => {
            outcomes.push(await processor.process(channel, record, async () => undefined));
          },
          ({ read, total }) => {
            if (read === total || Date.now() - lastReport > 1_000) {
              lastReport = Date.now();
              process.stderr.write(`replay: ${read}/${total} records\n`);
            }
          },
        );
        const summary = summarize(outcomes);
        const wouldPublish = dryRun ? await outboxWrittenAfter(sql, baseline?.max ?? '0') : undefined;
        if (options.json) {
          print(JSON.stringify({ dryRun, summary, ...(wouldPublish ? { wouldPublish } : {}) }, null, 2));
        } else {
          for (const update of wouldPublish ?? []) print(describe(update));
          print(
            `${dryRun ? 'dry run: ' : ''}${summary.records} records: ${summary.applied} applied, ` +
              `${summary.duplicate} already processed, ${summary.noEffect} without effect, ` +
              `${summary.deadLettered} dead-lettered; ${summary.renewed} sessions renewed, ${summary.revoked} revoked` +
              (dryRun ? ' (nothing was changed)' : ''),
          );
        }
        return summary.deadLettered > 0 ? ExitCode.Attention : ExitCode.Ok;
      } finally {
        if (sql instanceof RolledBackSql) await sql.rollback();
      }
    });
  },
};
