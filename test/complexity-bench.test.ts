// Smoke test of bench/complexity.bench.ts: its --quick sweep runs end to end and writes the
// JSON, the Markdown report and three readable SVG plots. Timings are not asserted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ComplexityResults } from '../bench/complexity-report.js';

describe('complexity benchmark --quick', () => {
  it('writes complexity.json, complexity.md and the SVG plots', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnode-complexity-'));
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'bench/complexity.bench.ts', '--quick', '--out', dir], { stdio: 'pipe', timeout: 120_000 });
      const r = JSON.parse(readFileSync(join(dir, 'complexity.json'), 'utf8')) as ComplexityResults;
      expect(r.quick).toBe(true);
      const ops = new Set(r.points.map((p) => p.op));
      expect([...ops].sort()).toEqual(['attention', 'attentionNaive', 'linearParallel', 'linearRecurrent', 'lstm', 'rnn', 'slidingWindow']);
      expect(new Set(r.points.map((p) => p.threads)).size).toBeGreaterThanOrEqual(1);
      for (const p of r.points) {
        expect(p.ms).toBeGreaterThan(0);
        expect(p.gflops).toBeGreaterThan(0);
      }
      // The fused op's workspace does not depend on n; the naive op's grows with n^2.
      const scratch = (op: string) => r.points.filter((p) => p.sweep === 'n' && p.op === op && p.threads === 1).map((p) => p.scratchBytes);
      expect(new Set(scratch('attention')).size).toBe(1);
      const naive = scratch('attentionNaive');
      expect(naive[naive.length - 1]!).toBeGreaterThan(naive[0]!);
      const md = readFileSync(join(dir, 'complexity.md'), 'utf8');
      for (const heading of ['## Fitted slopes', '## Fused against naive attention', '## Crossover', '## Sliding window', '## Memory']) expect(md).toContain(heading);
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
