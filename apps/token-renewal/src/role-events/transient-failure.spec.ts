import { KafkaJSConnectionError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { SessionContentionError } from '@iam/domain';
import { SigningKeysStaleError } from '@iam/tokens';
import { isTransientFailure } from './transient-failure';

describe('isTransientFailure: what the consumer waits out instead of stopping', () => {
  it.each([
    ['sessions changing under a fan-out', new SessionContentionError(['s1'])],
    ['signing keys not read for too long', new SigningKeysStaleError(new Date(0))],
    ['the database unreachable', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a deadlock', Object.assign(new Error('deadlock detected'), { code: '40P01' })],
    ['the broker unreachable', new KafkaJSConnectionError('Connection error')],
  ])('waits out %s', (_, error) => {
    expect(isTransientFailure(error)).toBe(true);
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'roles')")],
    ['a constraint the data broke', Object.assign(new Error('duplicate key'), { code: '23505' })],
  ])('stops on %s', (_, error) => {
    expect(isTransientFailure(error)).toBe(false);
  });
});
