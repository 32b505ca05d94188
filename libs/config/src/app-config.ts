import { type z } from 'zod';
import { environmentSchema, type Environment } from './app-config.schema';

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type InputTopicName = 'roleChanges' | 'businessChanges';

/** The service's configuration, validated once at boot. */
export interface AppConfig {
  readonly env: Environment['NODE_ENV'];
  readonly log: { readonly level: Environment['LOG_LEVEL'] };
  readonly http: { readonly host: string; readonly port: number; readonly bodyLimitBytes: number };
  readonly database: { readonly url: string; readonly poolSize: number; readonly migrateOnStart: boolean };
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly groupId: string;
    readonly topics: {
      readonly roleChanges: string;
      readonly businessChanges: string;
      readonly sessionUpdates: string;
    };
    readonly dlqSuffix: string;
    readonly ensureTopics: boolean;
    readonly topicPartitions: number;
    readonly consumerConcurrency: number;
  };
  readonly tokens: {
    readonly issuer: string;
    readonly accessTokenTtlMs: number;
    readonly clientTokenTtlMs: number;
    readonly sessionTtlMs: number;
    readonly rememberMeSessionTtlMs: number;
    readonly refreshReuseGraceMs: number;
    readonly clockToleranceMs: number;
    readonly defaultScope: readonly string[];
    readonly identityProviderAuthLevel: Environment['IDENTITY_PROVIDER_AUTH_LEVEL'];
    readonly renewTokenRequirement: string;
  };
  readonly signingKeys: {
    readonly dir: string;
    readonly generateIfMissing: boolean;
    /** How long after a key's activation an instance lacking its file waits for it before it stops. */
    readonly propagationGraceMs: number;
  };
  readonly sessionUpdates: { readonly recipientJwk: string | undefined; readonly plaintext: boolean };
  readonly clientLogin: { readonly maxFailures: number; readonly failureWindowMs: number };
  readonly housekeeping: {
    /** 0: this instance never runs it. */
    readonly intervalMs: number;
    readonly processedEventRetentionMs: number;
    readonly endedSessionRetentionMs: number;
  };
  readonly fanOut: { readonly batchSize: number };
  readonly outbox: { readonly batchSize: number; readonly batchBytes: number; readonly lingerMs: number };
  /** How many nice values below the event loop every other thread (thread pool, V8's helpers) runs; 0: the same. */
  readonly helperThreadNice: number;
}

function describeIssue(issue: z.core.$ZodIssue, env: NodeJS.ProcessEnv): string {
  const name = String(issue.path[0] ?? '(environment)');
  const missing = issue.code === 'invalid_type' && env[name] === undefined;
  return missing ? `${name}: required but not set` : `${name}: ${issue.message}`;
}

/** Reads and validates the environment; throws a ConfigError naming every bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => describeIssue(issue, env)));
  }
  const e = parsed.data;
  if (!e.SESSION_UPDATE_PLAINTEXT && e.SESSION_UPDATE_RECIPIENT_JWK === undefined) {
    throw new ConfigError([
      'SESSION_UPDATE_RECIPIENT_JWK: required unless SESSION_UPDATE_PLAINTEXT=true (tokens on the session-update topic are encrypted to this key)',
    ]);
  }
  return {
    env: e.NODE_ENV,
    log: { level: e.LOG_LEVEL },
    http: { host: e.HOST, port: e.PORT, bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES },
    database: {
      url: e.DATABASE_URL,
      poolSize: e.DATABASE_POOL_SIZE,
      migrateOnStart: e.DATABASE_MIGRATE_ON_START,
    },
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      groupId: e.KAFKA_GROUP_ID,
      topics: {
        roleChanges: e.KAFKA_TOPIC_ROLE_CHANGES,
        businessChanges: e.KAFKA_TOPIC_BUSINESS_CHANGES,
        sessionUpdates: e.KAFKA_TOPIC_SESSION_UPDATES,
      },
      dlqSuffix: e.KAFKA_DLQ_SUFFIX,
      ensureTopics: e.KAFKA_ENSURE_TOPICS,
      topicPartitions: e.KAFKA_TOPIC_PARTITIONS,
      consumerConcurrency: e.KAFKA_CONSUMER_CONCURRENCY,
    },
    tokens: {
      issuer: e.TOKEN_ISSUER,
      accessTokenTtlMs: e.ACCESS_TOKEN_TTL,
      clientTokenTtlMs: e.CLIENT_TOKEN_TTL,
      sessionTtlMs: e.SESSION_TTL,
      rememberMeSessionTtlMs: e.REMEMBER_ME_SESSION_TTL,
      refreshReuseGraceMs: e.REFRESH_TOKEN_REUSE_GRACE,
      clockToleranceMs: e.TOKEN_CLOCK_TOLERANCE,
      defaultScope: e.DEFAULT_SCOPE,
      identityProviderAuthLevel: e.IDENTITY_PROVIDER_AUTH_LEVEL,
      renewTokenRequirement: e.RENEW_TOKEN_REQUIREMENT,
    },
    signingKeys: {
      dir: e.SIGNING_KEYS_DIR,
      // Generating keys on the fly is a development convenience; production brings its own.
      generateIfMissing: e.SIGNING_KEYS_GENERATE ?? e.NODE_ENV !== 'production',
      propagationGraceMs: e.SIGNING_KEY_PROPAGATION_GRACE,
    },
    sessionUpdates: { recipientJwk: e.SESSION_UPDATE_RECIPIENT_JWK, plaintext: e.SESSION_UPDATE_PLAINTEXT },
    clientLogin: { maxFailures: e.LOGIN_MAX_FAILURES, failureWindowMs: e.LOGIN_FAILURE_WINDOW },
    housekeeping: {
      intervalMs: e.HOUSEKEEPING_INTERVAL,
      processedEventRetentionMs: e.PROCESSED_EVENT_RETENTION,
      endedSessionRetentionMs: e.ENDED_SESSION_RETENTION,
    },
    fanOut: { batchSize: e.FANOUT_BATCH_SIZE },
    outbox: { batchSize: e.OUTBOX_BATCH_SIZE, batchBytes: e.OUTBOX_BATCH_BYTES, lingerMs: e.OUTBOX_LINGER },
    helperThreadNice: e.HELPER_THREAD_NICE,
  };
}

/** The dead-letter topic of an input topic. */
export function deadLetterTopic(config: AppConfig, topic: string): string {
  return `${topic}${config.kafka.dlqSuffix}`;
}
