// --compare: the change of every case two reports share, flagged only when it lies beyond the
// measured spread of both runs. Pure functions over parsed reports; reading files is the runner's.

import { caseKey, type BenchCase, type BenchReport } from './schema.js';

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
  /** Whether the two runs' interquartile ranges of rounds do not overlap. */
  beyondSpread: boolean;
  flagged: boolean;
}

export interface Comparison {
  changes: CaseChange[];
  /** Keys in only one of the two reports. */
  onlyOld: string[];
  onlyNew: string[];
  /** Set when either run started or ended with a load average above its logical CPU count. */
  busy?: string;
}

/**
 * A change counts when the interquartile ranges of the two runs' rounds do not overlap (each
 * run's spread is what its own rounds measured, so noise of that size is not a change; the IQR
 * rather than min-max, so one preempted round does not hide a change) and it is at least
 * `threshold` (a near-deterministic figure has a spread of almost nothing).
 */
export function compareReports(oldR: BenchReport, newR: BenchReport, threshold = 0.05): Comparison {
  const byKey = (cs: BenchCase[]) => new Map(cs.map((c) => [caseKey(c), c]));
  const a = byKey(oldR.cases);
  const b = byKey(newR.cases);
  const changes: CaseChange[] = [];
  for (const [key, o] of a) {
    const n = b.get(key);
    if (!n || n.unit !== o.unit) continue;
    const ratio = o.better === 'higher' ? n.median / o.median : o.median / n.median;
    const change = ratio - 1;
    const beyondSpread = n.spread.q3 < o.spread.q1 || n.spread.q1 > o.spread.q3;
    changes.push({ key, suite: o.suite, name: o.name, side: o.side, unit: o.unit, old: o.median, new: n.median, change, beyondSpread, flagged: beyondSpread && Math.abs(change) >= threshold });
  }
  const loaded = (r: BenchReport, which: string) => {
    const m = r.machine;
    const worst = Math.max(m.loadAverage.before, Number.isFinite(m.loadAverage.after) ? m.loadAverage.after : 0);
    return worst > m.cpus ? `the ${which} run had a load average of ${worst.toFixed(1)} on ${m.cpus} CPUs` : undefined;
  };
  const busy = [loaded(oldR, 'old'), loaded(newR, 'new')].filter(Boolean).join(' and ');
  return { changes, onlyOld: [...a.keys()].filter((k) => !b.has(k)), onlyNew: [...b.keys()].filter((k) => !a.has(k)), ...(busy ? { busy } : {}) };
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toPrecision(3));

/** The comparison as a Markdown table, flagged cases first. */
export function formatComparison(c: Comparison, threshold: number): string {
  const flagged = c.changes.filter((x) => x.flagged);
  const rows = [...flagged, ...c.changes.filter((x) => !x.flagged)];
  const lines = [
    `${flagged.length} of ${c.changes.length} cases changed beyond the spread of both runs and by at least ${(threshold * 100).toFixed(0)}%` +
      (flagged.length ? ` (${flagged.filter((x) => x.change < 0).length} slower, ${flagged.filter((x) => x.change > 0).length} faster)` : '') + '.',
    '',
    '| case | side | unit | old | new | change | flag |',
    '|---|---|---|---:|---:|---:|---|',
    ...rows.map((x) => `| ${x.key.slice(0, x.key.lastIndexOf('@'))} | ${x.side} | ${x.unit} | ${fmt(x.old)} | ${fmt(x.new)} | ${(x.change * 100).toFixed(1)}% | ${x.flagged ? (x.change < 0 ? 'SLOWER' : 'FASTER') : x.beyondSpread ? '(beyond spread, small)' : ''} |`),
  ];
  if (c.busy) lines.splice(1, 0, '', `Warning: ${c.busy}; other processes move figures between runs by more than the spread within one, so flags on a busy machine are not evidence of a change.`);
  if (c.onlyOld.length) lines.push('', `Only in the old run: ${c.onlyOld.length} cases.`);
  if (c.onlyNew.length) lines.push('', `Only in the new run: ${c.onlyNew.length} cases.`);
  return lines.join('\n');
}
