// Smoke test of the complexity suite through the runner: its --quick sweep runs end to end and
// writes bench.json with every op's cases, the Markdown report and three readable SVG plots.
// Timings are not asserted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fourWayCrossings, type BenchPoint, type ComplexityResults } from '../bench/complexity-report.js';
import type { BenchReport } from '../bench/lib/schema.js';

describe('complexity benchmark --quick', () => {
  it('writes bench.json, complexity.md and the SVG plots', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnode-complexity-'));
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'complexity', '--quick', '--out', dir], { stdio: 'pipe', timeout: 150_000 });
      const r = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as BenchReport;
      expect(r.options.quick).toBe(true);
      expect(r.suites.map((s) => [s.name, s.status])).toEqual([['complexity', 'ok']]);
      const points = r.cases.filter((c) => c.params.sweep !== undefined);
      expect([...new Set(points.map((c) => c.name))].sort()).toEqual(['attention', 'attentionNaive', 'linearParallel', 'linearRecurrent', 'lstm', 'rnn', 'slidingWindow']);
      for (const c of points) {
        expect(c.unit).toBe('ms');
        expect(c.median).toBeGreaterThan(0);
        expect(c.derived!.GFLOPs).toBeGreaterThan(0);
      }
      // The fused op's workspace does not depend on n; the naive op's grows with n^2.
      const scratch = (op: string) => points.filter((c) => c.params.sweep === 'n' && c.name === op && c.params.threads === 1).map((c) => c.derived!.scratchKiB!);
      expect(new Set(scratch('attention')).size).toBe(1);
      const naive = scratch('attentionNaive');
      expect(naive[naive.length - 1]!).toBeGreaterThan(naive[0]!);
      expect(r.cases.some((c) => c.name === 'naive / fused attention' && c.samples.length >= 3)).toBe(true);
      const md = readFileSync(join(dir, 'complexity.md'), 'utf8');
      for (const heading of ['### Fitted slopes', '### Fused against naive attention', '### Crossover', '### Four ways on one plot', '### Sliding window', '### Memory']) expect(md).toContain(heading);
      for (const f of ['complexity-time-vs-n.svg', 'complexity-time-vs-d.svg', 'complexity-crossover.svg', 'complexity-four-ways.svg']) {
        const svg = readFileSync(join(dir, f), 'utf8');
        expect(svg.startsWith('<svg')).toBe(true);
        if (f === 'complexity-four-ways.svg') expect(svg).toMatch(/linear attention[\s\S]*sliding-window attention/);
        else if (f !== 'complexity-crossover.svg') expect(svg).toContain('slope');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('complexity report: four ways on one plot', () => {
  it('finds each pair\'s crossover from the measured curves and names the FLOP model\'s', () => {
    // Synthetic times at d = 64, w = 32: attention n^2 d, rnn and linear n d^2 (linear twice as
    // slow), window n w d past w. Attention crosses the rnn at n = d and linear at n = 2d.
    const d = 64;
    const ms: Record<string, (n: number) => number> = {
      attention: (n) => n * n * d,
      rnn: (n) => n * d * d,
      linearRecurrent: (n) => 2 * n * d * d,
      slidingWindow: (n) => n * Math.min(n, 32) * d,
    };
    const points: BenchPoint[] = [];
    for (const op of Object.keys(ms))
      for (let n = 16; n <= 1024; n *= 2) points.push({ sweep: 'n', op, n, d, threads: 1, ms: ms[op]!(n), samples: 1, flops: 1, gflops: 1, scratchBytes: 0 });
    const r = { version: 1, date: '', quick: true, window: 32, machine: { isa: 'x', cores: 1, kernels: {}, node: '' }, memoryNote: '', points, ratios: [], demo: {} as ComplexityResults['demo'], seconds: 0 } as ComplexityResults;
    const c = fourWayCrossings(r, 1);
    expect(c).toHaveLength(6);
    const pair = (a: string, b: string) => c.find((x) => x.a === a && x.b === b)!;
    expect(pair('attention', 'rnn').n).toBeCloseTo(64, 6);
    expect(pair('attention', 'rnn').ms).toBeCloseTo(64 ** 3, 0);
    expect(pair('attention', 'rnn').flopN).toBe(64);
    expect(pair('attention', 'linearRecurrent').n).toBeCloseTo(128, 6);
    expect(pair('rnn', 'linearRecurrent').n).toBeUndefined();
    expect(pair('rnn', 'slidingWindow').flopNote).toMatch(/w\/d = 32\/64/);
    // The window equals attention up to n = w (a tie counts as the crossing's start), and is cheaper past it.
    expect(pair('attention', 'slidingWindow').n).toBe(16);
  });
});
