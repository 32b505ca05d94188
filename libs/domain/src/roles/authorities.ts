/** Authorities are role names with this prefix, as AuthMe's tokens carry them. */
export const ROLE_PREFIX = 'ROLE_';

export const BUSINESS_ROLE = 'BUSINESS';

export const AUTH_LEVELS = ['AUTH-BASIC', 'AUTH-IDENTIFIED', 'AUTH-MFA'] as const;
export type AuthLevel = (typeof AUTH_LEVELS)[number];

export function toAuthority(role: string): string {
  return `${ROLE_PREFIX}${role}`;
}

/** The role names behind a token's authorities (entries without the prefix are ignored). */
export function rolesOf(authorities: readonly string[]): Set<string> {
  const roles = new Set<string>();
  for (const authority of authorities) {
    if (authority.startsWith(ROLE_PREFIX)) roles.add(authority.slice(ROLE_PREFIX.length));
  }
  return roles;
}

export interface AuthorityDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** What changed between two sets of authorities, each list sorted. */
export function diffAuthorities(before: readonly string[], after: readonly string[]): AuthorityDiff {
  const previous = new Set(before);
  const next = new Set(after);
  return {
    added: [...next].filter((authority) => !previous.has(authority)).sort(),
    removed: [...previous].filter((authority) => !next.has(authority)).sort(),
  };
}

export function sameAuthorities(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((authority) => set.has(authority));
}
