import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { ConsumerState } from '@iam/messaging';
import { SigningKeyRing } from '@iam/tokens';
import { PG_POOL } from '../infrastructure/tokens';

export interface Readiness {
  readonly status: 'ready' | 'not ready';
  readonly checks: {
    readonly database: string;
    readonly kafkaConsumer: string;
    readonly signingKeys: string;
  };
}

const DATABASE_CHECK_TIMEOUT_MS = 2_000;

@Injectable()
export class ReadinessService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(ConsumerState) private readonly consumer: ConsumerState,
    @Inject(SigningKeyRing) private readonly keys: SigningKeyRing,
  ) {}

  async check(): Promise<Readiness> {
    const database = await this.checkDatabase();
    const kafkaConsumer = this.consumer.status;
    // Not signing (keys not read for too long): every renewal would be a 503, so take no traffic.
    const { current, lastReadAt } = this.keys.signingStatus();
    const signingKeys = current ? 'current' : `not read since ${lastReadAt?.toISOString() ?? 'start'}`;
    const ready = database === 'up' && this.consumer.ready && current;
    return { status: ready ? 'ready' : 'not ready', checks: { database, kafkaConsumer, signingKeys } };
  }

  private async checkDatabase(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), DATABASE_CHECK_TIMEOUT_MS);
      });
      await Promise.race([this.pool.query('SELECT 1'), timeout]);
      return 'up';
    } catch (error) {
      return `down: ${(error as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
  }
}
