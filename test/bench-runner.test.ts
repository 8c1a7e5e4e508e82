// The benchmark runner's own logic: option parsing, the result schema and the case table (no
// timing is asserted; the measuring loop is checked for what it calls, in which order, and what
// it records). --compare's noise model: test/bench/compare.test.ts.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
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
    expect(o).toMatchObject({ suites: SUITES, quick: false, threshold: 0.1, list: false });
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
    expect(() => checkReport({ ...r, schemaVersion: 99 }, 'old.json')).toThrow(/schemaVersion 99; this runner reads versions 1 and 2/);
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
