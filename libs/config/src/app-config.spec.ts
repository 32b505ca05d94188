import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config';

const REQUIRED = {
  DATABASE_URL: 'postgresql://iam@db:5432/iam',
  KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092',
  SESSION_UPDATE_RECIPIENT_JWK: '/run/secrets/recipient.jwk.json',
};

/** The problems loadConfig reports for this environment (none: it loaded). */
function problems(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('loadConfig: the environment, validated once at boot', () => {
  it('needs only the database, the brokers and the recipient key; everything else has a default', () => {
    const config = loadConfig(REQUIRED);
    expect(config.kafka.brokers).toEqual(['kafka-1:9092', 'kafka-2:9092']);
    expect(config.tokens).toMatchObject({
      accessTokenTtlMs: 15 * 60_000,
      sessionTtlMs: 8 * 3_600_000,
      rememberMeSessionTtlMs: 30 * 86_400_000,
    });
    expect(config.housekeeping).toEqual({
      intervalMs: 10 * 60_000,
      processedEventRetentionMs: 7 * 86_400_000,
      endedSessionRetentionMs: 7 * 86_400_000,
    });
    expect(config.outbox.lingerMs).toBe(20);
    expect(config.helperThreadNice).toBe(10);
  });

  it('takes 0 to 19 nice steps for the helper threads, and nothing else, an empty value included', () => {
    expect(loadConfig({ ...REQUIRED, HELPER_THREAD_NICE: '0' }).helperThreadNice).toBe(0);
    expect(loadConfig({ ...REQUIRED, HELPER_THREAD_NICE: ' 19 ' }).helperThreadNice).toBe(19);
    for (const value of ['', '-5', '20', '2.5', 'low']) {
      expect(problems({ ...REQUIRED, HELPER_THREAD_NICE: value })).toEqual([
        'HELPER_THREAD_NICE: expected a whole number of nice steps from 0 to 19',
      ]);
    }
  });

  it('reads durations with a unit, and a bare number as seconds (as in a JWT)', () => {
    const config = loadConfig({
      ...REQUIRED,
      ACCESS_TOKEN_TTL: '900',
      SESSION_TTL: '12h',
      PROCESSED_EVENT_RETENTION: '2d',
      ENDED_SESSION_RETENTION: '90m',
      OUTBOX_LINGER: '5ms',
    });
    expect(config.tokens.accessTokenTtlMs).toBe(900_000);
    expect(config.tokens.sessionTtlMs).toBe(12 * 3_600_000);
    expect(config.housekeeping.processedEventRetentionMs).toBe(2 * 86_400_000);
    expect(config.housekeeping.endedSessionRetentionMs).toBe(90 * 60_000);
    expect(config.outbox.lingerMs).toBe(5);
  });

  it('takes 0 only where it means none: no housekeeping here, no linger', () => {
    const config = loadConfig({ ...REQUIRED, HOUSEKEEPING_INTERVAL: '0', OUTBOX_LINGER: '0' });
    expect(config.housekeeping.intervalMs).toBe(0);
    expect(config.outbox.lingerMs).toBe(0);
    expect(
      problems({
        ...REQUIRED,
        ACCESS_TOKEN_TTL: '0',
        PROCESSED_EVENT_RETENTION: '0',
        ENDED_SESSION_RETENTION: '0',
      }),
    ).toEqual([
      'ACCESS_TOKEN_TTL: expected a duration such as 900, 15m, 8h or 30d, got "0"',
      'PROCESSED_EVENT_RETENTION: expected a duration such as 900, 15m, 8h or 30d, got "0"',
      'ENDED_SESSION_RETENTION: expected a duration such as 900, 15m, 8h or 30d, got "0"',
    ]);
  });

  it('refuses a housekeeping interval longer than a timer can wait (it would fire at once)', () => {
    expect(loadConfig({ ...REQUIRED, HOUSEKEEPING_INTERVAL: '24d' }).housekeeping.intervalMs).toBe(
      24 * 86_400_000,
    );
    expect(problems({ ...REQUIRED, HOUSEKEEPING_INTERVAL: '25d' })).toEqual([
      'HOUSEKEEPING_INTERVAL: expected a duration such as 10m (at most 24d), or 0 for never, got "25d"',
    ]);
  });

  it('names every bad setting at once, a missing one as required', () => {
    expect(
      problems({
        KAFKA_BROKERS: 'no-port',
        SESSION_UPDATE_PLAINTEXT: 'true',
        HOUSEKEEPING_INTERVAL: 'weekly',
        SESSION_TTL: '-5m',
      }),
    ).toEqual([
      'DATABASE_URL: required but not set',
      'KAFKA_BROKERS: expected host:port',
      'SESSION_TTL: expected a duration such as 900, 15m, 8h or 30d, got "-5m"',
      'HOUSEKEEPING_INTERVAL: expected a duration such as 10m (at most 24d), or 0 for never, got "weekly"',
    ]);
  });

  it('refuses to start without a recipient key unless plaintext tokens on the topic are asked for', () => {
    const { SESSION_UPDATE_RECIPIENT_JWK: _recipient, ...withoutRecipient } = REQUIRED;
    expect(problems(withoutRecipient)).toEqual([
      'SESSION_UPDATE_RECIPIENT_JWK: required unless SESSION_UPDATE_PLAINTEXT=true (tokens on the session-update topic are encrypted to this key)',
    ]);
    expect(loadConfig({ ...withoutRecipient, SESSION_UPDATE_PLAINTEXT: 'true' }).sessionUpdates).toEqual({
      recipientJwk: undefined,
      plaintext: true,
    });
  });

  it('refuses a malformed requirement expression at boot', () => {
    expect(problems({ ...REQUIRED, RENEW_TOKEN_REQUIREMENT: 'CLI-1STPARTY and (' })).toEqual([
      expect.stringMatching(/^RENEW_TOKEN_REQUIREMENT: not a valid requirement expression: /),
    ]);
  });
});
