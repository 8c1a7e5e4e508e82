// --compare: the change of every case two reports share, judged against a between-run noise model
// (bench/results/README.md, "Comparing runs"). Pure functions over parsed reports; reading files
// is the runner's. The model: the machine's speed drifts between runs (CPU frequency, other
// processes), moving every case of a suite alike, and by far more than the spread within a run.
// So each case is judged relative to the drift of the cases measured beside it, against the
// scatter that the other cases show around that drift, and never below a fixed floor.

import { caseKey, type BenchCase, type BenchReport } from './schema.js';
import { median, quantile } from './stats.js';

/** Default floor (--threshold): a change smaller than this is never flagged. */
export const DEFAULT_THRESHOLD = 0.1;
/** A case is flagged when its drift-corrected change exceeds this many noise sigmas (and the floor). */
export const NOISE_SIGMAS = 4;
/** Fewest cases a group needs for its own drift and scatter; smaller groups borrow the suite's, then the run's. */
export const MIN_GROUP = 6;
/** Fewest cases a suite needs to give a small group its drift (the median of 3 still ignores one changed case). */
export const MIN_SMALL_POOL = 3;
/** Scatter is never taken as less than this (log units): a tiny pool would otherwise give a razor-thin limit. */
const MIN_SCATTER = 0.01;
/** MAD to sigma for a normal distribution; IQR to sigma. */
const MAD_SIGMA = 1.4826;
const IQR_SIGMA = 1 / 1.349;

/**
 * What moves with the machine's speed: times and rates. Ratios measured inside one run ('x') and
 * sizes (MiB) do not; they are judged on their own spread and the floor, with no drift.
 */
export type CaseKind = 'speed' | 'steady';
const TIME_UNITS = new Set(['s', 'ms', 'us', 'ns']);
export const kindOf = (unit: string): CaseKind => (TIME_UNITS.has(unit) || unit.endsWith('/s') ? 'speed' : 'steady');

export interface CaseChange {
  key: string;
  suite: string;
  name: string;
  side: string;
  unit: string;
  old: number;
  new: number;
  /** Signed so that worse is negative: new/old - 1 for rates, old/new - 1 for times. */
  change: number;
  /** The change with its group's drift taken out: (1 + change) / (1 + drift) - 1. */
  relative: number;
  /** The drift group this case was judged in (see DriftGroup.key). */
  group: string;
  /** The smallest |relative| that is flagged for this case: max(floor, NOISE_SIGMAS x noise), as a fraction. */
  limit: number;
  /** This case's noise in log units: its group's scatter, its own within-run spread and, with several runs a side, its spread across them. */
  noise: number;
  /** Runs of this case on each side (several reports per side: their median is the side's figure). */
  runs: { old: number; new: number };
  flagged: boolean;
}

/** Cases measured under the same conditions: one suite, thread count and clock. */
export interface DriftGroup {
  key: string;
  suite: string;
  kind: CaseKind;
  cases: number;
  /** Median change of the group's cases (what the machine did), signed like CaseChange.change; 0 for steady cases. */
  drift: number;
  /** Robust scatter (sigma, log units) of the cases around the drift. */
  scatter: number;
  /** Where drift and scatter came from when the group was too small: the group itself, its suite or the whole run. */
  source: 'group' | 'suite' | 'run';
}

export interface Calibration {
  threads: number;
  /** new/old - 1 of the FMA peak and the DRAM read bandwidth in the two machine headers. */
  fma: number;
  read: number;
}

export interface Comparison {
  changes: CaseChange[];
  groups: DriftGroup[];
  /** The machine headers' calibration kernels, old against new, per thread count both measured. */
  calibration: Calibration[];
  /** The floor used (--threshold). */
  threshold: number;
  /** Keys in only one of the two reports. */
  onlyOld: string[];
  onlyNew: string[];
  /** Set when either run started or ended with a load average above its logical CPU count. */
  busy?: string;
}

/**
 * t_df's quantile at the normal's NOISE_SIGMAS (4) tail (one-sided 3.17e-5), for df = 1..30: a
 * sigma estimated from df degrees of freedom is scaled by t / 4, so that a case judged on its own
 * few runs is flagged by chance no more often than one judged on a normal sigma.
 */
const T_AT_4_SIGMAS = [10050, 125.6, 32.62, 17.45, 12.28, 9.84, 8.47, 7.6, 7.0, 6.57, 6.24, 5.99, 5.78, 5.62, 5.48, 5.36, 5.26, 5.18, 5.1, 5.04, 4.98, 4.92, 4.88, 4.83, 4.8, 4.76, 4.73, 4.7, 4.67, 4.65];
const tScale = (df: number) => (df <= 30 ? T_AT_4_SIGMAS[df - 1]! : NOISE_SIGMAS + 19.5 / df) / NOISE_SIGMAS;

/** Pooled sigma of log figures around each side's mean, over (n_old - 1) + (n_new - 1) degrees of freedom; 0 with none. */
function betweenSigma(sides: readonly (readonly number[])[]): { sigma: number; df: number } {
  let ss = 0;
  let df = 0;
  for (const xs of sides) {
    if (xs.length < 2) continue;
    const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
    ss += xs.reduce((a, x) => a + (x - mean) ** 2, 0);
    df += xs.length - 1;
  }
  return { sigma: df > 0 ? Math.sqrt(ss / df) : 0, df };
}

/** Robust sigma of the log of a case's samples (IQR based); 0 with fewer than 2 samples. */
function withinSigma(c: BenchCase): number {
  const logs = c.samples.filter((s) => s > 0).map(Math.log);
  if (logs.length < 2) return 0;
  return (quantile(logs, 0.75) - quantile(logs, 0.25)) * IQR_SIGMA;
}

/** Standard error of a median of n samples with sigma s (1.2533 = sqrt(pi / 2)). */
const medianError = (sigma: number, n: number) => (n > 0 ? (1.2533 * sigma) / Math.sqrt(n) : 0);

interface Pool {
  drift: number;
  scatter: number;
}

/** Log-drift as the median of the pool's log changes; scatter as the MAD around it. */
function poolOf(logs: readonly number[], kind: CaseKind): Pool {
  const drift = kind === 'speed' ? median(logs) : 0;
  const scatter = Math.max(MIN_SCATTER, MAD_SIGMA * median(logs.map((x) => Math.abs(x - drift))));
  return { drift, scatter };
}

/**
 * Compares two reports case by case, or two sets of runs (several reports a side, of the same
 * cases: each case's figure on a side is the median of its runs' medians, and its spread across
 * the runs joins its noise, since a case can move between processes by far more than its group's
 * scatter shows). For each case, d = ln(new/old) signed so that worse is negative. Cases are grouped by suite, thread count and clock (the conditions drift acts on);
 * a group's drift is the median d of its cases, its scatter the MAD of d around that median, so
 * one changed case among them moves neither. A group with fewer than MIN_GROUP cases takes both
 * from its suite (a suite of fewer than MIN_SMALL_POOL from the run), with at least the run's
 * scatter. A case is flagged when |d - drift| exceeds the
 * floor `threshold` and NOISE_SIGMAS x sqrt(scatter^2 + within^2), where `within` is the standard
 * error of the two medians from each run's own rounds.
 */
export function compareReports(oldRuns: BenchReport | readonly BenchReport[], newRuns: BenchReport | readonly BenchReport[], threshold = DEFAULT_THRESHOLD): Comparison {
  const olds: readonly BenchReport[] = Array.isArray(oldRuns) ? oldRuns : [oldRuns as BenchReport];
  const news: readonly BenchReport[] = Array.isArray(newRuns) ? newRuns : [newRuns as BenchReport];
  if (olds.length === 0 || news.length === 0) throw new RangeError('compareReports: each side needs at least one report');
  const oldR = olds[0]!;
  const newR = news[0]!;
  // A side's cases: those every one of its runs has, with a positive median and the same unit.
  const side = (runs: readonly BenchReport[]) => {
    const maps = runs.map((r) => new Map(r.cases.map((c) => [caseKey(c), c])));
    const m = new Map<string, BenchCase[]>();
    for (const [key, c] of maps[0]!) {
      const all = maps.map((x) => x.get(key));
      if (all.every((x): x is BenchCase => x !== undefined && x.unit === c.unit && x.median > 0)) m.set(key, all);
    }
    return m;
  };
  const a = side(olds);
  const b = side(news);
  const groupOf = (o: BenchCase) => {
    const kind = kindOf(o.unit);
    return `${o.suite}${kind === 'steady' ? ' (sizes and ratios)' : ''}${o.params.threads !== undefined ? `, ${o.params.threads} thread${o.params.threads === 1 ? '' : 's'}` : ''}${kind === 'speed' ? `, ${o.clock ?? 'wall'} clock` : ''}`;
  };
  // Each case's log figures across a side's runs, signed so that better is higher (a time's log
  // negated), with each run's drift against the side's first run taken out (the median change of
  // that run's group), so that what is left is the case's own between-run noise, not the
  // machine's speed from run to run.
  const corrected = (m: Map<string, BenchCase[]>) => {
    const byGroup = new Map<string, string[]>();
    for (const [key, cs] of m) {
      const g = groupOf(cs[0]!);
      if (!byGroup.has(g)) byGroup.set(g, []);
      byGroup.get(g)!.push(key);
    }
    const out = new Map<string, number[]>();
    for (const keys of byGroup.values()) {
      const runs = m.get(keys[0]!)!.length;
      const steady = kindOf(m.get(keys[0]!)![0]!.unit) === 'steady';
      const signed = (c: BenchCase) => (c.better === 'lower' ? -Math.log(c.median) : Math.log(c.median));
      const drift = Array.from({ length: runs }, (_, r) =>
        steady || r === 0 ? 0 : median(keys.map((k) => signed(m.get(k)![r]!) - signed(m.get(k)![0]!))));
      for (const k of keys) out.set(k, m.get(k)!.map((c, r) => signed(c) - drift[r]!));
    }
    return out;
  };
  const la = corrected(a);
  const lb = corrected(b);
  interface Pair { key: string; o: BenchCase; n: BenchCase; os: BenchCase[]; ns: BenchCase[]; ol: number[]; nl: number[]; om: number; nm: number; d: number; kind: CaseKind; group: string }
  const pairs: Pair[] = [];
  for (const [key, os] of a) {
    const ns = b.get(key);
    const o = os[0]!;
    if (!ns || ns[0]!.unit !== o.unit) continue;
    // A side's figure: the median of its runs' (drift-corrected) figures.
    const ol = la.get(key)!;
    const nl = lb.get(key)!;
    const sign = o.better === 'lower' ? -1 : 1;
    const om = Math.exp(sign * median(ol));
    const nm = Math.exp(sign * median(nl));
    const d = median(nl) - median(ol);
    pairs.push({ key, o, n: ns[0]!, os, ns, ol, nl, om, nm, d, kind: kindOf(o.unit), group: groupOf(o) });
  }
  // Pools from the most specific level that has enough cases.
  const collect = (f: (p: Pair) => string) => {
    const m = new Map<string, number[]>();
    for (const p of pairs) {
      const k = f(p);
      if (!m.has(k)) m.set(k, []);
      m.get(k)!.push(p.d);
    }
    return m;
  };
  const byGroup = collect((p) => p.group);
  const bySuite = collect((p) => `${p.o.suite}|${p.kind}`);
  const byRun = collect((p) => p.kind);
  const groups = new Map<string, DriftGroup>();
  for (const p of pairs) {
    if (groups.has(p.group)) continue;
    const own = byGroup.get(p.group)!;
    const suite = bySuite.get(`${p.o.suite}|${p.kind}`)!;
    const run = byRun.get(p.kind)!;
    // Drift is local (load differs from suite to suite), so a small group takes its suite's, and
    // only a suite of one or two cases the run's. Scatter from fewer than MIN_GROUP cases is
    // unreliable (three cases may agree by chance): such a pool takes the larger of its own and
    // the run's.
    // Sizes and in-run ratios never borrow from other suites: computed byte counts (exact) and a
    // measured peak RSS (noisy) are different kinds of figure.
    const [logs, source]: [number[], DriftGroup['source']] =
      own.length >= MIN_GROUP ? [own, 'group'] : suite.length >= MIN_SMALL_POOL || p.kind === 'steady' ? [suite, 'suite'] : [run, 'run'];
    const pool = poolOf(logs, p.kind);
    if (logs.length < MIN_GROUP && p.kind === 'speed') pool.scatter = Math.max(pool.scatter, poolOf(run, p.kind).scatter);
    groups.set(p.group, { key: p.group, suite: p.o.suite, kind: p.kind, cases: own.length, drift: Math.expm1(pool.drift), scatter: pool.scatter, source });
  }
  // Each case's spread across runs, and its group's typical one (the median over the group's
  // cases): a case's own estimate from a few runs is pooled with its group's, weighted equally,
  // so that neither a lucky small spread nor the group's calm hides a case's real swings.
  const spreads = new Map(pairs.map((p) => [p.key, betweenSigma([p.ol, p.nl])]));
  const typical = new Map<string, number>();
  for (const g of groups.keys()) {
    const own = pairs.filter((p) => p.group === g).map((p) => spreads.get(p.key)!).filter((x) => x.df > 0).map((x) => x.sigma);
    typical.set(g, own.length > 0 ? median(own) : 0);
  }
  const changes: CaseChange[] = pairs.map((p) => {
    const g = groups.get(p.group)!;
    // Each side's within-run error: that of the mean of its runs' medians.
    const sideError = (cs: readonly BenchCase[]) => Math.hypot(...cs.map((c) => medianError(withinSigma(c), c.samples.length))) / cs.length;
    const within = Math.hypot(sideError(p.os), sideError(p.ns));
    // The case's spread across runs, as the error of the difference of the two sides' figures,
    // widened for the few runs it comes from.
    const bs = spreads.get(p.key)!;
    const pooled = Math.sqrt((bs.sigma ** 2 + typical.get(p.group)! ** 2) / 2);
    const between = bs.df > 0 ? pooled * Math.sqrt(1 / p.os.length + 1 / p.ns.length) * tScale(2 * bs.df) : 0;
    const noise = Math.hypot(g.scatter, within, between);
    const limit = Math.max(threshold, Math.expm1(NOISE_SIGMAS * noise));
    const rel = p.d - Math.log1p(g.drift);
    return {
      key: p.key, suite: p.o.suite, name: p.o.name, side: p.o.side, unit: p.o.unit, old: p.om, new: p.nm,
      change: Math.expm1(p.d), relative: Math.expm1(rel), group: p.group, limit, noise, flagged: Math.abs(rel) > Math.log1p(limit),
      runs: { old: p.os.length, new: p.ns.length },
    };
  });
  const calibration: Calibration[] = [];
  for (const co of oldR.machine.calibration ?? [])
    for (const cn of newR.machine.calibration ?? [])
      if (co.threads === cn.threads && co.fmaGflops > 0 && co.readGBs > 0)
        calibration.push({ threads: co.threads, fma: cn.fmaGflops / co.fmaGflops - 1, read: cn.readGBs / co.readGBs - 1 });
  const loaded = (r: BenchReport, which: string) => {
    const m = r.machine;
    const worst = Math.max(m.loadAverage.before, Number.isFinite(m.loadAverage.after) ? m.loadAverage.after : 0);
    return worst > m.cpus ? `the ${which} run had a load average of ${worst.toFixed(1)} on ${m.cpus} CPUs` : undefined;
  };
  const busy = [...olds.map((r, i) => loaded(r, olds.length > 1 ? `old run ${i + 1}` : 'old')), ...news.map((r, i) => loaded(r, news.length > 1 ? `new run ${i + 1}` : 'new'))].filter(Boolean).join(' and ');
  return {
    changes,
    groups: [...groups.values()],
    calibration,
    threshold,
    onlyOld: [...a.keys()].filter((k) => !b.has(k)),
    onlyNew: [...b.keys()].filter((k) => !a.has(k)),
    ...(busy ? { busy } : {}),
  };
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toPrecision(3));
const pct = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`;

/** The comparison as Markdown: the drift lines, then a table of every case, flagged cases first. */
export function formatComparison(c: Comparison): string {
  const flagged = c.changes.filter((x) => x.flagged);
  const rows = [...flagged.sort((x, y) => Math.abs(y.relative) - Math.abs(x.relative)), ...c.changes.filter((x) => !x.flagged)];
  const lines = [
    `${flagged.length} of ${c.changes.length} cases changed beyond the machine's drift, by more than ${NOISE_SIGMAS} sigmas of the between-run noise and at least ${(c.threshold * 100).toFixed(0)}%` +
      (flagged.length ? ` (${flagged.filter((x) => x.relative < 0).length} slower, ${flagged.filter((x) => x.relative > 0).length} faster)` : '') + '.',
  ];
  const runs = c.changes[0]?.runs;
  if (runs && (runs.old > 1 || runs.new > 1))
    lines.push('', `Runs per side: ${runs.old} old, ${runs.new} new; each side's figure is the median of its runs, and each case's spread across them is part of its noise.`);
  if (c.busy) lines.push('', `Warning: ${c.busy}; load that comes and goes within a suite moves its cases unevenly, which the drift model cannot take out.`);
  if (c.calibration.length)
    lines.push('', `Calibration kernels (machine header), new against old: ${c.calibration.map((k) => `${k.threads} thread${k.threads === 1 ? '' : 's'}: FMA peak ${pct(k.fma)}, DRAM read ${pct(k.read)}`).join('; ')}.`);
  const speed = c.groups.filter((g) => g.kind === 'speed');
  if (speed.length) {
    const spread = speed.map((g) => g.drift);
    lines.push('', `Machine drift (median change of the cases measured together; ${pct(Math.min(...spread))} to ${pct(Math.max(...spread))}):`, '',
      '| group | cases | drift | scatter (sigma) | from |', '|---|---:|---:|---:|---|',
      ...c.groups.map((g) => `| ${g.key} | ${g.cases} | ${g.kind === 'speed' ? pct(g.drift) : 'none'} | ${(g.scatter * 100).toFixed(1)}% | ${g.source === 'group' ? 'the group' : g.source === 'suite' ? 'its suite (group too small)' : 'the whole run (suite too small)'} |`));
    // A change that hits every case of a group alike reads as drift: say so when the calibration does not show it.
    const cal = c.calibration.length ? Math.max(...c.calibration.map((k) => Math.max(Math.abs(k.fma), Math.abs(k.read)))) : undefined;
    const odd = speed.filter((g) => g.source !== 'run' && Math.abs(g.drift) >= c.threshold && (cal === undefined || Math.abs(g.drift) > cal + c.threshold));
    if (odd.length)
      lines.push('', `Note: ${odd.map((g) => `${g.key} moved ${pct(g.drift)} as a whole`).join('; ')}, more than the calibration kernels did. ` +
        'A change that slows every case of a group alike is taken for drift and not flagged: rerun both, or compare that suite\'s ratios to its peers.');
  }
  lines.push('',
    '| case | side | unit | old | new | change | drift-corrected | limit | flag |',
    '|---|---|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((x) => `| ${x.key.slice(0, x.key.lastIndexOf('@'))} | ${x.side} | ${x.unit} | ${fmt(x.old)} | ${fmt(x.new)} | ${pct(x.change)} | ${pct(x.relative)} | ±${(x.limit * 100).toFixed(1)}% | ${x.flagged ? (x.relative < 0 ? '**SLOWER**' : '**FASTER**') : ''} |`));
  if (c.onlyOld.length) lines.push('', `Only in the old run: ${c.onlyOld.length} cases.`);
  if (c.onlyNew.length) lines.push('', `Only in the new run: ${c.onlyNew.length} cases.`);
  return lines.join('\n');
}
