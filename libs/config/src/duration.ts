const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h|d)?$/;

/**
 * Parses "900", "900s", "15m", "8h", "30d" or "250ms" into milliseconds.
 * A bare number means seconds, the unit of every lifetime in a JWT.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = (match[2] ?? 's') as keyof typeof UNIT_MS;
  return amount * UNIT_MS[unit];
}
