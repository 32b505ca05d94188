import { describe, expect, it } from 'vitest';
import {
  AUTH_LEVELS,
  BUSINESS_ROLE,
  diffAuthorities,
  ROLE_PREFIX,
  rolesOf,
  sameAuthorities,
  toAuthority,
} from './authorities';

describe('authorities helpers', () => {
  it('prefixes role names with ROLE_', () => {
    expect(ROLE_PREFIX).toBe('ROLE_');
    expect(toAuthority('CLI-1STPARTY')).toBe('ROLE_CLI-1STPARTY');
    expect(toAuthority(BUSINESS_ROLE)).toBe('ROLE_BUSINESS');
  });

  it('knows the three authentication levels', () => {
    expect(AUTH_LEVELS).toEqual(['AUTH-BASIC', 'AUTH-IDENTIFIED', 'AUTH-MFA']);
  });

  it('reads the role names behind authorities, ignoring entries without the prefix', () => {
    expect([...rolesOf(['ROLE_USER', 'ROLE_CLI-1STPARTY', 'ADMIN', 'role_PERSON', 'ROLE_USER'])]).toEqual([
      'USER',
      'CLI-1STPARTY',
    ]);
    expect(rolesOf([]).size).toBe(0);
  });

  it('removes only the leading prefix', () => {
    expect([...rolesOf(['ROLE_ROLE_X'])]).toEqual(['ROLE_X']);
  });

  it('diffs two sets of authorities, each list sorted', () => {
    expect(diffAuthorities(['ROLE_B', 'ROLE_A', 'ROLE_C'], ['ROLE_D', 'ROLE_C', 'ROLE_A', 'ROLE_0'])).toEqual(
      {
        added: ['ROLE_0', 'ROLE_D'],
        removed: ['ROLE_B'],
      },
    );
  });

  it('diffs from nothing and to nothing', () => {
    expect(diffAuthorities([], ['ROLE_B', 'ROLE_A'])).toEqual({ added: ['ROLE_A', 'ROLE_B'], removed: [] });
    expect(diffAuthorities(['ROLE_B', 'ROLE_A'], [])).toEqual({ added: [], removed: ['ROLE_A', 'ROLE_B'] });
    expect(diffAuthorities(['ROLE_A'], ['ROLE_A'])).toEqual({ added: [], removed: [] });
  });

  it('compares authorities as sets regardless of order', () => {
    expect(sameAuthorities(['ROLE_A', 'ROLE_B'], ['ROLE_B', 'ROLE_A'])).toBe(true);
    expect(sameAuthorities([], [])).toBe(true);
    expect(sameAuthorities(['ROLE_A'], ['ROLE_A', 'ROLE_B'])).toBe(false);
    expect(sameAuthorities(['ROLE_A', 'ROLE_B'], ['ROLE_A', 'ROLE_C'])).toBe(false);
  });
});
