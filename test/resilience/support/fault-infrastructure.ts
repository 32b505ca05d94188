import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { createBroker, type Broker } from '../../../scripts/kafka.mjs';
import type { InboundCloudEvent } from '../../support/events';
import { toMessage } from '../../support/events';
import { uniqueName } from '../../support/environment';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A kafkajs client for tests (quiet, a few retries; callers that must outlast an outage retry themselves). */
export function kafkaClient(brokers: readonly string[]): Kafka {
  return new Kafka({
    clientId: uniqueName('iam-faults'),
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
}

/** A single-node broker of this test's own, on its own ports and data directory, that may be SIGKILLed. */
export class DedicatedKafka {
  private constructor(
    readonly broker: Broker,
    readonly dataDir: string,
  ) {}

  static async start(port: number, controllerPort: number): Promise<DedicatedKafka> {
    const dataDir = mkdtempSync(join(tmpdir(), 'iam-faults-kafka-'));
    const kafka = new DedicatedKafka(createBroker({ port, controllerPort, dataDir }), dataDir);
    await kafka.broker.start();
    return kafka;
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.broker.port}`];
  }

  /** Stops the broker (killing it if a controlled shutdown fails) and removes its data. */
  async destroy(): Promise<void> {
    try {
      if (this.broker.running()) await this.broker.stop();
    } catch {
      await this.broker.kill().catch(() => undefined);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export interface EventProgress {
  /** processed_events rows of the role topic. */
  readonly recorded: number;
  readonly completed: number;
}

/** Direct read access to a deployment's database (the service's own tables), one connection per query. */
export class ServiceDatabase {
  constructor(readonly url: string) {}

  async query<T extends object>(text: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<T>(text, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async progress(topic: string): Promise<EventProgress> {
    const [row] = await this.query<{ recorded: number; completed: number }>(
      `SELECT count(*)::int AS recorded, count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed
         FROM processed_events WHERE topic = $1`,
      [topic],
    );
    return row ?? { recorded: 0, completed: 0 };
  }

  async outboxSize(): Promise<number> {
    const [row] = await this.query<{ count: number }>('SELECT count(*)::int AS count FROM outbox');
    return row?.count ?? 0;
  }

  /** Like progress/outboxSize, but undefined while the database does not answer. */
  async probe(topic: string): Promise<{ progress: EventProgress; outbox: number } | undefined> {
    try {
      return { progress: await this.progress(topic), outbox: await this.outboxSize() };
    } catch {
      return undefined;
    }
  }
}

/**
 * Publishes events as another AuthMe service would (idempotent producer, key =
 * subject, murmur2 partitioning), retrying a chunk until the broker takes it:
 * during a broker outage it waits, with a fresh producer after each failure. A
 * chunk sent twice only repeats event ids, which the service must recognise.
 */
export class StreamPublisher {
  private producer: Producer | undefined;
  published = 0;
  failedSends = 0;

  constructor(private readonly kafka: Kafka) {}

  async publish(
    topic: string,
    stream: readonly InboundCloudEvent[],
    options: { chunk?: number; pauseMs?: number; timeoutMs?: number } = {},
  ): Promise<void> {
    const chunk = options.chunk ?? 100;
    const deadline = Date.now() + (options.timeoutMs ?? 180_000);
    for (let i = 0; i < stream.length; i += chunk) {
      const messages = stream.slice(i, i + chunk).map(toMessage);
      for (;;) {
        try {
          this.producer ??= await this.connect();
          await this.producer.send({ topic, messages });
          break;
        } catch (error) {
          this.failedSends += 1;
          await this.reset();
          if (Date.now() > deadline) throw error;
          await sleep(500);
        }
      }
      this.published += messages.length;
      if (options.pauseMs) await sleep(options.pauseMs);
    }
  }

  private async connect(): Promise<Producer> {
    const producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 1_000 },
    });
    await producer.connect();
    return producer;
  }

  private async reset(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  close(): Promise<void> {
    return this.reset();
  }
}

/** The group's committed offset of each partition of a topic (-1: none). */
export async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}
