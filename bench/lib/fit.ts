// Least-squares fits for benchmark reports: the slope of log(time) against log(size), which is
// the measured exponent of a power law t ~ c * size^slope.

/** Slope and intercept of y = a + b x by ordinary least squares; NaN with fewer than 2 points. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
  const n = xs.length;
  if (n < 2 || ys.length !== n) return { slope: NaN, intercept: NaN };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : NaN;
  return { slope, intercept: my - slope * mx };
}

/** The exponent b of t = c * size^b fitted on log-log axes. */
export function logLogSlope(sizes: readonly number[], times: readonly number[]): number {
  return linearFit(sizes.map(Math.log), times.map(Math.log)).slope;
}

/**
 * Where two measured curves y1(x), y2(x) cross, interpolating log y linearly in log x between
 * the samples that bracket the sign change of log(y1 / y2); undefined when they never cross.
 */
export function crossover(xs: readonly number[], y1: readonly number[], y2: readonly number[]): number | undefined {
  for (let i = 1; i < xs.length; i++) {
    const a = Math.log(y1[i - 1]! / y2[i - 1]!);
    const b = Math.log(y1[i]! / y2[i]!);
    if (a === 0) return xs[i - 1];
    if (a * b < 0) {
      const t = a / (a - b);
      return Math.exp(Math.log(xs[i - 1]!) + t * (Math.log(xs[i]!) - Math.log(xs[i - 1]!)));
    }
  }
  return undefined;
}
