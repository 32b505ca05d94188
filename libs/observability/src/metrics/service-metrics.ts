import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Bucket bounds (seconds) for request latency: sub-millisecond to a few seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Bucket bounds (seconds) for staleness: a role change's age when its token is published. */
const STALENESS_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Every series the service exposes at /metrics (Prometheus text format), in one
 * registry so tests and scrapes see the same thing. Names follow Prometheus
 * conventions: `_total` counters, `_seconds` histograms, base units.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  readonly eventsConsumed = new Counter({
    name: 'iam_events_consumed_total',
    help: 'Inbound records by CloudEvents type and outcome (applied, duplicate, no_effect, dead_lettered).',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: 'iam_dead_letters_total',
    help: 'Records sent to a dead-letter topic, by origin topic and reason.',
    labelNames: ['topic', 'reason'] as const,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'iam_tokens_issued_total',
    help: 'User access tokens issued, by cause (http, event, operator); client tokens are cause client_login.',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });

  readonly sessionsRevoked = new Counter({
    name: 'iam_sessions_revoked_total',
    help: 'Sessions ended, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly httpRequestDuration = new Histogram({
    name: 'iam_http_request_duration_seconds',
    help: 'HTTP request latency by route and status code (Renew Token is the renewal latency).',
    labelNames: ['route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly consumerLag = new Gauge({
    name: 'iam_kafka_consumer_lag',
    help:
      'Records behind the end of each input partition, as of the last batch the consumer fetched ' +
      '(a batch handed off to a long fan-out counts as not yet consumed).',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });

  readonly batchesHandedOff = new Gauge({
    name: 'iam_kafka_batches_handed_off',
    help: 'Input batches handed off to a long fan-out and still being worked (their partitions paused meanwhile).',
    registers: [this.registry],
  });

  readonly outboxBacklog = new Gauge({
    name: 'iam_outbox_backlog',
    help: 'Messages waiting in the outbox to be published.',
    registers: [this.registry],
  });

  readonly sessionWriteStalls = new Counter({
    name: 'iam_session_write_stalls_total',
    help:
      'Session-write statements sent beside one in flight for 50 ms or more, which is waiting for a ' +
      'row lock most likely (a replay dry run, another instance writing the same sessions).',
    registers: [this.registry],
  });

  readonly messagesPublished = new Counter({
    name: 'iam_messages_published_total',
    help: 'Messages the outbox relay committed to Kafka, by topic.',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });

  readonly roleChangeStaleness = new Histogram({
    name: 'iam_role_change_staleness_seconds',
    help: "Time from a role change's `time` at its source to its session update being published.",
    buckets: STALENESS_BUCKETS,
    registers: [this.registry],
  });

  readonly housekeepingDeleted = new Counter({
    name: 'iam_housekeeping_deleted_rows_total',
    help: 'Rows housekeeping deleted past their retention, by table (processed_events, sessions).',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'iam_' });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
