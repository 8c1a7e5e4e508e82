// Smoke test of the complexity suite through the runner: its --quick sweep runs end to end and
// writes bench.json with every op's cases, the Markdown report and three readable SVG plots.
// Timings are not asserted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
      for (const heading of ['### Fitted slopes', '### Fused against naive attention', '### Crossover', '### Sliding window', '### Memory']) expect(md).toContain(heading);
      for (const f of ['complexity-time-vs-n.svg', 'complexity-time-vs-d.svg', 'complexity-crossover.svg']) {
        const svg = readFileSync(join(dir, f), 'utf8');
        expect(svg.startsWith('<svg')).toBe(true);
        if (f !== 'complexity-crossover.svg') expect(svg).toContain('slope');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
