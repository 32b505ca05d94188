import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, MAX_TIMER_MS, type AppConfig } from '@iam/config';
import type { Clock } from '@iam/domain';
import { ServiceMetrics } from '@iam/observability';
import { PgHousekeeping, type Sql } from '@iam/persistence';
import { CLOCK, ROOT_LOGGER, SQL } from '../infrastructure/tokens';

/**
 * Runs housekeeping every HOUSEKEEPING_INTERVAL, one run at a time, the first
 * one interval after start. Each wait is drawn between 0.75 and 1.25 times the
 * interval, so that a fleet restarted together drifts apart rather than
 * pruning in step. A failed run (the database away, say) is logged and the
 * next one tries again: nothing is lost by running late. A shutdown stops a
 * run between two batches.
 */
@Injectable()
export class HousekeepingService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly housekeeping: PgHousekeeping;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly stop = new AbortController();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SQL) sql: Sql,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.housekeeping = new PgHousekeeping(sql, config.housekeeping);
    this.logger = rootLogger.child({ component: 'housekeeping' });
  }

  onApplicationBootstrap(): void {
    if (this.config.housekeeping.intervalMs > 0) this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stop.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stop.signal.aborted) return;
    // The configuration keeps the interval within a timer's limit; the jitter must not pass it.
    const wait = Math.min(MAX_TIMER_MS, this.config.housekeeping.intervalMs * (0.75 + Math.random() / 2));
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, wait);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    try {
      const pruned = await this.housekeeping.prune(this.clock.now(), this.stop.signal);
      this.metrics.housekeepingDeleted.inc({ table: 'processed_events' }, pruned.processedEvents);
      this.metrics.housekeepingDeleted.inc({ table: 'sessions' }, pruned.sessions);
      if (pruned.processedEvents + pruned.sessions > 0) this.logger.info(pruned, 'housekeeping deleted rows');
    } catch (error) {
      this.logger.warn({ err: error }, 'housekeeping failed; the next run tries again');
    }
  }
}
