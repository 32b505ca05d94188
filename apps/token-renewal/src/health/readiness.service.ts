import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { ConsumerState } from '@iam/messaging';
import { PG_POOL } from '../infrastructure/tokens';

export interface Readiness {
  readonly status: 'ready' | 'not ready';
  readonly checks: { readonly database: string; readonly kafkaConsumer: string };
}

const DATABASE_CHECK_TIMEOUT_MS = 2_000;

@Injectable()
export class ReadinessService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(ConsumerState) private readonly consumer: ConsumerState,
  ) {}

  async check(): Promise<Readiness> {
    const database = await this.checkDatabase();
    const kafkaConsumer = this.consumer.status;
    const ready = database === 'up' && this.consumer.ready;
    return { status: ready ? 'ready' : 'not ready', checks: { database, kafkaConsumer } };
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
