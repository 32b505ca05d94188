/**
 * AuthMe writes endpoint requirements as boolean expressions over role names:
 * `CLI-AUTH-IDENTIFIED and CLI-1STPARTY and ((PERSON and !BUSINESS) or ADMIN)`.
 * A requirement is data: parsed once (at boot, so a typo stops the process) and
 * evaluated against the role names a token carries.
 *
 * Grammar (`and` binds tighter than `or`; keywords are case-insensitive):
 *   expression := term ("or" term)*
 *   term       := factor ("and" factor)*
 *   factor     := "!" factor | "(" expression ")" | ROLE
 */
export type Requirement =
  | { readonly kind: 'role'; readonly role: string }
  | { readonly kind: 'not'; readonly operand: Requirement }
  | { readonly kind: 'and'; readonly operands: readonly Requirement[] }
  | { readonly kind: 'or'; readonly operands: readonly Requirement[] };

export class RequirementSyntaxError extends Error {
  constructor(
    message: string,
    readonly expression: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position} in "${expression}"`);
    this.name = 'RequirementSyntaxError';
  }
}

type Token =
  | { readonly type: 'and' | 'or' | 'not' | '(' | ')' | 'end'; readonly position: number }
  | { readonly type: 'role'; readonly role: string; readonly position: number };

const ROLE_NAME = /[A-Za-z0-9_][A-Za-z0-9_.:-]*/y;
const MAX_EXPRESSION_LENGTH = 4_096;

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  let position = 0;
  while (position < expression.length) {
    const char = expression.charAt(position);
    if (/\s/.test(char)) {
      position += 1;
    } else if (char === '(' || char === ')') {
      tokens.push({ type: char, position });
      position += 1;
    } else if (char === '!') {
      tokens.push({ type: 'not', position });
      position += 1;
    } else {
      ROLE_NAME.lastIndex = position;
      const match = ROLE_NAME.exec(expression);
      if (!match) throw new RequirementSyntaxError(`unexpected character "${char}"`, expression, position);
      const word = match[0];
      const keyword = word.toLowerCase();
      if (keyword === 'and' || keyword === 'or') tokens.push({ type: keyword, position });
      else tokens.push({ type: 'role', role: word, position });
      position += word.length;
    }
  }
  tokens.push({ type: 'end', position });
  return tokens;
}

class Parser {
  private index = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly expression: string,
  ) {}

  parse(): Requirement {
    const requirement = this.parseOr();
    const rest = this.peek();
    if (rest.type !== 'end') this.fail(`unexpected "${this.describe(rest)}"`, rest);
    return requirement;
  }

  private parseOr(): Requirement {
    const operands = [this.parseAnd()];
    while (this.peek().type === 'or') {
      this.index += 1;
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'or', operands };
  }

  private parseAnd(): Requirement {
    const operands = [this.parseFactor()];
    while (this.peek().type === 'and') {
      this.index += 1;
      operands.push(this.parseFactor());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'and', operands };
  }

  private parseFactor(): Requirement {
    const token = this.peek();
    this.index += 1;
    switch (token.type) {
      case 'not':
        return { kind: 'not', operand: this.parseFactor() };
      case '(': {
        const inner = this.parseOr();
        const closing = this.peek();
        if (closing.type !== ')') this.fail('missing ")"', closing);
        this.index += 1;
        return inner;
      }
      case 'role':
        return { kind: 'role', role: token.role };
      default:
        return this.fail(`expected a role, "!" or "(" but found "${this.describe(token)}"`, token);
    }
  }

  private peek(): Token {
    return this.tokens[this.index] ?? this.tokens[this.tokens.length - 1]!;
  }

  private describe(token: Token): string {
    return token.type === 'role' ? token.role : token.type === 'end' ? 'end of expression' : token.type;
  }

  private fail(message: string, token: Token): never {
    throw new RequirementSyntaxError(message, this.expression, token.position);
  }
}

/** Parses a requirement expression; throws RequirementSyntaxError when it is malformed. */
export function parseRequirement(expression: string): Requirement {
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    throw new RequirementSyntaxError('expression too long', expression.slice(0, 64), MAX_EXPRESSION_LENGTH);
  }
  return new Parser(tokenize(expression), expression).parse();
}

/** Whether a set of role names (without the `ROLE_` prefix) satisfies the requirement. */
export function isSatisfied(requirement: Requirement, roles: ReadonlySet<string>): boolean {
  switch (requirement.kind) {
    case 'role':
      return roles.has(requirement.role);
    case 'not':
      return !isSatisfied(requirement.operand, roles);
    case 'and':
      return requirement.operands.every((operand) => isSatisfied(operand, roles));
    case 'or':
      return requirement.operands.some((operand) => isSatisfied(operand, roles));
  }
}
