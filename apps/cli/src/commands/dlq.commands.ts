import { Partitioners } from 'kafkajs';
import { DeadLetterHeader, readTopicRange, type InboundRecord } from '@iam/messaging';
import { print, table } from '../cli-context';
import { ExitCode, UsageError, type Command } from '../command';
import { parseOptions, requireOption } from './options';

/** Header added to a redriven record: where in the dead-letter topic it came from. */
const REDRIVEN_FROM = 'dlq-redriven-from';

const header = (record: InboundRecord, name: string): string | undefined =>
  record.headers.find(([key]) => key === name)?.[1].toString('utf8');

async function readDeadLetters(
  context: Parameters<Command['run']>[1],
  topic: string,
): Promise<InboundRecord[]> {
  const records: InboundRecord[] = [];
  await readTopicRange(context.kafka, { topic }, context.config.kafka.groupId, async (record) => {
    records.push(record);
  });
  return records.sort(
    (a, b) => a.origin.partition - b.origin.partition || Number(a.origin.offset) - Number(b.origin.offset),
  );
}

function isDeadLetterTopic(context: Parameters<Command['run']>[1], topic: string): void {
  if (!topic.endsWith(context.config.kafka.dlqSuffix)) {
    throw new UsageError(
      `${topic} is not a dead-letter topic (names end in ${context.config.kafka.dlqSuffix})`,
    );
  }
}

export const dlqList: Command = {
  name: 'dlq list',
  summary: 'Show the dead letters of a topic, with why and where they came from',
  help: `Usage: npm run cli -- dlq list --topic <dead-letter topic> [--json]

Reads the whole dead-letter topic (without changing it) and lists every record:
its position, the reason and detail, the event id if it had one, and the origin
topic, partition and offset. Exit code 3 when there are dead letters.`,
  async run(args, context) {
    const options = parseOptions(args, { topic: { type: 'string' }, json: { type: 'boolean' } });
    const topic = requireOption(options.topic, 'topic');
    isDeadLetterTopic(context, topic);
    const records = await readDeadLetters(context, topic);
    const rows = records.map((record) => ({
      position: `${record.origin.partition}:${record.origin.offset}`,
      reason: header(record, DeadLetterHeader.Reason),
      eventId: header(record, DeadLetterHeader.EventId),
      origin: `${header(record, DeadLetterHeader.OriginTopic)}/${header(record, DeadLetterHeader.OriginPartition)}/${header(record, DeadLetterHeader.OriginOffset)}`,
      failedAt: header(record, DeadLetterHeader.FailedAt),
      detail: header(record, DeadLetterHeader.Detail),
    }));
    print(options.json ? JSON.stringify(rows, null, 2) : table(rows));
    if (!options.json) print(`${rows.length} dead letter(s) in ${topic}`);
    return rows.length > 0 ? ExitCode.Attention : ExitCode.Ok;
  },
};

export const dlqRedrive: Command = {
  name: 'dlq redrive',
  summary: 'Re-submit dead letters to their original topic after a fix',
  help: `Usage: npm run cli -- dlq redrive --topic <dead-letter topic> [--id <event id> ...]

Publishes dead letters again to the topic they came from: the original key,
value and headers (the dlq-* headers removed), plus ${REDRIVEN_FROM}. Without
--id, every dead letter is redriven; with it, only those with that event id
(repeat --id for several). A record that is still poison is dead-lettered again.
The dead-letter topic itself is not changed.`,
  async run(args, context) {
    const options = parseOptions(args, { topic: { type: 'string' }, id: { type: 'string', multiple: true } });
    const topic = requireOption(options.topic, 'topic');
    isDeadLetterTopic(context, topic);
    const wanted = new Set(options.id ?? []);
    const records = (await readDeadLetters(context, topic)).filter(
      (record) => wanted.size === 0 || wanted.has(header(record, DeadLetterHeader.EventId) ?? ''),
    );
    const missing = [...wanted].filter(
      (id) => !records.some((r) => header(r, DeadLetterHeader.EventId) === id),
    );
    const producer = context.kafka.producer({
      idempotent: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      for (const record of records) {
        const origin = header(record, DeadLetterHeader.OriginTopic);
        if (!origin) continue;
        const headers: Record<string, Buffer[]> = {};
        for (const [name, value] of record.headers) {
          if (!name.startsWith('dlq-')) (headers[name] ??= []).push(value);
        }
        headers[REDRIVEN_FROM] = [Buffer.from(`${topic}:${record.origin.partition}:${record.origin.offset}`)];
        await producer.send({ topic: origin, messages: [{ key: record.key, value: record.value, headers }] });
      }
    } finally {
      await producer.disconnect();
    }
    print(`redrove ${records.length} dead letter(s) from ${topic}`);
    if (missing.length > 0) {
      print(`no dead letter with event id: ${missing.join(', ')}`);
      return ExitCode.Attention;
    }
    return ExitCode.Ok;
  },
};
