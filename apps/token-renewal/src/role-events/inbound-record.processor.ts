import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, deadLetterTopic, type AppConfig } from '@iam/config';
import { ApplyChangeUseCase, type ApplyChangeOutcome, type Clock } from '@iam/domain';
import {
  CHANNEL_EVENT_TYPES,
  decodeChangeEvent,
  deadLetterMessage,
  type DeadLetterStore,
  type InboundRecord,
  type InputChannelName,
} from '@iam/messaging';
import { lazyChild, ServiceMetrics } from '@iam/observability';
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
 * What happens to every record of an input topic: validated; poison goes to the
 * dead-letter topic with its reason; a valid event is applied and its sessions
 * settled. Returns only when that is durably done (the offset may then be
 * committed); transient failures are waited out, anything else stops the service.
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

  /**
   * Between two batches of a fan-out: heartbeat, and on shutdown hand the event
   * back (it is recorded as applied, so its redelivery resumes the fan-out).
   */
  private async betweenBatches(heartbeat: () => Promise<void>): Promise<void> {
    if (this.shutdown.requested) throw new ProcessingInterruptedError();
    await heartbeatOrHandBack(heartbeat, this.logger);
  }

  async process(
    channel: InputChannelName,
    record: InboundRecord,
    heartbeat: () => Promise<void>,
  ): Promise<RecordOutcome> {
    const { topic, partition, offset } = record.origin;
    const origin = { topic, partition, offset };
    let logger = lazyChild(this.logger, origin);
    const retry = { policy: RETRY_POLICY, abort: this.shutdown.signal, heartbeat, logger };
    try {
      const decoded = decodeChangeEvent(record, CHANNEL_EVENT_TYPES[channel]);
      if (!decoded.ok) {
        const message = deadLetterMessage(
          record,
          decoded,
          deadLetterTopic(this.config, topic),
          this.config.kafka.groupId,
          this.clock.now(),
        );
        const first = await retryTransient(
          () => this.deadLetters.deadLetter(record, decoded, message),
          retry,
        );
        logger.warn(
          { reason: decoded.reason, detail: decoded.detail, eventId: decoded.eventId, repeated: !first },
          'record dead-lettered',
        );
        // A poison record's type is not a label: it is whatever the sender wrote.
        this.metrics.eventsConsumed.inc({ type: 'invalid', outcome: 'dead_lettered' });
        if (first) this.metrics.deadLetters.inc({ topic, reason: decoded.reason });
        return { kind: 'dead-lettered', reason: decoded.reason, repeated: !first };
      }
      logger = lazyChild(this.logger, {
        ...origin,
        eventId: decoded.event.id,
        eventType: decoded.event.change.type,
      });
      const outcome = await retryTransient(
        () => this.applyChange.execute(decoded.event, { beforeBatch: () => this.betweenBatches(heartbeat) }),
        { ...retry, logger },
      );
      logger.debug(outcome, 'event applied');
      this.metrics.eventsConsumed.inc({
        type: decoded.event.change.type,
        outcome: OUTCOME_LABELS[outcome.applied],
      });
      return { kind: 'event', eventType: decoded.event.change.type, ...outcome };
    } catch (error) {
      if (!(error instanceof ProcessingInterruptedError)) this.fatal.report(error, origin);
      // Not returning normally keeps the offset uncommitted: the record is delivered again.
      throw error;
    }
  }
}
