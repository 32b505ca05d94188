import { ensureTopics, topicPlan } from '@iam/messaging';
import { print } from '../cli-context';
import { ExitCode, type Command } from '../command';
import { parseOptions } from './options';

export const topicsEnsure: Command = {
  name: 'topics ensure',
  summary: 'Create the Kafka topics the service uses, if missing',
  help: `Usage: npm run cli -- topics ensure

Creates (idempotently) the input topics and their dead-letter topics, the
session-update topic and the outbox relay's progress topic, with the partition
count of KAFKA_TOPIC_PARTITIONS.`,
  async run(args, context) {
    parseOptions(args, {});
    const plan = topicPlan(context.config);
    const created = await ensureTopics(context.kafka, plan);
    for (const spec of plan) {
      print(
        `${created.includes(spec.topic) ? 'created ' : 'exists  '} ${spec.topic} (${spec.numPartitions} partitions)`,
      );
    }
    return ExitCode.Ok;
  },
};
