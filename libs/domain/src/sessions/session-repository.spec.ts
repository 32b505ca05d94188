import { describe, expect, it } from 'vitest';
import { aSession } from '../testing/session-fixtures';
import { confirmation } from './session-decision';
import { assertMovesRevision, type SessionWrite } from './session-repository';

const write = (revision: number, expectedRevision: number | null): SessionWrite => ({
  session: aSession({ id: 's1', revision }),
  expectedRevision,
  refreshToken: null,
  update: null,
});

describe('assertMovesRevision', () => {
  it('accepts a new session at revision 1 and a write one revision after the one read', () => {
    expect(() => assertMovesRevision(write(1, null))).not.toThrow();
    expect(() => assertMovesRevision(write(8, 7))).not.toThrow();
    expect(() => assertMovesRevision(confirmation(aSession({ revision: 4 })))).not.toThrow();
  });

  it('refuses a write that leaves the revision where it was, or skips one', () => {
    expect(() => assertMovesRevision(write(7, 7))).toThrow(
      'a write of session s1 carries revision 7; after 7 it must be 8',
    );
    expect(() => assertMovesRevision(write(9, 7))).toThrow(/must be 8/);
    expect(() => assertMovesRevision(write(0, null))).toThrow('after nothing it must be 1');
  });
});
