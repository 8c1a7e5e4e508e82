// The benchmark runner's own logic: option parsing, the result schema, the case table, and
// --compare on synthetic reports (no timing is asserted; the measuring loop is checked for what
// it calls, in which order, and what it records).

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareReports, formatComparison } from '../bench/lib/compare.js';
import { BenchUsageError, parseBenchArgs } from '../bench/lib/options.js';
import { casesTable, ratioOf, renderMarkdown } from '../bench/lib/report.js';
import { SCHEMA_VERSION, caseKey, checkReport, type BenchCase, type BenchReport } from '../bench/lib/schema.js';
import { quantile, spreadOf } from '../bench/lib/stats.js';
import { createContext, figureOf } from '../bench/lib/suite.js';

const SUITES = ['matmul', 'model', 'tokenizer'];

describe('bench options', () => {
  it('attnode bench refuses a bad option with exit status 2 and a message naming it', () => {
    const r = spawnSync(process.execPath, ['dist/cli.js', 'bench', '--threads', 'two'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/attnode bench: --threads: 'two' is not a thread count/);
  });

  it('defaults to every suite, full mode, no filters', () => {
    const o = parseBenchArgs([], SUITES);
    expect(o).toMatchObject({ suites: SUITES, quick: false, threshold: 0.05, list: false });
    expect(o.threads).toBeUndefined();
    expect(o.dtype).toBeUndefined();
  });

  it('takes suites as arguments and --suite lists, filters as comma lists', () => {
    const o = parseBenchArgs(['model', '--suite', 'matmul,model', '--quick', '--threads', '1,2', '--dtype', 'f32,q8_0', '--backend', 'native', '--out', '/tmp/x'], SUITES);
    expect(o.suites).toEqual(['model', 'matmul']);
    expect(o).toMatchObject({ quick: true, threads: [1, 2], dtype: ['f32', 'q8_0'], backend: ['native'], out: '/tmp/x' });
  });

  it('names the option in every refusal', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--suite', 'nope'], /--suite: unknown suite 'nope'; suites: matmul, model, tokenizer/],
      [['nope'], /--suite: unknown suite 'nope'/],
      [['--threads', '0'], /--threads: '0' is not a thread count/],
      [['--threads', '1.5'], /--threads: '1.5'/],
      [['--threads', '1,,2'], /--threads: expected a comma-separated list/],
      [['--dtype', 'f33'], /--dtype: unknown value 'f33'; expected one of f32, /],
      [['--backend', 'gpu'], /--backend: unknown value 'gpu'; expected one of native, webgpu, cuda, reference/],
      [['--thread', '1'], /Unknown option '--thread'/],
      [['--threads'], /--threads/],
      [['--out', ''], /--out: expected a path/],
      [['--compare-only', 'a.json'], /--compare-only: needs --compare/],
      [['--compare', 'a.json', '--threshold', '5'], /--threshold: '5' is not a fraction/],
      [['--threshold', '0.1'], /--threshold: only applies with --compare/],
    ];
    for (const [args, msg] of bad) {
      let err: unknown;
      try {
        parseBenchArgs(args, SUITES);
      } catch (e) {
        err = e;
      }
      expect(err, args.join(' ')).toBeInstanceOf(BenchUsageError);
      expect((err as Error).message, args.join(' ')).toMatch(msg);
    }
  });
});

function benchCase(name: string, side: string, samples: number[], extra: Partial<BenchCase> = {}): BenchCase {
  return {
    suite: 'matmul', name, params: { threads: 1, dtype: 'f32', shape: '1x768x3072' }, side, unit: 'GFLOP/s', better: 'higher',
    samples, median: quantile(samples, 0.5), spread: spreadOf(samples), iterations: samples.length * 10, clock: 'cpu', ...extra,
  };
}

function report(cases: BenchCase[]): BenchReport {
  return {
    schemaVersion: SCHEMA_VERSION, kind: 'attnode-bench', date: '2026-12-04T00:00:00.000Z', seconds: 1,
    options: { quick: true, suites: ['matmul'] },
    machine: {
      cpuModel: 'test', cpus: 2, cores: 2, isa: 'avx512', kernels: { gemm: 'gemm_f32_avx512' }, calibration: [{ threads: 1, fmaGflops: 100, readGBs: 30 }],
      node: 'v20', attnode: '0.1.0', commit: 'abc', loadAverage: { before: 1, after: 1 }, os: 'Linux',
    },
    suites: [{ name: 'matmul', status: 'ok', seconds: 1, notes: [], sections: [], files: [], loadAverage: { before: 1, after: 1 } }],
    peers: [], cases,
  };
}

describe('bench schema', () => {
  it('round-trips through JSON and the check', () => {
    const r = report([benchCase('linear', 'attnode', [10, 11, 12])]);
    expect(checkReport(JSON.parse(JSON.stringify(r)), 'x')).toEqual(r);
  });

  it('refuses other files, other versions and broken cases, naming the field', () => {
    const r = report([benchCase('linear', 'attnode', [10, 11, 12])]);
    expect(() => checkReport([], 'old.json')).toThrow(/old.json: not an attnode bench report/);
    expect(() => checkReport({ ...r, schemaVersion: 99 }, 'old.json')).toThrow(/schemaVersion 99; this runner reads version 1/);
    expect(() => checkReport({ ...r, cases: [{ ...r.cases[0], median: 'x' }] }, 'old.json')).toThrow(/cases\[0\]\.median/);
    expect(() => checkReport({ ...r, cases: [{ ...r.cases[0], better: 'up' }] }, 'old.json')).toThrow(/cases\[0\]\.better/);
    expect(() => checkReport({ ...r, cases: [{ ...r.cases[0], spread: { min: 1 } }] }, 'old.json')).toThrow(/cases\[0\]\.spread/);
  });

  it('keys a case by suite, name, sorted params and side', () => {
    const a = benchCase('linear', 'attnode', [1]);
    expect(caseKey(a)).toBe('matmul/linear[dtype=f32,shape=1x768x3072,threads=1]@attnode');
    expect(caseKey({ ...a, params: { shape: '1x768x3072', threads: 1, dtype: 'f32' } })).toBe(caseKey(a));
    expect(caseKey({ ...a, side: 'openblas' })).not.toBe(caseKey(a));
  });

  it('quantiles interpolate between order statistics', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(spreadOf([1, 2, 3, 4, 5])).toEqual({ min: 1, max: 5, q1: 2, q3: 4 });
  });
});

describe('bench --compare', () => {
  // Two runs of the same code: rounds scattered by a few percent, ranges overlapping.
  const run1 = report([benchCase('linear', 'attnode', [100, 103, 98, 101, 99]), benchCase('square', 'attnode', [50, 51, 49]), benchCase('linear', 'openblas', [80, 82, 79])]);
  const run2 = report([benchCase('linear', 'attnode', [101, 97, 102, 100, 99]), benchCase('square', 'attnode', [49.5, 50.5, 51.5]), benchCase('linear', 'openblas', [81, 80, 83])]);

  it('flags nothing between two runs of the same code', () => {
    const c = compareReports(run1, run2);
    expect(c.changes).toHaveLength(3);
    expect(c.changes.filter((x) => x.flagged)).toEqual([]);
    expect(formatComparison(c, 0.05)).toMatch(/^0 of 3 cases changed/);
  });

  it('flags a planted 20% slowdown, and only that case', () => {
    const slow = report(run2.cases.map((c) => (c.name === 'linear' && c.side === 'attnode' ? benchCase('linear', 'attnode', c.samples.map((s) => s * 0.8)) : c)));
    const c = compareReports(run1, slow);
    const flagged = c.changes.filter((x) => x.flagged);
    expect(flagged.map((x) => x.key)).toEqual(['matmul/linear[dtype=f32,shape=1x768x3072,threads=1]@attnode']);
    expect(flagged[0]!.change).toBeCloseTo(0.8 - 1, 2);
    expect(formatComparison(c, 0.05)).toMatch(/1 of 3 cases changed .* \(1 slower, 0 faster\)[\s\S]*SLOWER/);
  });

  it('signs times so that slower is negative', () => {
    const t = (s: number[]) => benchCase('prefill', 'attnode', s, { unit: 'ms', better: 'lower' });
    const c = compareReports(report([t([10, 10.2, 9.9])]), report([t([12, 12.1, 12.3])]));
    expect(c.changes[0]!.flagged).toBe(true);
    expect(c.changes[0]!.change).toBeCloseTo(10 / 12.1 - 1, 3);
  });

  it('does not flag a change inside the spread of the noisier run, nor one under the threshold', () => {
    const wide = report([benchCase('linear', 'attnode', [60, 100, 140])]);
    const lower = report([benchCase('linear', 'attnode', [79, 80, 81])]);
    expect(compareReports(wide, lower).changes[0]!.flagged).toBe(false);
    const tight = report([benchCase('linear', 'attnode', [100, 100.1, 100.2])]);
    const small = report([benchCase('linear', 'attnode', [98, 98.1, 98.2])]);
    const c = compareReports(tight, small).changes[0]!;
    expect(c.beyondSpread).toBe(true);
    expect(c.flagged).toBe(false);
    expect(compareReports(tight, small, 0.01).changes[0]!.flagged).toBe(true);
  });

  it('warns when either run was made on a busy machine', () => {
    const busy = report(run2.cases);
    busy.machine = { ...busy.machine, loadAverage: { before: 9.5, after: 3 } };
    const c = compareReports(run1, busy);
    expect(c.busy).toBe('the new run had a load average of 9.5 on 2 CPUs');
    expect(formatComparison(c, 0.05)).toMatch(/Warning: the new run had a load average of 9.5 on 2 CPUs; .* not evidence of a change/);
    expect(compareReports(run1, run2).busy).toBeUndefined();
  });

  it('lists cases found in one run only', () => {
    const c = compareReports(run1, report([run1.cases[0]!]));
    expect(c.onlyOld).toHaveLength(2);
    expect(c.onlyNew).toEqual([]);
  });
});

describe('bench measure and report', () => {
  it('checks every side before timing any, rotates the order of sides per round, records one sample per round', async () => {
    const calls: string[] = [];
    const { ctx, output } = createContext('t', { quick: true, out: '/tmp' }, () => undefined);
    const side = (n: string) => ({ check: () => void calls.push(`check ${n}`), run: () => void (calls[calls.length - 1] === `run ${n}` || calls.push(`run ${n}`)) });
    const cases = await ctx.measure({ name: 'c', params: { threads: 1 }, unit: 'ms', rounds: 3, minTimeMs: 1, warmupMs: 0 }, { attnode: side('a'), peer: side('p') });
    expect(calls.slice(0, 2)).toEqual(['check a', 'check p']);
    // warm-up a, p; then rounds (a, p), (p, a), (a, p)
    expect(calls.slice(2)).toEqual(['run a', 'run p', 'run a', 'run p', 'run a', 'run p']);
    expect(cases.map((c) => c.side)).toEqual(['attnode', 'peer']);
    expect(cases.every((c) => c.samples.length === 3 && c.better === 'lower' && c.suite === 't')).toBe(true);
    expect(output.cases).toHaveLength(2);
  });

  it('stops before timing when a check fails, and skips cases the filters leave out', async () => {
    const { ctx, output } = createContext('t', { quick: true, out: '/tmp', threads: [2] }, () => undefined);
    let ran = 0;
    const run = () => void ran++;
    await expect(ctx.measure({ name: 'c', params: { threads: 2 }, unit: 'ms' }, { attnode: { run }, peer: { check: () => { throw new Error('wrong sum'); }, run } })).rejects.toThrow(/t\/c \[threads=2\] \(peer\): check failed before timing: wrong sum/);
    expect(ran).toBe(0);
    expect(await ctx.measure({ name: 'c', params: { threads: 1 }, unit: 'ms' }, { attnode: { run } })).toEqual([]);
    expect(ctx.threads([1, 2])).toEqual([2]);
    expect(ctx.dtypes(['f32', 'q8_0'])).toEqual(['f32', 'q8_0']);
    expect(output.cases).toEqual([]);
  });

  it('turns time per call into the unit', () => {
    expect(figureOf({ name: 'x', unit: 'ms' }, 2)).toBe(2);
    expect(figureOf({ name: 'x', unit: 'us' }, 2)).toBe(2000);
    expect(figureOf({ name: 'x', unit: 'tokens/s', work: 128 }, 500)).toBe(256);
    expect(() => figureOf({ name: 'x', unit: 'tokens/s' }, 1)).toThrow(/unit 'tokens\/s' is a rate and needs 'work'/);
  });

  it('renders the machine header, the busy-machine warning and every suite', () => {
    const r = report([benchCase('linear', 'attnode', [100, 90, 110])]);
    const md = renderMarkdown(r, { matmul: { title: 'f32 GEMM', description: 'GEMM against the peak' } }, (f) => f);
    expect(md).toMatch(/^# attnode benchmarks \(--quick\)/);
    expect(md).toContain('- kernels (avx512): gemm gemm_f32_avx512');
    expect(md).toContain('- measured at 1 thread(s): FMA peak 100.0 GFLOP/s, DRAM read 30.0 GB/s');
    expect(md).toContain('## f32 GEMM (`matmul`)');
    expect(md).not.toContain('Warning: the load average');
    r.machine.loadAverage = { before: 6, after: 1 };
    expect(renderMarkdown(r, {}, (f) => f)).toContain('Warning: the load average was above the number of CPUs');
  });

  it('pairs rounds for the ratio and tabulates every side', () => {
    const a = benchCase('linear', 'attnode', [100, 90, 110]);
    const b = benchCase('linear', 'openblas', [50, 60, 50]);
    expect(ratioOf(a, b)).toBe(2);
    const table = casesTable([a, b]);
    expect(table).toMatch(/\| case \| threads \| dtype \| shape \| unit \| attnode median \[min-max\] \| openblas median \[min-max\] \| attnode \/ openblas \|/);
    expect(table).toMatch(/\| linear \| 1 \| f32 \| 1x768x3072 \| GFLOP\/s \| 100 \[90.0-110\] \| 50.0 \[50.0-60.0\] \| 2.00x \|/);
  });
});
