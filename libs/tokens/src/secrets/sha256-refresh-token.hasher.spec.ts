import { describe, expect, it } from 'vitest';
import { RandomIds } from './random-ids';
import { Sha256RefreshTokenHasher } from './sha256-refresh-token.hasher';

describe('Sha256RefreshTokenHasher', () => {
  it('is the SHA-256 hex digest of the token', () => {
    expect(new Sha256RefreshTokenHasher().hash('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('RandomIds', () => {
  it('makes distinct UUID v4 values', () => {
    const ids = new RandomIds();
    const values = Array.from({ length: 100 }, () => ids.uuid());
    for (const value of values)
      expect(value).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(values).size).toBe(values.length);
  });
});
