import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { DryRunAbandonedError } from '../errors/dry-run-abandoned.error';

/**
 * Raw SQL on the shared pg pool, for the statements on the hot paths (renewal,
 * fan-out, outbox relay). Prisma's client adds about 250 µs of CPU to every
 * statement on this machine (410 µs against 165 µs for a trivial query), which
 * the renewal path cannot afford; the schema, the migrations and everything
 * else stay with Prisma. Named statements are prepared once per connection.
 */
export interface Sql {
  /**
   * `name` prepares the statement once per connection; PostgreSQL may then
   * plan it once for all values (a generic plan). `null` sends it unnamed:
   * planned with its values on every call, for statements whose best plan
   * depends on them.
   */
  query<T extends QueryResultRow>(
    name: string | null,
    text: string,
    values?: readonly unknown[],
  ): Promise<T[]>;
  /** Runs work in one transaction on one connection; rolls back if it throws. */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T>;
}

function queryConfig(name: string | null, text: string, values: readonly unknown[]) {
  return name === null ? { text, values: [...values] } : { name, text, values: [...values] };
}

/** SQL on one connection, inside a transaction its owner controls (nested transactions join it). */
export class ClientSql implements Sql {
  constructor(private readonly client: PoolClient) {}

  async query<T extends QueryResultRow>(
    name: string | null,
    text: string,
    values: readonly unknown[] = [],
  ): Promise<T[]> {
    return (await this.client.query<T>(queryConfig(name, text, values))).rows;
  }

  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return work(this);
  }
}

export class PgSql implements Sql {
  constructor(private readonly pool: Pool) {}

  async query<T extends QueryResultRow>(
    name: string | null,
    text: string,
    values: readonly unknown[] = [],
  ): Promise<T[]> {
    return (await this.pool.query<T>(queryConfig(name, text, values))).rows;
  }

  async transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let failed = false;
    // A checked-out client that loses its server emits 'error' (besides failing the query in
    // flight); with no listener that would crash the process. The failed query reports it.
    const onConnectionError = () => {
      failed = true;
    };
    client.on('error', onConnectionError);
    try {
      await client.query('BEGIN');
      const result = await work(new ClientSql(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failed = true;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.off('error', onConnectionError);
      // A connection that failed mid-transaction may be broken: let the pool replace it.
      client.release(failed ? true : undefined);
    }
  }
}

/**
 * How long a dry run waits for a row that live traffic holds. Below
 * PostgreSQL's `deadlock_timeout` (1 s), so that where the two deadlock the
 * dry run mostly gives way before the server picks a victim. Not always: when
 * the live transaction began waiting more than 0.5 s before the dry run did,
 * its own check fires first and it is the victim (the service retries a
 * deadlock as transient).
 */
const DRY_RUN_LOCK_TIMEOUT = '500ms';

/**
 * One connection inside a transaction that is always rolled back: whatever runs
 * on it sees its own writes, and none of them survive (the operator's dry runs).
 * It holds every row it writes until the end, so live renewals and events of
 * those sessions wait for it (README, Operator runbook); it waits for theirs
 * only briefly, and after its first failure it fails at once.
 */
export class RolledBackSql extends ClientSql {
  private failure: DryRunAbandonedError | undefined;

  private constructor(private readonly connection: PoolClient) {
    super(connection);
  }

  static async begin(pool: Pool): Promise<RolledBackSql> {
    const connection = await pool.connect();
    // A lost connection fails the query in flight; the event itself must not crash the process.
    connection.on('error', () => undefined);
    await connection.query('BEGIN');
    await connection.query(`SET LOCAL lock_timeout = '${DRY_RUN_LOCK_TIMEOUT}'`);
    return new RolledBackSql(connection);
  }

  override async query<T extends QueryResultRow>(
    name: string | null,
    text: string,
    values: readonly unknown[] = [],
  ): Promise<T[]> {
    if (this.failure) throw this.failure;
    try {
      return await super.query<T>(name, text, values);
    } catch (error) {
      this.failure = new DryRunAbandonedError(error);
      throw this.failure;
    }
  }

  async rollback(): Promise<void> {
    try {
      await this.connection.query('ROLLBACK');
    } finally {
      this.connection.release();
    }
  }
}
