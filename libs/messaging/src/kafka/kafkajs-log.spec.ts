import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { pinoLogCreator } from './kafkajs-log';

// kafkajs' own table of the broker's error codes: the messages it logs are built from it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { errorCodes } = require('kafkajs/src/protocol/error') as {
  errorCodes: { type: string; message: string }[];
};
function answer(type: string): string {
  const code = errorCodes.find((entry) => entry.type === type);
  if (!code) throw new Error(`kafkajs has no error ${type}`);
  return code.message;
}

const WARN = 40;
const ERROR = 50;

/** kafkajs' log function for one namespace, writing through pino into `lines`, at `clock.now`. */
function kafkajsLog(clock = { now: 0 }) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const log = pinoLogCreator(pino({ level: 'debug' }, destination), () => clock.now)(logLevel.WARN);
  const write = (level: logLevel, message: string, extra: Record<string, unknown> = {}) =>
    log({ namespace: 'Connection', level, label: 'ERROR', log: { timestamp: 'now', message, ...extra } });
  return { write, lines, levels: () => lines.map((line) => line['level']) };
}

describe('pinoLogCreator', () => {
  it("logs the broker's answers during a rebalance at warn: kafkajs re-joins the group", () => {
    const { write, lines, levels } = kafkajsLog();
    for (const type of ['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']) {
      write(logLevel.ERROR, 'Response Heartbeat(key: 12, version: 3)', {
        error: answer(type),
        correlationId: 7,
      });
    }

    expect(levels()).toEqual([WARN, WARN, WARN]);
    expect(lines[0]).toMatchObject({
      component: 'kafkajs',
      msg: 'Response Heartbeat(key: 12, version: 3)',
      error: 'The group is rebalancing, so a rejoin is needed',
      correlationId: 7,
    });
  });

  it('logs the answers kafkajs retries at warn: a topic still being created, a coordinator moving', () => {
    const { write, levels } = kafkajsLog();
    write(logLevel.ERROR, 'Response Metadata(key: 3, version: 6)', {
      error: answer('UNKNOWN_TOPIC_OR_PARTITION'),
    });
    write(logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)', {
      error: answer('GROUP_COORDINATOR_NOT_AVAILABLE'),
    });
    write(logLevel.ERROR, 'Response InitProducerId(key: 22, version: 1)', {
      error: answer('GROUP_LOAD_IN_PROGRESS'),
    });

    expect(levels()).toEqual([WARN, WARN, WARN]);
  });

  it('logs the same answer at error again once it has gone on for a minute, and at warn after a pause', () => {
    const clock = { now: 0 };
    const { write, levels } = kafkajsLog(clock);
    const metadata = () =>
      write(logLevel.ERROR, 'Response Metadata(key: 3, version: 6)', {
        broker: '127.0.0.1:9092',
        error: answer('UNKNOWN_TOPIC_OR_PARTITION'),
      });
    for (; clock.now <= 70_000; clock.now += 10_000) metadata();
    expect(levels()).toEqual([WARN, WARN, WARN, WARN, WARN, WARN, WARN, ERROR]);

    clock.now += 31_000;
    metadata();
    expect(levels().at(-1)).toBe(WARN);
  });

  it('keeps every other error at error', () => {
    const { write, levels } = kafkajsLog();
    write(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', {
      error: answer('TOPIC_AUTHORIZATION_FAILED'),
    });
    write(logLevel.ERROR, 'Response Heartbeat(key: 12, version: 3)', { error: 'Connection timeout' });
    // kafkajs re-joins an evicted member too, but that one is worth a look.
    write(logLevel.ERROR, 'The coordinator is not aware of this member, re-joining the group', {
      error: answer('UNKNOWN_MEMBER_ID'),
    });
    write(logLevel.ERROR, `Crash: KafkaJSNumberOfRetriesExceeded: ${answer('UNKNOWN_TOPIC_OR_PARTITION')}`);

    expect(levels()).toEqual([ERROR, ERROR, ERROR, ERROR]);
  });

  it('keeps the levels kafkajs gives everything else', () => {
    const { write, levels } = kafkajsLog();
    write(logLevel.WARN, 'The group is rebalancing, re-joining', { error: answer('REBALANCE_IN_PROGRESS') });
    write(logLevel.INFO, 'Consumer has joined the group');
    write(logLevel.DEBUG, 'Request Fetch(key: 1, version: 11)');

    expect(levels()).toEqual([WARN, 30, 20]);
  });
});
