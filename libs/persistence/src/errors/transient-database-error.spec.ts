import { describe, expect, it } from 'vitest';
import { DryRunAbandonedError } from './dry-run-abandoned.error';
import { isDatabaseUnavailable, isTransientDatabaseError } from './transient-database-error';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('database failure classes', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED')],
    ['admin shutdown (57P01)', withCode('57P01')],
    ['too many connections (53300)', withCode('53300')],
    ['connection failure (08006)', withCode('08006')],
    ['Prisma: server unreachable', withCode('P1001')],
    ['a terminated connection, by message', new Error('Connection terminated unexpectedly')],
    ['a wrapped cause', new Error('query failed', { cause: withCode('ECONNRESET') })],
  ])('%s: unavailable, hence transient', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(isTransientDatabaseError(error)).toBe(true);
  });

  it.each([
    ['deadlock (40P01)', withCode('40P01')],
    ['serialization failure (40001)', withCode('40001')],
    ['lock not available (55P03)', withCode('55P03')],
    ['Prisma: write conflict', withCode('P2034')],
  ])('%s: contention, transient but about the work, not the database being away', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(isTransientDatabaseError(error)).toBe(true);
  });

  it.each([
    ['unique violation (23505)', withCode('23505')],
    ['protocol violation (08P01), a bug of the client', withCode('08P01')],
    ['statement timeout (57014)', withCode('57014')],
    [
      'idle-in-transaction timeout (25P03), whatever its message says',
      withCode('25P03', 'terminating connection due to idle-in-transaction timeout'),
    ],
    ['syntax error (42601)', withCode('42601')],
    ['a plain error', new Error('boom')],
    ['not an error', 'text'],
    // Retrying inside the transaction PostgreSQL aborted would only fail again.
    [
      'a dry run abandoned over a lost connection',
      new DryRunAbandonedError(new Error('Connection terminated unexpectedly')),
    ],
    ['a dry run abandoned over a lock wait', new DryRunAbandonedError(withCode('55P03'))],
  ])('%s: neither', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(isTransientDatabaseError(error)).toBe(false);
  });
});
