import type { EachBatchPayload } from '@nestjs/microservices/external/kafka.interface';
import { describe, expect, it, vi } from 'vitest';
import { deferred } from '../testing/deferred';
import { RedeliveryError, StaleAssignmentError, type InboundBatch } from '../inbound/inbound-record';
import { InputChannel } from './channels';
import { ConsumerState } from './consumer-state';
import { InputTopicsKafkaServer, type KafkaServerOptions } from './input-topics.server';

const TOPICS = { [InputChannel.RoleChanges]: 'roles', [InputChannel.BusinessChanges]: 'businesses' };

/** The part of a kafkajs consumer the server uses: subscription, its batch callback, events, pausing. */
class FakeConsumer {
  readonly events = {
    CONNECT: 'connect',
    DISCONNECT: 'disconnect',
    REBALANCING: 'rebalancing',
    STOP: 'stop',
    CRASH: 'crash',
    GROUP_JOIN: 'group_join',
    END_BATCH_PROCESS: 'end_batch_process',
  };
  readonly paused: unknown[] = [];
  eachBatch!: (payload: EachBatchPayload) => Promise<void>;
  private readonly listeners = new Map<string, Array<(event: { payload: unknown }) => void>>();

  on(event: string, listener: (event: { payload: unknown }) => void): () => void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return () => undefined;
  }

  emit(event: string, payload: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) listener({ payload });
  }

  async subscribe(): Promise<void> {}

  async run({ eachBatch }: { eachBatch: (payload: EachBatchPayload) => Promise<void> }): Promise<void> {
    this.eachBatch = eachBatch;
  }

  pause(topics: unknown): void {
    this.paused.push(topics);
  }
}

/** A fetched batch of `roles` partition 0, and what the server did with it. */
function fetched(offsets: number[], highWatermark: number) {
  const resume = vi.fn();
  const payload = {
    batch: {
      topic: 'roles',
      partition: 0,
      highWatermark: String(highWatermark),
      messages: offsets.map((offset) => ({
        offset: String(offset),
        key: null,
        value: Buffer.from('{}'),
        headers: {},
        timestamp: '0',
      })),
      firstOffset: () => String(offsets[0]),
      lastOffset: () => String(offsets.at(-1)),
    },
    resolveOffset: vi.fn(),
    heartbeat: vi.fn(async () => undefined),
    pause: vi.fn(() => resume),
    commitOffsetsIfNecessary: vi.fn(async () => undefined),
    uncommittedOffsets: vi.fn(() => ({ topics: [] })),
    isRunning: () => true,
    isStale: () => false,
  };
  return { payload, resume, asKafka: payload as unknown as EachBatchPayload };
}

async function serverWith(handler: (batch: InboundBatch) => Promise<void>) {
  const consumer = new FakeConsumer();
  const state = new ConsumerState();
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn() };
  const shutdown = new AbortController();
  const server = new InputTopicsKafkaServer({ client: { brokers: [] } } as KafkaServerOptions, TOPICS, {
    state,
    logger,
    handOffLimit: 2,
    shutdown: shutdown.signal,
  });
  server.addHandler(InputChannel.RoleChanges, handler, true);
  server.addHandler(InputChannel.BusinessChanges, handler, true);
  // What listen() does once the client is connected.
  (server as unknown as { consumer: FakeConsumer }).consumer = consumer;
  server['registerConsumerEventListeners']();
  await server.bindEvents(consumer as never);
  return { server, consumer, state, logger, shutdown };
}

describe('InputTopicsKafkaServer', () => {
  it('hands the handler the batch and returns once it is done', async () => {
    const seen: string[] = [];
    const { consumer } = await serverWith(async (batch) => {
      for (const record of batch.records) {
        seen.push(record.origin.offset);
        batch.resolveOffset(record.origin.offset);
      }
    });
    const { payload, asKafka } = fetched([3, 4], 5);

    await consumer.eachBatch(asKafka);

    expect(seen).toEqual(['3', '4']);
    expect(payload.resolveOffset.mock.calls).toEqual([['3'], ['4']]);
    expect(payload.pause).not.toHaveBeenCalled();
  });

  it('returns a batch handed back (RedeliveryError) to kafkajs normally, its rest unresolved', async () => {
    const { consumer, state, logger } = await serverWith(async (batch) => {
      batch.resolveOffset('3');
      throw new RedeliveryError('shutdown');
    });
    const { payload, asKafka } = fetched([3, 4, 5], 6);

    await expect(consumer.eachBatch(asKafka)).resolves.toBeUndefined();
    // kafkajs reports the batch as done; the lag counts what the handler left.
    consumer.emit('end_batch_process', { topic: 'roles', partition: 0, offsetLag: '0' });

    expect(payload.resolveOffset.mock.calls).toEqual([['3']]);
    expect(state.lags()).toEqual([{ topic: 'roles', partition: 0, lag: 2 }]);
    expect(logger.debug).toHaveBeenCalledWith(
      expect.objectContaining({ reason: 'shutdown' }),
      'batch handed back',
    );
  });

  it('passes any other failure on to kafkajs as it is', async () => {
    const failure = new Error('database gone');
    const { consumer } = await serverWith(async () => {
      throw failure;
    });

    await expect(consumer.eachBatch(fetched([3], 4).asKafka)).rejects.toBe(failure);
  });

  it('returns at a hand-off with the partition paused, then commits, resumes and reports as the work ends', async () => {
    const release = deferred();
    let inbound!: InboundBatch;
    const { consumer, state } = await serverWith(async (batch) => {
      inbound = batch;
      batch.handOff();
      await release.promise;
      batch.resolveOffset('11');
    });
    const { payload, resume, asKafka } = fetched([10, 11], 12);

    await consumer.eachBatch(asKafka);
    consumer.emit('end_batch_process', { topic: 'roles', partition: 0, offsetLag: '0' });

    expect(payload.pause).toHaveBeenCalledOnce();
    expect(state.batchesHandedOff).toBe(1);
    expect(state.lags()).toEqual([{ topic: 'roles', partition: 0, lag: 2 }]);
    inbound.resolveOffset('10');
    expect(state.lags()).toEqual([{ topic: 'roles', partition: 0, lag: 1 }]);

    release.resolve();
    await vi.waitFor(() => expect(resume).toHaveBeenCalledOnce());
    expect(payload.commitOffsetsIfNecessary).toHaveBeenCalledWith({ topics: [] });
    expect(state.batchesHandedOff).toBe(0);
    expect(state.lags()).toEqual([{ topic: 'roles', partition: 0, lag: 0 }]);
  });

  it('after a rebalance, a handed-off batch neither heartbeats nor resolves, and gives up its lags', async () => {
    const rebalanced = deferred();
    let heartbeat: Promise<unknown> | undefined;
    const { consumer, state } = await serverWith(async (batch) => {
      batch.handOff();
      await rebalanced.promise;
      heartbeat = batch.heartbeat().then(
        () => 'beat',
        (error: unknown) => error,
      );
      batch.resolveOffset('10');
    });
    const { payload, asKafka } = fetched([10], 11);
    await consumer.eachBatch(asKafka);
    consumer.emit('end_batch_process', { topic: 'roles', partition: 0, offsetLag: '0' });

    consumer.emit('rebalancing', {});
    consumer.emit('group_join', { memberAssignment: { roles: [1] } });
    rebalanced.resolve();

    await vi.waitFor(() => expect(heartbeat).toBeDefined());
    expect(await heartbeat).toBeInstanceOf(StaleAssignmentError);
    expect(payload.heartbeat).not.toHaveBeenCalled();
    expect(payload.resolveOffset).not.toHaveBeenCalled();
    expect(state.lags()).toEqual([]);
  });

  it('stops fetching the input topics when shutdown is requested, and resumes no handed-off partition', async () => {
    const release = deferred();
    const { consumer, shutdown } = await serverWith(async (batch) => {
      batch.handOff();
      await release.promise;
    });
    const { resume, asKafka } = fetched([10], 11);
    await consumer.eachBatch(asKafka);

    shutdown.abort();
    release.resolve();

    expect(consumer.paused).toEqual([[{ topic: 'roles' }, { topic: 'businesses' }]]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(resume).not.toHaveBeenCalled();
  });
});
