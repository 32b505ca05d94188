import { Partitioners } from 'kafkajs';
import { deadLetterTopic } from '@iam/config';
import {
  headerMap,
  inputTopics,
  readDeadLetter,
  readTopicRange,
  type DeadLetterFacts,
  type InboundRecord,
} from '@iam/messaging';
import { deadLetterOriginKey, PgDeadLetterRedrives, type DeadLetterOrigin } from '@iam/persistence';
import { print, table, type CliContext } from '../cli-context';
import { ExitCode, UsageError, type Command } from '../command';
import { parseOptions, requireOption } from './options';

/** Header added to a redriven record: where in the dead-letter topic it came from. */
const REDRIVEN_FROM = 'dlq-redriven-from';

interface DeadLetter {
  readonly record: InboundRecord;
  readonly facts: DeadLetterFacts;
}

const positionOf = (letter: DeadLetter) => `${letter.record.origin.partition}:${letter.record.origin.offset}`;

const originsOf = (letters: readonly DeadLetter[]): DeadLetterOrigin[] =>
  letters.flatMap((letter) => (letter.facts.origin ? [letter.facts.origin] : []));

async function readDeadLetters(context: CliContext, topic: string): Promise<DeadLetter[]> {
  const records: InboundRecord[] = [];
  await readTopicRange(context.kafka, { topic }, context.config.kafka.groupId, async (record) => {
    records.push(record);
  });
  return records
    .sort(
      (a, b) => a.origin.partition - b.origin.partition || Number(a.origin.offset) - Number(b.origin.offset),
    )
    .map((record) => ({ record, facts: readDeadLetter(record) }));
}

/**
 * The input topic whose dead letters `topic` holds: a redrive goes there and
 * nowhere else, whatever a dead letter's headers say. Any other topic is a
 * usage error.
 */
function inputTopicOf(context: CliContext, topic: string): string {
  const inputs = Object.values(inputTopics(context.config));
  const input = inputs.find((name) => deadLetterTopic(context.config, name) === topic);
  if (input === undefined) {
    const names = inputs.map((name) => deadLetterTopic(context.config, name)).join(', ');
    throw new UsageError(`${topic} is not a dead-letter topic of the service's input topics (${names})`);
  }
  return input;
}

export const dlqList: Command = {
  name: 'dlq list',
  summary: 'Show the dead letters of a topic, with why and where they came from',
  help: `Usage: npm run cli -- dlq list --topic <dead-letter topic> [--json]

Reads the whole dead-letter topic (without changing it) and lists every record:
its position, the reason and detail, the event id if it had one, the origin
topic, partition and offset, and when dlq redrive re-submitted it. Exit code 3
when there are dead letters.`,
  async run(args, context) {
    const options = parseOptions(args, { topic: { type: 'string' }, json: { type: 'boolean' } });
    const topic = requireOption(options.topic, 'topic');
    inputTopicOf(context, topic);
    const letters = await readDeadLetters(context, topic);
    const { sql } = await context.database({ migrate: false });
    const redriven = await new PgDeadLetterRedrives(sql).redrivenAt(originsOf(letters));
    const rows = letters.map((letter) => {
      const { reason, eventId, origin, failedAt, detail } = letter.facts;
      const key = origin ? deadLetterOriginKey(origin) : undefined;
      return {
        position: positionOf(letter),
        reason,
        eventId,
        origin: key,
        failedAt,
        redrivenAt: key ? redriven.get(key) : undefined,
        detail,
      };
    });
    print(options.json ? JSON.stringify(rows, null, 2) : table(rows));
    if (!options.json) print(`${rows.length} dead letter(s) in ${topic}`);
    return rows.length > 0 ? ExitCode.Attention : ExitCode.Ok;
  },
};

export const dlqRedrive: Command = {
  name: 'dlq redrive',
  summary: 'Re-submit dead letters to their original topic after a fix',
  help: `Usage: npm run cli -- dlq redrive --topic <dead-letter topic> [--id <event id> ...]

Publishes dead letters again to the input topic the dead-letter topic belongs
to: the original key, value and headers (the dlq-* headers removed), plus
${REDRIVEN_FROM}. Without --id, every dead letter not redriven before is
redriven; with it, only those with that event id (repeat --id for several).
Each redrive is recorded, so running the command again re-submits only the
others; a record that is still poison comes back as a new dead letter, which
the next run re-submits. A dead letter that does not name a record of that
input topic is left alone and reported (exit code 3). The dead-letter topic
itself is not changed.`,
  async run(args, context) {
    const options = parseOptions(args, { topic: { type: 'string' }, id: { type: 'string', multiple: true } });
    const topic = requireOption(options.topic, 'topic');
    const inputTopic = inputTopicOf(context, topic);
    const wanted = new Set(options.id ?? []);
    const letters = (await readDeadLetters(context, topic)).filter(
      (letter) => wanted.size === 0 || wanted.has(letter.facts.eventId ?? ''),
    );
    const missing = [...wanted].filter((id) => !letters.some((letter) => letter.facts.eventId === id));
    const foreign = letters.filter((letter) => letter.facts.origin?.topic !== inputTopic);
    const own = letters.filter((letter) => letter.facts.origin?.topic === inputTopic);

    const { sql, pool } = await context.database({ migrate: false });
    const redrives = new PgDeadLetterRedrives(sql);
    const outcome = await PgDeadLetterRedrives.exclusively(pool, topic, async () => {
      const before = await redrives.redrivenAt(originsOf(own));
      // One record's dead letter may be in the topic twice (a relay batch sent again after a crash).
      const pending = new Map<string, DeadLetter>();
      for (const letter of own) {
        const key = deadLetterOriginKey(letter.facts.origin!);
        if (!before.has(key) && !pending.has(key)) pending.set(key, letter);
      }
      await redrive([...pending.values()], inputTopic, topic, context, redrives);
      return { redriven: pending.size, redrivenBefore: before.size };
    });
    if (outcome === undefined) {
      print(`another dlq redrive of ${topic} is running; nothing was redriven`);
      return ExitCode.Attention;
    }

    print(`redrove ${outcome.redriven} dead letter(s) from ${topic}`);
    if (outcome.redrivenBefore > 0) print(`${outcome.redrivenBefore} redriven before, not again`);
    for (const letter of foreign) {
      print(`left alone: ${positionOf(letter)} does not name a record of ${inputTopic}`);
    }
    if (missing.length > 0) print(`no dead letter with event id: ${missing.join(', ')}`);
    return missing.length > 0 || foreign.length > 0 ? ExitCode.Attention : ExitCode.Ok;
  },
};

/** Publishes each dead letter's record to its input topic, then records that it did. */
async function redrive(
  letters: readonly DeadLetter[],
  inputTopic: string,
  deadLetterTopicName: string,
  context: CliContext,
  redrives: PgDeadLetterRedrives,
): Promise<void> {
  const producer = context.kafka.producer({
    idempotent: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    for (const letter of letters) {
      await producer.send({ topic: inputTopic, messages: [redriveMessage(letter, deadLetterTopicName)] });
      await redrives.recordRedrive(
        letter.facts.origin!,
        { reason: letter.facts.reason ?? 'unknown', eventId: letter.facts.eventId },
        new Date(),
      );
    }
  } finally {
    await producer.disconnect();
  }
}

/** The record as it was before it was dead-lettered, and where its dead letter is. */
function redriveMessage({ record }: DeadLetter, deadLetterTopicName: string) {
  const headers = headerMap(record.headers.filter(([name]) => !name.startsWith('dlq-')));
  headers[REDRIVEN_FROM] = [
    Buffer.from(`${deadLetterTopicName}:${record.origin.partition}:${record.origin.offset}`),
  ];
  return { key: record.key, value: record.value, headers };
}
