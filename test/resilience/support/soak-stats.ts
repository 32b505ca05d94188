/** Least-squares line through (x, y) points: slope and intercept. */
export function linearRegression(points: ReadonlyArray<readonly [number, number]>): {
  slope: number;
  intercept: number;
} {
  const n = points.length;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN };
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  const slope = variance === 0 ? Number.NaN : covariance / variance;
  return { slope, intercept: meanY - slope * meanX };
}

export const mean = (values: readonly number[]): number =>
  values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;

/** Splits values into three consecutive thirds (the middle one takes the remainder). */
export function thirds<T>(values: readonly T[]): [T[], T[], T[]] {
  const third = Math.floor(values.length / 3);
  return [
    values.slice(0, third),
    values.slice(third, values.length - third),
    values.slice(values.length - third),
  ];
}

export const round = (value: number, digits = 2): number =>
  Number.isFinite(value) ? Number(value.toFixed(digits)) : value;

/**
 * The lowest value sampled in each consecutive window of `windowS` seconds:
 * for a garbage-collected heap, close to the floor its collections return to
 * (about its live size), rather than the sawtooth of allocation between them.
 */
export function windowFloors(
  samples: ReadonlyArray<readonly [atS: number, value: number]>,
  windowS: number,
): Array<[atS: number, floor: number]> {
  const floors = new Map<number, number>();
  for (const [atS, value] of samples) {
    const start = Math.floor(atS / windowS) * windowS;
    floors.set(start, Math.min(floors.get(start) ?? Number.POSITIVE_INFINITY, value));
  }
  return [...floors.entries()].sort(([a], [b]) => a - b);
}
