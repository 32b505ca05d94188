import type { IdGenerator } from '../ports/id-generator';

/** The n-th deterministic UUID (v4 layout, lower-case hex), e.g. `00000000-0000-4000-8000-000000000001`. */
export function uuidNumber(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** Deterministic UUID-shaped ids: 1, 2, 3, ... in UUID form; every id handed out is remembered. */
export class SequentialIds implements IdGenerator {
  readonly issued: string[] = [];
  private next: number;

  constructor(start = 1) {
    this.next = start;
  }

  uuid(): string {
    const id = uuidNumber(this.next);
    this.next += 1;
    this.issued.push(id);
    return id;
  }
}
