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
  /** This case's noise in log units: its group's scatter and its own within-run spread. */
  noise: number;
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
 * Compares two reports case by case. For each case, d = ln(new/old) signed so that worse is
 * negative. Cases are grouped by suite, thread count and clock (the conditions drift acts on);
 * a group's drift is the median d of its cases, its scatter the MAD of d around that median, so
 * one changed case among them moves neither. A group with fewer than MIN_GROUP cases takes both
 * from its suite (a suite of fewer than MIN_SMALL_POOL from the run), with at least the run's
 * scatter. A case is flagged when |d - drift| exceeds the
 * floor `threshold` and NOISE_SIGMAS x sqrt(scatter^2 + within^2), where `within` is the standard
 * error of the two medians from each run's own rounds.
 */
export function compareReports(oldR: BenchReport, newR: BenchReport, threshold = DEFAULT_THRESHOLD): Comparison {
  const byKey = (cs: BenchCase[]) => new Map(cs.map((c) => [caseKey(c), c]));
  const a = byKey(oldR.cases);
  const b = byKey(newR.cases);
  interface Pair { key: string; o: BenchCase; n: BenchCase; d: number; kind: CaseKind; group: string }
  const pairs: Pair[] = [];
  for (const [key, o] of a) {
    const n = b.get(key);
    if (!n || n.unit !== o.unit || !(o.median > 0) || !(n.median > 0)) continue;
    const d = o.better === 'higher' ? Math.log(n.median / o.median) : Math.log(o.median / n.median);
    const kind = kindOf(o.unit);
    const group = `${o.suite}${kind === 'steady' ? ' (sizes and ratios)' : ''}${o.params.threads !== undefined ? `, ${o.params.threads} thread${o.params.threads === 1 ? '' : 's'}` : ''}${kind === 'speed' ? `, ${o.clock ?? 'wall'} clock` : ''}`;
    pairs.push({ key, o, n, d, kind, group });
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
  const changes: CaseChange[] = pairs.map((p) => {
    const g = groups.get(p.group)!;
    const within = Math.hypot(medianError(withinSigma(p.o), p.o.samples.length), medianError(withinSigma(p.n), p.n.samples.length));
    const noise = Math.hypot(g.scatter, within);
    const limit = Math.max(threshold, Math.expm1(NOISE_SIGMAS * noise));
    const rel = p.d - Math.log1p(g.drift);
    return {
      key: p.key, suite: p.o.suite, name: p.o.name, side: p.o.side, unit: p.o.unit, old: p.o.median, new: p.n.median,
      change: Math.expm1(p.d), relative: Math.expm1(rel), group: p.group, limit, noise, flagged: Math.abs(rel) > Math.log1p(limit),
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
  const busy = [loaded(oldR, 'old'), loaded(newR, 'new')].filter(Boolean).join(' and ');
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
