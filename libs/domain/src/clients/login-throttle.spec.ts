import { describe, expect, it } from 'vitest';
import { secondsUntilAllowed } from './login-throttle';

describe('secondsUntilAllowed (the sliding window of failed logins)', () => {
  const settings = { maxFailures: 3, windowMs: 60_000 };
  const now = new Date('2026-11-29T12:00:00.000Z');
  const ago = (ms: number) => now.getTime() - ms;

  it('allows attempts while fewer failures than the limit fall in the window', () => {
    expect(secondsUntilAllowed([], now, settings)).toBe(0);
    expect(secondsUntilAllowed([ago(1_000), ago(2_000)], now, settings)).toBe(0);
  });

  it('ignores failures that have left the window', () => {
    expect(secondsUntilAllowed([ago(1_000), ago(2_000), ago(60_000)], now, settings)).toBe(0);
  });

  it('at the limit, waits until the oldest failure within the limit leaves the window', () => {
    // Oldest of the three is 50 s old: the window releases it in 10 s.
    expect(secondsUntilAllowed([ago(50_000), ago(1_000), ago(20_000)], now, settings)).toBe(10);
  });

  it('counts only the latest failures that the limit needs', () => {
    // Four failures: the latest three (oldest of them 30 s old) decide, not the 55 s one.
    expect(secondsUntilAllowed([ago(55_000), ago(30_000), ago(2_000), ago(1_000)], now, settings)).toBe(30);
  });

  it('never answers less than one second once the limit is reached', () => {
    expect(secondsUntilAllowed([ago(59_999), ago(1), ago(2)], now, settings)).toBe(1);
  });
});
