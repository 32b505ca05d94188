import { ensureTopics, topicPlan, undersizedTopics } from '@iam/messaging';
import { print } from '../cli-context';
import { ExitCode, type Command } from '../command';
import { parseOptions } from './options';

export const topicsEnsure: Command = {
  name: 'topics ensure',
  summary: 'Create the Kafka topics the service uses, if missing',
  help: `Usage: npm run cli -- topics ensure

Creates (idempotently) the input topics and their dead-letter topics, the
session-update topic and the outbox relay's progress topic, with the partition
count of KAFKA_TOPIC_PARTITIONS. A dead-letter topic is created with room for
any record of its input topic, or a relay batch (OUTBOX_BATCH_BYTES), plus the
headers a dead letter adds; one that exists with less, or one that cannot be
checked, is reported and the command exits 3.`,
  async run(args, context) {
    parseOptions(args, {});
    const plan = topicPlan(context.config);
    const created = await ensureTopics(context.kafka, plan);
    for (const spec of plan) {
      print(
        `${created.includes(spec.topic) ? 'created ' : 'exists  '} ${spec.topic} (${spec.numPartitions} partitions)`,
      );
    }
    let undersized;
    try {
      undersized = await undersizedTopics(context.kafka, plan);
    } catch (error) {
      print(`cannot check the dead-letter topics' room: ${(error as Error).message}`);
      return ExitCode.Attention;
    }
    for (const topic of undersized) {
      print(
        `too small ${topic.topic}: max.message.bytes ${topic.maxMessageBytes}, a dead letter of ${topic.source} may need ${topic.requiredBytes}`,
      );
    }
    return undersized.length === 0 ? ExitCode.Ok : ExitCode.Attention;
  },
};
