// Order statistics of a case's per-round samples: the median and the spread the report and
// --compare use. Plain arithmetic, no timing.

import type { Spread } from './schema.js';

/** The p-quantile (0..1) by linear interpolation between order statistics; NaN when empty. */
export function quantile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

export function spreadOf(xs: readonly number[]): Spread {
  return { min: Math.min(...xs), max: Math.max(...xs), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75) };
}
