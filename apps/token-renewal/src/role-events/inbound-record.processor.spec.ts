import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AppConfig } from '@iam/config';
import {
  EventType,
  type ApplyChangeHooks,
  type ApplyChangeOutcome,
  type ApplyChangeUseCase,
  type ChangeEvent,
} from '@iam/domain';
import { InputChannel, StaleAssignmentError, type InboundBatch, type InboundRecord } from '@iam/messaging';
import { ServiceMetrics } from '@iam/observability';
import { FatalErrors } from '../lifecycle/fatal-errors';
import { ShutdownSignal } from '../lifecycle/shutdown-signal';
import { InboundRecordProcessor } from './inbound-record.processor';
import { ProcessingInterruptedError } from './retry-transient';

const TOPIC = 'iam.role-changes.v1';
let offset = 0;

/** A record of the role-change topic carrying a user-role grant, as AuthMe publishes it. */
function grant(userId: string): InboundRecord {
  offset += 1;
  const cloudEvent = {
    specversion: '1.0',
    id: `evt-${offset}`,
    source: '/authme/test',
    type: EventType.UserRoleGranted,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, offset)).toISOString(),
    subject: userId,
    datacontenttype: 'application/json',
    data: { userId, role: 'READER' },
  };
  return record(Buffer.from(JSON.stringify(cloudEvent)));
}

function record(value: Buffer): InboundRecord {
  return {
    origin: { topic: TOPIC, partition: 0, offset: String(offset) },
    key: null,
    value,
    headers: [],
    timestamp: '0',
  };
}

function poison(): InboundRecord {
  offset += 1;
  return record(Buffer.from('not json'));
}

/** A batch that records, in order, what the processor did with it. */
function recordingBatch(
  records: InboundRecord[],
  options: { heartbeat?: () => Promise<void>; active?: () => boolean } = {},
) {
  const log: string[] = [];
  const batch: InboundBatch = {
    records,
    heartbeat: async () => {
      log.push('heartbeat');
      await options.heartbeat?.();
    },
    resolveOffset: (resolved) => log.push(`resolve ${resolved}`),
    commitIfDue: async () => void log.push('commit'),
    isActive: () => options.active?.() ?? true,
    handOff: () => void log.push('hand-off'),
  };
  return { batch, log };
}

/** Each run's sessions come in this many pages (a fan-out has several; by default the fake pages nothing). */
function setup(pagesPerRun = 0) {
  const logger = pino({ level: 'silent' });
  const runs: string[][] = [];
  const applyChange = {
    executeRun: async (
      run: readonly ChangeEvent[],
      hooks: ApplyChangeHooks,
    ): Promise<ApplyChangeOutcome[]> => {
      runs.push(run.map((event) => event.subject));
      for (let page = 1; page <= pagesPerRun; page += 1) await hooks.beforeBatch?.();
      return run.map(() => ({ applied: 'fan-out', reissued: 1, revoked: 0 }));
    },
  } as unknown as ApplyChangeUseCase;
  const deadLettered: string[] = [];
  const deadLetters = {
    deadLetter: async (poisoned: InboundRecord) => {
      deadLettered.push(poisoned.origin.offset);
      return true;
    },
  };
  const shutdown = new ShutdownSignal();
  const fatal = new FatalErrors(logger);
  const fatalErrors: unknown[] = [];
  fatal.onFatal((error) => fatalErrors.push(error));
  const processor = new InboundRecordProcessor(
    { kafka: { groupId: 'group', dlqSuffix: '.dlq' } } as unknown as AppConfig,
    applyChange,
    deadLetters,
    { now: () => new Date('2026-01-01T00:00:00Z') },
    shutdown,
    fatal,
    new ServiceMetrics({ defaultMetrics: false }),
    logger,
  );
  return { processor, runs, deadLettered, shutdown, fatalErrors };
}

describe('InboundRecordProcessor.processBatch', () => {
  it('applies runs and dead-letters poison in order, resolving each, then heartbeating and committing', async () => {
    const { processor, runs, deadLettered } = setup();
    const records = [grant('a'), grant('b'), poison(), grant('c'), grant('c')];
    const [, b, bad, c1, c2] = records.map((r) => r.origin.offset);
    const { batch, log } = recordingBatch(records);

    const outcomes = await processor.processBatch(InputChannel.RoleChanges, batch);

    expect(runs).toEqual([['a', 'b'], ['c'], ['c']]);
    expect(deadLettered).toEqual([bad]);
    expect(outcomes.map((outcome) => outcome.kind)).toEqual([
      'event',
      'event',
      'dead-lettered',
      'event',
      'event',
    ]);
    const settle = (resolved: string | undefined) => [`resolve ${resolved}`, 'heartbeat', 'commit'];
    expect(log).toEqual([...settle(b), ...settle(bad), ...settle(c1), ...settle(c2)]);
  });

  it.each(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION'])(
    'stops quietly after a settled run when the group answers %s, leaving the rest unresolved',
    async (type) => {
      const { processor, runs, fatalErrors } = setup();
      const records = [grant('a'), grant('a'), grant('a')];
      const rebalancing = Object.assign(new Error('rebalancing'), { type });
      const { batch, log } = recordingBatch(records, { heartbeat: async () => Promise.reject(rebalancing) });

      const outcomes = await processor.processBatch(InputChannel.RoleChanges, batch);

      expect(runs).toEqual([['a']]);
      expect(outcomes).toHaveLength(1);
      expect(log).toEqual([`resolve ${records[0]!.origin.offset}`, 'heartbeat']);
      expect(fatalErrors).toEqual([]);
    },
  );

  it('leaves the rest unresolved once the partition may belong to another instance', async () => {
    const { processor, runs } = setup();
    let active = true;
    const records = [grant('a'), grant('a'), grant('a')];
    const { batch, log } = recordingBatch(records, {
      active: () => active,
      heartbeat: async () => void (active = false),
    });

    expect(await processor.processBatch(InputChannel.RoleChanges, batch)).toHaveLength(1);
    expect(runs).toEqual([['a']]);
    expect(log.filter((entry) => entry.startsWith('resolve'))).toEqual([
      `resolve ${records[0]!.origin.offset}`,
    ]);
  });

  it('hands the rest back on shutdown, without reporting a failure', async () => {
    const { processor, runs, shutdown, fatalErrors } = setup();
    const records = [grant('a'), grant('a')];
    const { batch, log } = recordingBatch(records, { heartbeat: async () => shutdown.request() });

    await expect(processor.processBatch(InputChannel.RoleChanges, batch)).rejects.toBeInstanceOf(
      ProcessingInterruptedError,
    );
    expect(runs).toEqual([['a']]);
    expect(log.filter((entry) => entry.startsWith('resolve'))).toEqual([
      `resolve ${records[0]!.origin.offset}`,
    ]);
    expect(fatalErrors).toEqual([]);
  });

  it('keeps a run settled in one page within the fetch cycle, without a hand-off', async () => {
    const { processor } = setup(1);
    const { batch, log } = recordingBatch([grant('a'), grant('b')]);

    await processor.processBatch(InputChannel.RoleChanges, batch);

    expect(log).not.toContain('hand-off');
  });

  it('hands a fan-out off at its second page, after its heartbeat, so that other partitions are fetched meanwhile', async () => {
    const { processor } = setup(3);
    const records = [grant('a'), grant('a')];
    const { batch, log } = recordingBatch(records);

    await processor.processBatch(InputChannel.RoleChanges, batch);

    const [first, second] = records.map((r) => r.origin.offset);
    // Each run counts its own pages: the second run asks again (the server takes one hand-off a batch).
    expect(log).toEqual([
      'heartbeat',
      'heartbeat',
      'hand-off',
      'heartbeat',
      `resolve ${first}`,
      'heartbeat',
      'commit',
      'heartbeat',
      'heartbeat',
      'hand-off',
      'heartbeat',
      `resolve ${second}`,
      'heartbeat',
      'commit',
    ]);
  });

  it('stops a handed-off fan-out quietly when the group rebalanced under it, leaving its run unresolved', async () => {
    const { processor, runs, fatalErrors } = setup(3);
    let pages = 0;
    const { batch, log } = recordingBatch([grant('a'), grant('b')], {
      heartbeat: async () => {
        pages += 1;
        if (pages === 2) throw new StaleAssignmentError();
      },
    });

    await expect(processor.processBatch(InputChannel.RoleChanges, batch)).rejects.toBeInstanceOf(
      ProcessingInterruptedError,
    );
    expect(runs).toEqual([['a', 'b']]);
    expect(log.filter((entry) => entry.startsWith('resolve'))).toEqual([]);
    expect(fatalErrors).toEqual([]);
  });

  it('does not hand a fan-out off once shutdown is requested: it hands the batch back instead', async () => {
    const { processor, shutdown } = setup(3);
    let pages = 0;
    const { batch, log } = recordingBatch([grant('a')], {
      heartbeat: async () => {
        pages += 1;
        if (pages === 1) shutdown.request();
      },
    });

    await expect(processor.processBatch(InputChannel.RoleChanges, batch)).rejects.toBeInstanceOf(
      ProcessingInterruptedError,
    );
    expect(log).not.toContain('hand-off');
  });

  it('reports a failure that is not transient as fatal, and resolves nothing of its run', async () => {
    const { processor, fatalErrors } = setup();
    const records = [grant('a'), grant('b')];
    const broken = new Error('a bug');
    (processor as unknown as { applyChange: { executeRun: () => Promise<never> } }).applyChange.executeRun =
      async () => Promise.reject(broken);
    const { batch, log } = recordingBatch(records);

    await expect(processor.processBatch(InputChannel.RoleChanges, batch)).rejects.toBe(broken);
    expect(fatalErrors).toEqual([broken]);
    expect(log).toEqual([]);
  });
});
