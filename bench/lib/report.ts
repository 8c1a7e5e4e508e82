// Renders a BenchReport: the Markdown report (machine header, per-suite sections with one table
// of every case and the attnode / peer ratios) and the runner's headline plot. No measuring.

import type { TopLevelSpec } from 'vega-lite';
import { formatMachine } from './machine.js';
import type { BenchCase, BenchReport, CaseParams, SuiteRecord } from './schema.js';
import { median } from './stats.js';

const STANDARD = ['backend', 'threads', 'dtype', 'shape'] as const;

export const fmtNum = (v: number): string => {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
};

function groupKey(c: BenchCase): string {
  const p = Object.keys(c.params).sort().map((k) => `${k}=${String(c.params[k])}`).join(',');
  return `${c.name}[${p}]`;
}

/**
 * How many times better attnode is than `peer` on one case: the median of per-round ratios when
 * the rounds were interleaved (same count), else the ratio of medians. > 1: attnode is faster.
 */
export function ratioOf(ours: BenchCase, peer: BenchCase): number {
  const r = (a: number, b: number) => (ours.better === 'higher' ? a / b : b / a);
  if (ours.samples.length === peer.samples.length && ours.samples.length > 1) return median(ours.samples.map((a, i) => r(a, peer.samples[i]!)));
  return r(ours.median, peer.median);
}

const otherParams = (p: CaseParams) =>
  Object.keys(p)
    .filter((k) => !(STANDARD as readonly string[]).includes(k) && p[k] !== undefined)
    .map((k) => `${k} ${String(p[k])}`)
    .join(', ');

/** One table of every case of a suite: a row per case, a column per side, ratios against attnode. */
export function casesTable(cases: readonly BenchCase[]): string {
  if (cases.length === 0) return '';
  const sides = [...new Set(cases.map((c) => c.side))].sort((a, b) => (a === 'attnode' ? -1 : b === 'attnode' ? 1 : a.localeCompare(b)));
  const peers = sides.filter((s) => s !== 'attnode');
  const groups = new Map<string, Map<string, BenchCase>>();
  for (const c of cases) {
    const k = groupKey(c);
    if (!groups.has(k)) groups.set(k, new Map());
    groups.get(k)!.set(c.side, c);
  }
  const used = STANDARD.filter((k) => cases.some((c) => c.params[k] !== undefined));
  const hasOther = cases.some((c) => otherParams(c.params) !== '');
  const derivedKeys = [...new Set(cases.flatMap((c) => Object.keys(c.derived ?? {})))];
  const head = ['case', ...used, ...(hasOther ? ['params'] : []), 'unit', ...sides.map((s) => `${s} median [min-max]`), ...derivedKeys.map((k) => `attnode ${k}`), ...(sides.includes('attnode') ? peers.map((p) => `attnode / ${p}`) : [])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 1 + used.length + (hasOther ? 1 : 0) + 1 ? '---' : '---:')).join('|')}|`];
  for (const g of groups.values()) {
    const any = g.values().next().value as BenchCase;
    const ours = g.get('attnode');
    const cells = [any.name, ...used.map((k) => (any.params[k] === undefined ? '' : String(any.params[k]))), ...(hasOther ? [otherParams(any.params)] : []), any.unit];
    for (const s of sides) {
      const c = g.get(s);
      cells.push(c ? `${fmtNum(c.median)} [${fmtNum(c.spread.min)}-${fmtNum(c.spread.max)}]` : '');
    }
    for (const k of derivedKeys) {
      const v = (ours ?? any).derived?.[k];
      cells.push(v === undefined ? '' : fmtNum(v));
    }
    if (sides.includes('attnode'))
      for (const p of peers) {
        const c = g.get(p);
        cells.push(ours && c ? `${fmtNum(ratioOf(ours, c))}x` : '');
      }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface SuiteMeta {
  title: string;
  description: string;
}

/** A suite's section: heading, description, notes, peers, the case table and its own sections. */
export function suiteSection(report: BenchReport, s: SuiteRecord, meta: SuiteMeta | undefined, fileName: (f: string) => string): string {
  const cases = report.cases.filter((c) => c.suite === s.name);
  const peers = report.peers.filter((p) => p.suite === s.name);
  const out = [`## ${meta?.title ?? s.name} (\`${s.name}\`)`, ''];
  if (meta?.description) out.push(meta.description, '');
  out.push(`${s.status}, ${s.seconds.toFixed(1)} s, load average ${s.loadAverage.before.toFixed(2)} before and ${s.loadAverage.after.toFixed(2)} after.` + (s.error ? ` Error: ${s.error}` : ''), '');
  for (const p of peers) out.push(p.status === 'present' ? `- peer ${p.name} ${p.version ?? ''}: present` : `- peer ${p.name}: absent (${p.reason ?? 'no reason given'})`);
  for (const n of s.notes) out.push(`- ${n}`);
  if (peers.length || s.notes.length) out.push('');
  for (const sec of s.sections) out.push(sec, '');
  const table = casesTable(cases);
  if (table) out.push(...(s.sections.length ? ['### Every case', ''] : []), table, '');
  if (s.files.length) out.push(s.files.map((f) => (f.endsWith('.svg') ? `![${fileName(f)}](${fileName(f)})` : `[${fileName(f)}](${fileName(f)})`)).join('\n'), '');
  return out.join('\n');
}

export function machineSection(report: BenchReport): string {
  const o = report.options;
  const filters = [o.backend && `backend ${o.backend.join(',')}`, o.threads && `threads ${o.threads.join(',')}`, o.dtype && `dtype ${o.dtype.join(',')}`].filter(Boolean).join('; ');
  return [
    `# attnode benchmarks${o.quick ? ' (--quick)' : ''}`,
    '',
    `${report.date}, ${report.seconds.toFixed(0)} s, schema version ${report.schemaVersion}. Suites: ${o.suites.join(', ')}${filters ? `; filters: ${filters}` : ''}.`,
    '',
    ...formatMachine(report.machine),
    '',
    ...(Math.max(report.machine.loadAverage.before, report.machine.loadAverage.after || 0) > report.machine.cpus
      ? ['Warning: the load average was above the number of CPUs: other processes held the cores, so figures are low and move between runs by more than their spread.', '']
      : []),
    'Every figure is the median of rounds that interleave the sides compared (brackets: the lowest and highest round); ' +
      'every case was checked before it was timed. Ratios are attnode against the peer (> 1: attnode is faster), the median of per-round ratios. ' +
      'Other processes on a shared machine lower figures from run to run: trust ratios from one run more than absolute numbers.',
    '',
  ].join('\n');
}

/** The whole report as Markdown. */
export function renderMarkdown(report: BenchReport, metas: Record<string, SuiteMeta>, fileName: (f: string) => string): string {
  const absent = report.peers.filter((p) => p.status === 'absent');
  return [
    machineSection(report),
    absent.length ? `Peers absent: ${absent.map((p) => `${p.name} in ${p.suite} (${p.reason})`).join('; ')}.\n` : '',
    ...report.suites.map((s) => suiteSection(report, s, metas[s.name], fileName)),
  ].join('\n');
}

/** The headline plot: attnode against every peer, per case, on a log axis. Undefined without peers. */
export function ratiosSpec(report: BenchReport): TopLevelSpec | undefined {
  const rows: Array<{ case: string; peer: string; ratio: number }> = [];
  const byGroup = new Map<string, BenchCase[]>();
  for (const c of report.cases) {
    const k = `${c.suite}: ${groupKey(c)}`;
    if (!byGroup.has(k)) byGroup.set(k, []);
    byGroup.get(k)!.push(c);
  }
  for (const cs of byGroup.values()) {
    const ours = cs.find((c) => c.side === 'attnode');
    if (!ours) continue;
    const label = `${ours.suite}: ${ours.name} ${STANDARD.map((k) => ours.params[k]).filter((v) => v !== undefined).join(' ')}`;
    for (const p of cs) if (p !== ours) rows.push({ case: label, peer: p.side, ratio: ratioOf(ours, p) });
  }
  if (rows.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'attnode against each peer, same run (> 1: attnode faster)',
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'case', type: 'nominal', sort: null, title: null, axis: { labelLimit: 420 } },
      x: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, title: 'attnode / peer' },
      color: { field: 'peer', type: 'nominal' },
      yOffset: { field: 'peer' },
    },
    width: 420,
  };
}
