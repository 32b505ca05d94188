import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, deadLetterTopic, type AppConfig } from '@iam/config';
import {
  ApplyChangeUseCase,
  independentRuns,
  type ApplyChangeOutcome,
  type ChangeEvent,
  type Clock,
} from '@iam/domain';
import {
  batchOfOne,
  CHANNEL_EVENT_TYPES,
  decodeChangeEvent,
  deadLetterMessage,
  type DeadLetterStore,
  type DecodeResult,
  type InboundBatch,
  type InboundRecord,
  type InputChannelName,
} from '@iam/messaging';
import { lazyChild, ServiceMetrics, type LineLogger } from '@iam/observability';
import { CLOCK, ROOT_LOGGER } from '../infrastructure/tokens';
import { FatalErrors } from '../lifecycle/fatal-errors';
import { ShutdownSignal } from '../lifecycle/shutdown-signal';
import {
  heartbeatOrHandBack,
  ProcessingInterruptedError,
  retryTransient,
  type RetryPolicy,
} from './retry-transient';

export const DEAD_LETTER_STORE = Symbol('DEAD_LETTER_STORE');

/** What became of one record (the operator CLI's replay reports these). */
export type RecordOutcome =
  | { readonly kind: 'dead-lettered'; readonly reason: string; readonly repeated: boolean }
  | ({ readonly kind: 'event'; readonly eventType: string } & ApplyChangeOutcome);

const RETRY_POLICY: RetryPolicy = { initialDelayMs: 200, maxDelayMs: 10_000 };

const OUTCOME_LABELS: Record<ApplyChangeOutcome['applied'], string> = {
  'fan-out': 'applied',
  duplicate: 'duplicate',
  'no-effect': 'no_effect',
};

/**
 * Events applied and settled together at most (see independentRuns): a run's
 * changes commit in one transaction and its sessions are settled in shared
 * statements, so a longer run saves statements but holds its row locks longer.
 */
const MAX_RUN_LENGTH = 64;

/** The page of a run's sessions from which its batch is handed off (see pacedFanOut). */
const FIRST_PAGE_HANDED_OFF = 2;

/**
 * What happens to every record of an input topic: validated; poison goes to the
 * dead-letter topic with its reason; a valid event is applied and its sessions
 * settled. A record's offset is resolved only when that is durably done (the
 * next commit covers it); transient failures are waited out, anything else
 * stops the service.
 */
@Injectable()
export class InboundRecordProcessor {
  private readonly logger: Logger;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ApplyChangeUseCase) private readonly applyChange: ApplyChangeUseCase,
    @Inject(DEAD_LETTER_STORE) private readonly deadLetters: DeadLetterStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ShutdownSignal) private readonly shutdown: ShutdownSignal,
    @Inject(FatalErrors) private readonly fatal: FatalErrors,
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.logger = rootLogger.child({ component: 'consumer' });
  }

  /** One record on its own (the operator's replay). */
  async process(
    channel: InputChannelName,
    record: InboundRecord,
    heartbeat: () => Promise<void>,
  ): Promise<RecordOutcome> {
    const [outcome] = await this.processBatch(channel, batchOfOne(record, heartbeat));
    if (!outcome) throw new ProcessingInterruptedError();
    return outcome;
  }

  /**
   * A partition's records in offset order: consecutive valid events in runs
   * that are applied and settled together, poison records dead-lettered in
   * between. Stops early, leaving the rest unresolved for redelivery, when
   * the service shuts down or the partition may have moved to another instance.
   * Returns the outcome of each record it finished, in order.
   */
  async processBatch(channel: InputChannelName, batch: InboundBatch): Promise<RecordOutcome[]> {
    const outcomes: RecordOutcome[] = [];
    let events: ChangeEvent[] = [];
    for (const record of batch.records) {
      const decoded = decodeChangeEvent(record, CHANNEL_EVENT_TYPES[channel]);
      if (decoded.ok) {
        events.push(decoded.event);
        continue;
      }
      if (!(await this.applyRuns(events, batch, outcomes))) return outcomes;
      events = [];
      if (!this.mayContinue(batch)) return outcomes;
      outcomes.push(await this.deadLetter(record, decoded, batch.heartbeat));
      if (!(await this.settled(batch, record.origin.offset))) return outcomes;
    }
    await this.applyRuns(events, batch, outcomes);
    return outcomes;
  }

  /**
   * False when the partition may belong to another instance now (kafkajs
   * fetches the rest again for whoever holds it). On shutdown the rest is
   * handed back as a fan-out is between its batches.
   */
  private mayContinue(batch: InboundBatch): boolean {
    if (this.shutdown.requested) throw new ProcessingInterruptedError();
    return batch.isActive();
  }

  /**
   * Marks the records up to `offset` done, then keeps the group membership and
   * the committed offsets current (kafkajs heartbeats and commits on its own
   * only between fetches). False when the group is rebalancing: what is done
   * stays done, and the rest is left for whoever holds the partition next.
   */
  private async settled(batch: InboundBatch, offset: string): Promise<boolean> {
    batch.resolveOffset(offset);
    try {
      await heartbeatOrHandBack(batch.heartbeat, this.logger);
      await heartbeatOrHandBack(batch.commitIfDue, this.logger);
      return true;
    } catch (error) {
      if (error instanceof ProcessingInterruptedError) return false;
      throw error;
    }
  }

  /**
   * Between two batches of a fan-out: heartbeat, and on shutdown hand the event
   * back (it is recorded as applied, so its redelivery resumes the fan-out).
   */
  private async betweenBatches(heartbeat: () => Promise<void>): Promise<void> {
    if (this.shutdown.requested) throw new ProcessingInterruptedError();
    await heartbeatOrHandBack(heartbeat, this.logger);
  }

  /**
   * Before settling each page of a run's sessions (once it is read, so only
   * pages that hold any). A second page means a fan-out, which may take
   * seconds: from there on the batch is handed off, so that the other
   * partitions' events are not held back behind it (one page, the common case,
   * keeps the batch in kafkajs' own fetch cycle).
   */
  private pacedFanOut(batch: InboundBatch): () => Promise<void> {
    let pages = 0;
    return async () => {
      pages += 1;
      await this.betweenBatches(batch.heartbeat);
      if (pages === FIRST_PAGE_HANDED_OFF) batch.handOff();
    };
  }

  private retryOptions(heartbeat: () => Promise<void>, logger: LineLogger) {
    return { policy: RETRY_POLICY, abort: this.shutdown.signal, heartbeat, logger };
  }

  /** The events in runs, each resolved once settled; false when it stopped early. */
  private async applyRuns(
    events: readonly ChangeEvent[],
    batch: InboundBatch,
    outcomes: RecordOutcome[],
  ): Promise<boolean> {
    for (const run of independentRuns(events, MAX_RUN_LENGTH)) {
      if (!this.mayContinue(batch)) return false;
      const first = run[0]!.origin;
      const origin = { topic: first.topic, partition: first.partition, offset: first.offset };
      const logger = lazyChild(
        this.logger,
        run.length === 1 ? eventFields(run[0]!) : { ...origin, run: run.length },
      );
      try {
        const applied = await retryTransient(
          () => this.applyChange.executeRun(run, { beforeBatch: this.pacedFanOut(batch) }),
          this.retryOptions(batch.heartbeat, logger),
        );
        run.forEach((event, index) => outcomes.push(this.applied(event, applied[index]!)));
      } catch (error) {
        if (!(error instanceof ProcessingInterruptedError)) this.fatal.report(error, origin);
        // Not returning normally keeps the offsets unresolved: the records are delivered again.
        throw error;
      }
      if (!(await this.settled(batch, run[run.length - 1]!.origin.offset))) return false;
    }
    return true;
  }

  private applied(event: ChangeEvent, outcome: ApplyChangeOutcome): RecordOutcome {
    lazyChild(this.logger, eventFields(event)).debug(outcome, 'event applied');
    this.metrics.eventsConsumed.inc({ type: event.change.type, outcome: OUTCOME_LABELS[outcome.applied] });
    return { kind: 'event', eventType: event.change.type, ...outcome };
  }

  private async deadLetter(
    record: InboundRecord,
    decoded: Extract<DecodeResult, { ok: false }>,
    heartbeat: () => Promise<void>,
  ): Promise<RecordOutcome> {
    const { topic, partition, offset } = record.origin;
    const logger = lazyChild(this.logger, { topic, partition, offset });
    try {
      const message = deadLetterMessage(
        record,
        decoded,
        deadLetterTopic(this.config, topic),
        this.config.kafka.groupId,
        this.clock.now(),
      );
      const first = await retryTransient(
        () => this.deadLetters.deadLetter(record, decoded, message),
        this.retryOptions(heartbeat, logger),
      );
      logger.warn(
        { reason: decoded.reason, detail: decoded.detail, eventId: decoded.eventId, repeated: !first },
        'record dead-lettered',
      );
      // A poison record's type is not a label: it is whatever the sender wrote.
      this.metrics.eventsConsumed.inc({ type: 'invalid', outcome: 'dead_lettered' });
      if (first) this.metrics.deadLetters.inc({ topic, reason: decoded.reason });
      return { kind: 'dead-lettered', reason: decoded.reason, repeated: !first };
    } catch (error) {
      if (!(error instanceof ProcessingInterruptedError))
        this.fatal.report(error, { topic, partition, offset });
      throw error;
    }
  }
}

/** What a log line about one event says of it. */
function eventFields(event: ChangeEvent) {
  const { topic, partition, offset } = event.origin;
  return { topic, partition, offset, eventId: event.id, eventType: event.change.type };
}
