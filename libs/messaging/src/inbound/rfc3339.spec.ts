import { describe, expect, it } from 'vitest';
import { parseRfc3339 } from './rfc3339';

describe('parseRfc3339', () => {
  it('reads UTC and offset times to the millisecond', () => {
    expect(parseRfc3339('2026-11-28T10:00:00.123456789Z')?.toISOString()).toBe('2026-11-28T10:00:00.123Z');
    expect(parseRfc3339('2026-11-28T12:30:00+02:30')?.toISOString()).toBe('2026-11-28T10:00:00.000Z');
    expect(parseRfc3339('2026-11-28t10:00:00z')?.toISOString()).toBe('2026-11-28T10:00:00.000Z');
  });

  it('refuses impossible dates and times', () => {
    for (const text of [
      '2026-02-30T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-11-28T24:00:00Z',
      '2026-11-28T10:60:00Z',
      '2026-11-28T10:00:00+24:00',
      '2026-11-28 10:00:00Z',
      '2026-11-28T10:00:00',
    ]) {
      expect(parseRfc3339(text), text).toBeUndefined();
    }
    expect(parseRfc3339('2024-02-29T00:00:00Z')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
  });

  it('accepts a leap second as the last millisecond of its minute', () => {
    expect(parseRfc3339('2016-12-31T23:59:60Z')?.toISOString()).toBe('2016-12-31T23:59:59.999Z');
  });
});
