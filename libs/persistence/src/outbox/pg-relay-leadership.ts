import { Client } from 'pg';
import type { Logger } from 'pino';
import type { RelayLeadership } from '@iam/messaging';

/** Advisory lock key of the outbox relay (an arbitrary constant, stable across versions). */
const RELAY_LOCK = 5_318_008_001;

/**
 * The relay's lease: a session-level advisory lock on a dedicated connection.
 * Losing the connection loses the lease, and PostgreSQL releases the lock for
 * the next instance.
 */
export class PgRelayLeadership implements RelayLeadership {
  private client: Client | undefined;
  private leader = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  get held(): boolean {
    return this.leader && this.client !== undefined;
  }

  async tryAcquire(): Promise<boolean> {
    if (this.held) return true;
    const client = await this.connect();
    const result = await client.query<{ acquired: boolean }>('SELECT pg_try_advisory_lock($1) AS acquired', [
      RELAY_LOCK,
    ]);
    this.leader = result.rows[0]?.acquired === true;
    if (this.leader) this.logger.info('outbox relay lease acquired');
    return this.leader;
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.leader = false;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    const client = new Client({ connectionString: this.url, application_name: 'iam-outbox-relay' });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'outbox relay lost its database connection; lease released');
      this.leader = false;
      this.client = undefined;
      client.end().catch(() => undefined);
    });
    await client.connect();
    this.client = client;
    return client;
  }
}
