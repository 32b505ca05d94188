import { describe, expect, it } from 'vitest';
import {
  isSatisfied,
  parseRequirement,
  RequirementSyntaxError,
  type Requirement,
} from './requirement-expression';

const roles = (...names: string[]): ReadonlySet<string> => new Set(names);
const check = (expression: string, ...held: string[]): boolean =>
  isSatisfied(parseRequirement(expression), roles(...held));

function syntaxError(expression: string): RequirementSyntaxError {
  try {
    parseRequirement(expression);
  } catch (error) {
    if (error instanceof RequirementSyntaxError) return error;
    throw error;
  }
  throw new Error(`"${expression}" was accepted`);
}

describe('parseRequirement: structure', () => {
  it('parses a single role', () => {
    expect(parseRequirement('ADMIN')).toEqual({ kind: 'role', role: 'ADMIN' });
  });

  it('keeps role names as written, with dashes, dots, colons and underscores', () => {
    expect(parseRequirement('CLI-AUTH-IDENTIFIED')).toEqual({ kind: 'role', role: 'CLI-AUTH-IDENTIFIED' });
    expect(parseRequirement('a.b:c_d-1')).toEqual({ kind: 'role', role: 'a.b:c_d-1' });
  });

  it('flattens a chain of "and" into one node', () => {
    expect(parseRequirement('A and B and C')).toEqual({
      kind: 'and',
      operands: [
        { kind: 'role', role: 'A' },
        { kind: 'role', role: 'B' },
        { kind: 'role', role: 'C' },
      ],
    });
  });

  it('flattens a chain of "or" into one node', () => {
    expect(parseRequirement('A or B or C')).toEqual({
      kind: 'or',
      operands: [
        { kind: 'role', role: 'A' },
        { kind: 'role', role: 'B' },
        { kind: 'role', role: 'C' },
      ],
    });
  });

  it('binds "and" tighter than "or" (A or B and C = A or (B and C))', () => {
    const expected: Requirement = {
      kind: 'or',
      operands: [
        { kind: 'role', role: 'A' },
        {
          kind: 'and',
          operands: [
            { kind: 'role', role: 'B' },
            { kind: 'role', role: 'C' },
          ],
        },
      ],
    };
    expect(parseRequirement('A or B and C')).toEqual(expected);
  });

  it('binds "and" tighter than "or" on the left too (A and B or C = (A and B) or C)', () => {
    expect(parseRequirement('A and B or C')).toEqual({
      kind: 'or',
      operands: [
        {
          kind: 'and',
          operands: [
            { kind: 'role', role: 'A' },
            { kind: 'role', role: 'B' },
          ],
        },
        { kind: 'role', role: 'C' },
      ],
    });
  });

  it('lets brackets override precedence', () => {
    expect(parseRequirement('(A or B) and C')).toEqual({
      kind: 'and',
      operands: [
        {
          kind: 'or',
          operands: [
            { kind: 'role', role: 'A' },
            { kind: 'role', role: 'B' },
          ],
        },
        { kind: 'role', role: 'C' },
      ],
    });
  });

  it('drops redundant brackets', () => {
    expect(parseRequirement('((A))')).toEqual({ kind: 'role', role: 'A' });
  });

  it('parses "!" as not, applying to the next factor only', () => {
    expect(parseRequirement('!A and B')).toEqual({
      kind: 'and',
      operands: [
        { kind: 'not', operand: { kind: 'role', role: 'A' } },
        { kind: 'role', role: 'B' },
      ],
    });
  });

  it('parses a double negation', () => {
    expect(parseRequirement('!!X')).toEqual({
      kind: 'not',
      operand: { kind: 'not', operand: { kind: 'role', role: 'X' } },
    });
  });

  it('parses the negation of a bracketed expression', () => {
    expect(parseRequirement('!(A or B)')).toEqual({
      kind: 'not',
      operand: {
        kind: 'or',
        operands: [
          { kind: 'role', role: 'A' },
          { kind: 'role', role: 'B' },
        ],
      },
    });
  });

  it('accepts "!" followed by whitespace', () => {
    expect(parseRequirement('! A')).toEqual({ kind: 'not', operand: { kind: 'role', role: 'A' } });
  });

  it.each(['and', 'AND', 'And', 'aNd'])('accepts the keyword "%s" in any case', (keyword) => {
    expect(parseRequirement(`A ${keyword} B`)).toEqual({
      kind: 'and',
      operands: [
        { kind: 'role', role: 'A' },
        { kind: 'role', role: 'B' },
      ],
    });
  });

  it.each(['or', 'OR', 'Or', 'oR'])('accepts the keyword "%s" in any case', (keyword) => {
    expect(parseRequirement(`A ${keyword} B`)).toEqual({
      kind: 'or',
      operands: [
        { kind: 'role', role: 'A' },
        { kind: 'role', role: 'B' },
      ],
    });
  });

  it('treats words that merely start with a keyword as roles', () => {
    expect(parseRequirement('ANDROID or ORACLE')).toEqual({
      kind: 'or',
      operands: [
        { kind: 'role', role: 'ANDROID' },
        { kind: 'role', role: 'ORACLE' },
      ],
    });
  });

  it('tolerates surrounding and repeated whitespace, tabs and newlines', () => {
    expect(parseRequirement('  A\tand\n\n B  ')).toEqual(parseRequirement('A and B'));
  });

  it('needs no whitespace around brackets and "!"', () => {
    expect(parseRequirement('(A)and(!B)')).toEqual(parseRequirement('A and !B'));
  });

  it('accepts an expression of exactly the maximum length (4,096 characters)', () => {
    const role = 'R'.repeat(4_096);
    expect(parseRequirement(role)).toEqual({ kind: 'role', role });
  });

  it('parses deeply nested brackets and negations without failing', () => {
    const depth = 1_000;
    const nested = `${'('.repeat(depth)}A${')'.repeat(depth)}`;
    expect(parseRequirement(nested)).toEqual({ kind: 'role', role: 'A' });
    expect(check(`${'!'.repeat(1_000)}A`, 'A')).toBe(true);
    expect(check(`${'!'.repeat(1_001)}A`, 'A')).toBe(false);
  });
});

describe('isSatisfied', () => {
  it.each([
    ['A', [], false],
    ['A', ['A'], true],
    ['A', ['a'], false],
    ['A and B', ['A'], false],
    ['A and B', ['B'], false],
    ['A and B', ['A', 'B'], true],
    ['A or B', [], false],
    ['A or B', ['A'], true],
    ['A or B', ['B'], true],
    ['A or B', ['A', 'B'], true],
    ['!A', [], true],
    ['!A', ['A'], false],
    ['!!X', ['X'], true],
    ['!!X', [], false],
    ['!(A or B)', [], true],
    ['!(A or B)', ['A'], false],
    ['!(A or B)', ['B'], false],
    ['!(A and B)', ['A'], true],
    ['!(A and B)', ['A', 'B'], false],
    // and binds tighter: A or (B and C)
    ['A or B and C', ['A'], true],
    ['A or B and C', ['B'], false],
    ['A or B and C', ['C'], false],
    ['A or B and C', ['B', 'C'], true],
    // brackets: (A or B) and C
    ['(A or B) and C', ['A'], false],
    ['(A or B) and C', ['A', 'C'], true],
    ['(A or B) and C', ['B', 'C'], true],
    ['(A or B) and C', ['C'], false],
    // ! applies to the next factor only: (!A) and B
    ['!A and B', ['B'], true],
    ['!A and B', ['A', 'B'], false],
    ['!A and B', [], false],
    ['A AND B OR C', ['C'], true],
    ['A AND B OR C', ['A'], false],
  ] as const)('"%s" with roles %j is %s', (expression, held, expected) => {
    expect(check(expression, ...held)).toBe(expected);
  });

  it('matches role names exactly (case-sensitive, no prefix, no substring)', () => {
    expect(check('ADMIN', 'admin')).toBe(false);
    expect(check('ADMIN', 'ROLE_ADMIN')).toBe(false);
    expect(check('ADMIN', 'ADMINISTRATOR')).toBe(false);
    expect(check('USER', 'BUSINESSUSER')).toBe(false);
  });

  it('ignores roles the expression does not mention', () => {
    expect(check('A', 'A', 'B', 'C', 'D')).toBe(true);
  });
});

describe('the default Renew Token requirement', () => {
  const forms = [
    '(CLI-AUTH-IDENTIFIED and CLI-1STPARTY) or (CLI-AUTH-IDENTIFIED and CLI-1STPARTY and AUTH-BASIC and USER)',
    'CLI-AUTH-IDENTIFIED and CLI-1STPARTY or CLI-AUTH-IDENTIFIED and CLI-1STPARTY and AUTH-BASIC and USER',
  ];

  describe.each(forms)('%s', (expression) => {
    const requirement = parseRequirement(expression);
    const ok = (...held: string[]) => isSatisfied(requirement, roles(...held));

    it('admits an application token', () => {
      expect(ok('CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY')).toBe(true);
    });

    it("admits a user's token issued to a first-party application", () => {
      expect(ok('CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC', 'USER')).toBe(true);
    });

    it('admits a token holding further roles', () => {
      expect(ok('CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'CLI-OTHER', 'ADMIN')).toBe(true);
    });

    it('refuses a client that is not first-party', () => {
      expect(ok('CLI-AUTH-IDENTIFIED')).toBe(false);
      expect(ok('CLI-AUTH-IDENTIFIED', 'AUTH-BASIC', 'USER')).toBe(false);
    });

    it('refuses a first-party client that is not identified', () => {
      expect(ok('CLI-1STPARTY')).toBe(false);
      expect(ok('CLI-1STPARTY', 'AUTH-BASIC', 'USER')).toBe(false);
    });

    it('refuses a token without roles', () => {
      expect(ok()).toBe(false);
    });

    it('refuses user roles without client roles', () => {
      expect(ok('AUTH-BASIC', 'USER', 'ADMIN')).toBe(false);
    });
  });

  it('both forms mean the same for every combination of the four roles', () => {
    const [grouped, flat] = forms.map((form) => parseRequirement(form));
    const names = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC', 'USER'];
    for (let mask = 0; mask < 16; mask += 1) {
      const held = roles(...names.filter((_, bit) => (mask & (1 << bit)) !== 0));
      expect(isSatisfied(grouped!, held)).toBe(isSatisfied(flat!, held));
      expect(isSatisfied(flat!, held)).toBe(held.has('CLI-AUTH-IDENTIFIED') && held.has('CLI-1STPARTY'));
    }
  });
});

describe("AuthMe's business requirement", () => {
  const requirement = parseRequirement(
    'CLI-AUTH-IDENTIFIED and CLI-1STPARTY and AUTH-BASIC and ((PERSON and !BUSINESS) or BUSINESSOWNER or BUSINESSADMIN or ADMIN)',
  );
  const base = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC'];
  const ok = (...held: string[]) => isSatisfied(requirement, roles(...base, ...held));

  it('parses to and(CLI-AUTH-IDENTIFIED, CLI-1STPARTY, AUTH-BASIC, or(and(PERSON, not BUSINESS), ...))', () => {
    expect(requirement).toEqual({
      kind: 'and',
      operands: [
        { kind: 'role', role: 'CLI-AUTH-IDENTIFIED' },
        { kind: 'role', role: 'CLI-1STPARTY' },
        { kind: 'role', role: 'AUTH-BASIC' },
        {
          kind: 'or',
          operands: [
            {
              kind: 'and',
              operands: [
                { kind: 'role', role: 'PERSON' },
                { kind: 'not', operand: { kind: 'role', role: 'BUSINESS' } },
              ],
            },
            { kind: 'role', role: 'BUSINESSOWNER' },
            { kind: 'role', role: 'BUSINESSADMIN' },
            { kind: 'role', role: 'ADMIN' },
          ],
        },
      ],
    });
  });

  it('admits a person acting for themself', () => {
    expect(ok('PERSON', 'USER')).toBe(true);
  });

  it('refuses a person acting for a business without an owner/admin membership', () => {
    expect(ok('PERSON', 'BUSINESS', 'BUSINESSUSER')).toBe(false);
  });

  it("admits a business's owner", () => {
    expect(ok('PERSON', 'BUSINESS', 'BUSINESSOWNER')).toBe(true);
  });

  it("admits a business's admin", () => {
    expect(ok('BUSINESS', 'BUSINESSADMIN')).toBe(true);
  });

  it('admits an ADMIN', () => {
    expect(ok('ADMIN')).toBe(true);
    expect(ok('ADMIN', 'BUSINESS')).toBe(true);
  });

  it('refuses a user that is neither a person nor a business manager', () => {
    expect(ok('USER')).toBe(false);
    expect(ok('BUSINESS')).toBe(false);
    expect(ok('BUSINESSUSER')).toBe(false);
  });

  it('refuses without the authentication level, even for an ADMIN', () => {
    expect(isSatisfied(requirement, roles('CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'ADMIN'))).toBe(false);
    expect(isSatisfied(requirement, roles('CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-MFA', 'ADMIN'))).toBe(
      false,
    );
  });

  it('refuses without the client roles', () => {
    expect(isSatisfied(requirement, roles('CLI-1STPARTY', 'AUTH-BASIC', 'PERSON'))).toBe(false);
    expect(isSatisfied(requirement, roles('CLI-AUTH-IDENTIFIED', 'AUTH-BASIC', 'PERSON'))).toBe(false);
  });
});

describe('parseRequirement: malformed input', () => {
  it.each([
    ['', 0],
    ['   ', 3],
    ['A and', 5],
    ['A or', 4],
    ['(A', 2],
    ['A)', 1],
    ['A or or B', 5],
    ['and', 0],
    ['or B', 0],
    ['A B', 2],
    ['()', 1],
    ['!', 1],
    ['A and !', 7],
    ['(A or B', 7],
    ['((A)', 4],
    ['A and (B or C))', 14],
    ['A and and B', 6],
  ] as const)('rejects %j (error at position %i)', (expression, position) => {
    const error = syntaxError(expression);
    expect(error).toBeInstanceOf(RequirementSyntaxError);
    expect(error.name).toBe('RequirementSyntaxError');
    expect(error.expression).toBe(expression);
    expect(error.position).toBe(position);
    expect(error.message).toContain(`at position ${position}`);
  });

  it.each([
    ['A & B', 2, '&'],
    ['A | B', 2, '|'],
    ['A && B', 2, '&'],
    ['A, B', 1, ','],
    ['-A', 0, '-'],
    ['A and ~B', 6, '~'],
    ['ROLÉ', 3, 'É'],
  ] as const)('rejects %j for the unexpected character at %i', (expression, position, char) => {
    const error = syntaxError(expression);
    expect(error.position).toBe(position);
    expect(error.message).toContain(`unexpected character "${char}"`);
  });

  it('names what it expected when a factor is missing', () => {
    expect(syntaxError('A and').message).toBe(
      'expected a role, "!" or "(" but found "end of expression" at position 5 in "A and"',
    );
    expect(syntaxError('A or or B').message).toBe(
      'expected a role, "!" or "(" but found "or" at position 5 in "A or or B"',
    );
  });

  it('reports a missing closing bracket', () => {
    expect(syntaxError('(A').message).toBe('missing ")" at position 2 in "(A"');
  });

  it('reports trailing input', () => {
    expect(syntaxError('A B').message).toBe('unexpected "B" at position 2 in "A B"');
    expect(syntaxError('A)').message).toBe('unexpected ")" at position 1 in "A)"');
  });

  it('rejects an expression longer than 4,096 characters before reading it', () => {
    const long = `${'A and '.repeat(700)}A`;
    expect(long.length).toBeGreaterThan(4_096);
    const error = syntaxError(long);
    expect(error.position).toBe(4_096);
    expect(error.expression).toBe(long.slice(0, 64));
    expect(error.message).toContain('expression too long');
  });

  it('rejects an over-long expression even if it is a single role', () => {
    const error = syntaxError('R'.repeat(4_097));
    expect(error.message).toContain('expression too long');
  });
});
