import { z } from 'zod';
import { parseRequirement } from '@iam/domain';
import { parseDuration } from './duration';

const DEFAULT_RENEW_TOKEN_REQUIREMENT =
  '(CLI-AUTH-IDENTIFIED and CLI-1STPARTY) or (CLI-AUTH-IDENTIFIED and CLI-1STPARTY and AUTH-BASIC and USER)';

const port = z.coerce.number().int().min(1).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const bool = z.stringbool({ truthy: ['true', '1', 'yes'], falsy: ['false', '0', 'no'] });
const nonEmpty = z.string().trim().min(1);

/** The longest wait a Node.js timer keeps; a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration in milliseconds ("900" is seconds, as in a JWT; "15m", "250ms");
 * zero only where it means "none", and no longer than `max` where it sets a timer.
 */
function durationSetting(options: {
  readonly zero: boolean;
  readonly example: string;
  readonly max?: number;
}) {
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || (ms === 0 && !options.zero) || ms > (options.max ?? Infinity)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration such as ${options.example}, got "${text}"`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

const duration = durationSetting({ zero: false, example: '900, 15m, 8h or 30d' });

const csv = z.string().transform((text) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

const brokerList = csv.pipe(
  z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')).min(1, 'expected at least one broker'),
);

const postgresUrl = z
  .string()
  .trim()
  .refine((value) => /^postgres(ql)?:\/\/.+/.test(value), 'expected a postgresql:// URL');

const requirement = nonEmpty.superRefine((expression, ctx) => {
  try {
    parseRequirement(expression);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `not a valid requirement expression: ${(error as Error).message}`,
    });
  }
});

// A whole number, as typed: coercion would take an empty value for 0 and turn the setting off unseen.
const niceSteps = z
  .string()
  .trim()
  .regex(/^\d{1,2}$/, 'expected a whole number of nice steps from 0 to 19')
  .transform(Number)
  .refine((steps) => steps <= 19, 'expected a whole number of nice steps from 0 to 19');

const topicName = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'expected a Kafka topic name');

/** Every setting the service reads, by environment variable name. */
export const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  HOST: nonEmpty.default('127.0.0.1'),
  PORT: port.default(3000),
  HTTP_BODY_LIMIT_BYTES: positiveInt.default(16_384),

  DATABASE_URL: postgresUrl,
  DATABASE_POOL_SIZE: positiveInt.default(10),
  DATABASE_MIGRATE_ON_START: bool.default(true),

  KAFKA_BROKERS: brokerList,
  KAFKA_CLIENT_ID: nonEmpty.default('iam-token-renewal'),
  KAFKA_GROUP_ID: nonEmpty.default('iam-token-renewal'),
  KAFKA_TOPIC_ROLE_CHANGES: topicName.default('iam.role-changes.v1'),
  KAFKA_TOPIC_BUSINESS_CHANGES: topicName.default('iam.business-changes.v1'),
  KAFKA_TOPIC_SESSION_UPDATES: topicName.default('iam.session-updates.v1'),
  KAFKA_DLQ_SUFFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,20}$/)
    .default('.dlq'),
  KAFKA_ENSURE_TOPICS: bool.default(false),
  KAFKA_TOPIC_PARTITIONS: positiveInt.default(8),
  KAFKA_CONSUMER_CONCURRENCY: positiveInt.default(8),

  TOKEN_ISSUER: nonEmpty.default('iam-token-renewal'),
  ACCESS_TOKEN_TTL: duration.default(15 * 60_000),
  CLIENT_TOKEN_TTL: duration.default(15 * 60_000),
  SESSION_TTL: duration.default(8 * 3_600_000),
  REMEMBER_ME_SESSION_TTL: duration.default(30 * 86_400_000),
  REFRESH_TOKEN_REUSE_GRACE: duration.default(10_000),
  TOKEN_CLOCK_TOLERANCE: duration.default(5_000),
  DEFAULT_SCOPE: csv.default(['READ', 'WRITE']),
  IDENTITY_PROVIDER_AUTH_LEVEL: z.enum(['AUTH-BASIC', 'AUTH-IDENTIFIED', 'AUTH-MFA']).default('AUTH-BASIC'),
  RENEW_TOKEN_REQUIREMENT: requirement.default(DEFAULT_RENEW_TOKEN_REQUIREMENT),

  SIGNING_KEYS_DIR: nonEmpty.default('.data/keys/signing'),
  SIGNING_KEYS_GENERATE: bool.optional(),
  SIGNING_KEY_PROPAGATION_GRACE: duration.default(5 * 60_000),

  SESSION_UPDATE_RECIPIENT_JWK: nonEmpty.optional(),
  SESSION_UPDATE_PLAINTEXT: bool.default(false),

  LOGIN_MAX_FAILURES: positiveInt.default(10),
  LOGIN_FAILURE_WINDOW: duration.default(5 * 60_000),

  // 0 turns housekeeping off here (another instance, or the operator's `housekeeping run`, does it).
  HOUSEKEEPING_INTERVAL: durationSetting({
    zero: true,
    example: '10m (at most 24d), or 0 for never',
    max: MAX_TIMER_MS,
  }).default(10 * 60_000),
  PROCESSED_EVENT_RETENTION: duration.default(7 * 86_400_000),
  ENDED_SESSION_RETENTION: duration.default(7 * 86_400_000),

  FANOUT_BATCH_SIZE: positiveInt.default(500),
  OUTBOX_BATCH_SIZE: positiveInt.default(500),
  // Half of Kafka's default message.max.bytes (1 MiB), which bounds each partition's share of a batch.
  OUTBOX_BATCH_BYTES: positiveInt.default(512 * 1024),
  OUTBOX_LINGER: durationSetting({ zero: true, example: '20ms' }).default(20),

  HELPER_THREAD_NICE: niceSteps.default(10),
});

export type Environment = z.infer<typeof environmentSchema>;
