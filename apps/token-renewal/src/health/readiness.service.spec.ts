import type { Pool } from 'pg';
import { describe, expect, it } from 'vitest';
import type { ConsumerState } from '@iam/messaging';
import type { SigningKeyRing } from '@iam/tokens';
import { ReadinessService } from './readiness.service';

const database = { query: async () => ({ rows: [{ '?column?': 1 }] }) } as unknown as Pool;
const joined = { ready: true, status: 'joined' } as ConsumerState;
const keys = (status: ReturnType<SigningKeyRing['signingStatus']>) =>
  ({ signingStatus: () => status }) as unknown as SigningKeyRing;

describe('ReadinessService', () => {
  it('is ready with the database up, the consumer joined and the signing keys current', async () => {
    const readiness = new ReadinessService(database, joined, keys({ current: true, lastReadAt: new Date() }));
    expect(await readiness.check()).toEqual({
      status: 'ready',
      checks: { database: 'up', kafkaConsumer: 'joined', signingKeys: 'current' },
    });
  });

  it('takes no traffic while the signing keys have not been read for too long: every renewal would be a 503', async () => {
    const lastReadAt = new Date('2026-11-30T12:00:00.000Z');
    const readiness = new ReadinessService(database, joined, keys({ current: false, lastReadAt }));
    expect(await readiness.check()).toEqual({
      status: 'not ready',
      checks: {
        database: 'up',
        kafkaConsumer: 'joined',
        signingKeys: 'not read since 2026-11-30T12:00:00.000Z',
      },
    });
  });
});
