// The O(n^2 d) vs O(n d^2) benchmark: fused and naive attention, sliding-window attention, rnn,
// lstm and linear attention (both forms) swept over sequence length n and width d, on 1 thread
// and on all threads. Results are checked before they are timed. The report (fitted slopes,
// crossover, memory) and its SVG plots come from bench/complexity-report.ts.
// A suite of the runner: npm run bench -- complexity [--quick] [--threads 1]

import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { NativeBackend } from '../../ts/backend/native.js';
import { ReferenceBackend } from '../../ts/backend/reference.js';
import type { OpArgs } from '../../ts/backend/backend.js';
import { loadAddon } from '../../ts/native.js';
import { Tensor } from '../../ts/tensor/tensor.js';
import { writeReport, type BenchPoint, type ComplexityResults, type MemoryDemo, type PairedRatio } from '../complexity-report.js';
import { defineSuite, type SuiteContext } from '../lib/suite.js';

export type OpKind = 'attention' | 'attentionNaive' | 'slidingWindow' | 'rnn' | 'lstm' | 'linearParallel' | 'linearRecurrent';

export default defineSuite({
  name: 'complexity',
  title: 'Complexity: attention O(n²d) against recurrence O(nd²)',
  description:
    'Fused and naive attention, sliding-window attention, Elman RNN, LSTM and linear attention (parallel and recurrent) swept over sequence length n and width d, ' +
    'with fitted log-log slopes, the measured crossover of attention and recurrence, fused against naive attention in paired rounds, and the fused op\'s scratch memory.',
  run,
});

async function run(ctx: SuiteContext): Promise<void> {
  const quick = ctx.quick;
  const addon = loadAddon();
  const cores = addon.cpuInfo().cores;
  const backend = new NativeBackend();
  const threadCounts = ctx.threads([...new Set([1, cores])]);
  if (threadCounts.length === 0) return ctx.note('no thread count passes --threads');

  /**
   * Seeded uniform values in [-scale, scale): xorshift, fast enough for 10^7 values. In a
   * SharedArrayBuffer, which async ops read in place (a plain ArrayBuffer would be copied first).
   */
  function tensor(shape: number[], seed: number, scale = 1): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(new SharedArrayBuffer(4 * n));
    let s = (seed * 2654435761) >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      v[i] = (s / 4294967296 - 0.5) * 2 * scale;
    }
    return Tensor.fromArray('f32', shape, v);
  }


  /** The sliding window's width: each query attends to its last WINDOW positions (causal). */
  const WINDOW = quick ? 32 : 256;

  /** Query-key pairs of causal attention over a window of w: sum over i < n of min(i + 1, w). */
  function windowPairs(n: number, w: number): number {
    const full = Math.min(n, w);
    return (full * (full + 1)) / 2 + (n - full) * w;
  }

  interface Workload {
    run(): Promise<Tensor>;
    flops: number;
  }

  /** One layer of width d on a sequence of n tokens (attention: one head of size d). */
  function workload(op: OpKind, n: number, d: number, heads = 1): Workload {
    switch (op) {
      case 'attention':
      case 'attentionNaive': {
        const args = { q: tensor([n, heads, d], 1), k: tensor([n, heads, d], 2), v: tensor([n, heads, d], 3) };
        const out = Tensor.zeros('f32', [n, heads, d], { shared: true });
        // q k^T and p v: 2 n^2 d each per head (the softmax's n^2 exponentials are not counted).
        return { run: () => backend.run(op, { ...args, out }), flops: 4 * n * n * d * heads };
      }
      case 'slidingWindow': {
        const args = { q: tensor([n, heads, d], 1), k: tensor([n, heads, d], 2), v: tensor([n, heads, d], 3), causal: true, window: WINDOW };
        const out = Tensor.zeros('f32', [n, heads, d], { shared: true });
        // q k^T and p v over the window's pairs only: O(n w d), not O(n^2 d).
        return { run: () => backend.run('attention', { ...args, out }), flops: 4 * windowPairs(n, WINDOW) * d * heads };
      }
      case 'rnn':
      case 'lstm': {
        const g = op === 'rnn' ? 1 : 4;
        const args: OpArgs['lstm'] = {
          x: tensor([1, n, d], 4), wIh: tensor([g * d, d], 5, 1 / Math.sqrt(d)), wHh: tensor([g * d, d], 6, 1 / Math.sqrt(d)),
          bias: tensor([g * d], 7, 0.1),
        };
        const out = Tensor.zeros('f32', [1, n, d], { shared: true });
        // wIh x_t and wHh h_{t-1}: 2 g d^2 each per step.
        return { run: () => backend.run(op, { ...args, out }), flops: 4 * g * n * d * d };
      }
      case 'linearParallel':
      case 'linearRecurrent': {
        const args = { q: tensor([n, 1, d], 8), k: tensor([n, 1, d], 9), v: tensor([n, 1, d], 10) };
        const out = Tensor.zeros('f32', [n, 1, d], { shared: true });
        const form = op === 'linearParallel' ? 'parallel' : 'recurrent';
        // parallel: a dot and an axpy of length d per pair j <= i; recurrent: a rank-1 update of
        // the (d, d) state and a (d, d) readout per step.
        const flops = op === 'linearParallel' ? 4 * d * ((n * (n + 1)) / 2) : 4 * n * d * d;
        return { run: () => backend.run('linearAttention', { ...args, form, out }), flops };
      }
    }
  }

  function maxAbsDiff(a: Tensor, b: Tensor): number {
    const x = a.data;
    const y = b.data;
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
    return m;
  }

  const CHECK_TOL = 2e-4;

  /** Checks an op's output before it is timed: against its twin form, or the TS reference when small. */
  async function check(op: OpKind, n: number, d: number, out: Tensor): Promise<void> {
    let want: Tensor | undefined;
    if (op === 'attention' || op === 'attentionNaive') {
      if (n > 4096 || n * n * d > 2 ** 31) return; // the twin's cost alone; the harness covers these shapes
      want = await workload(op === 'attention' ? 'attentionNaive' : 'attention', n, d).run();
    } else if (op === 'slidingWindow') {
      if (n > 4096 || n * n * d > 2 ** 31) return;
      // The naive op under the same window: a second, independent computation.
      want = await backend.run('attentionNaive', {
        q: tensor([n, 1, d], 1), k: tensor([n, 1, d], 2), v: tensor([n, 1, d], 3), causal: true, window: WINDOW, out: Tensor.zeros('f32', [n, 1, d], { shared: true }),
      });
    } else if (op === 'linearParallel' || op === 'linearRecurrent') {
      if (n > 4096) return;
      want = await workload(op === 'linearParallel' ? 'linearRecurrent' : 'linearParallel', n, d).run();
    } else if (n * d * d <= 2 ** 22) {
      const g = op === 'rnn' ? 1 : 4;
      want = new ReferenceBackend().runSync(op, {
        x: tensor([1, n, d], 4), wIh: tensor([g * d, d], 5, 1 / Math.sqrt(d)), wHh: tensor([g * d, d], 6, 1 / Math.sqrt(d)),
        bias: tensor([g * d], 7, 0.1),
      });
    }
    if (!want) return;
    const err = maxAbsDiff(out, want);
    if (!(err <= CHECK_TOL)) throw new Error(`${op} n=${n} d=${d}: result differs from its check by ${err} (> ${CHECK_TOL})`);
  }

  async function measure(sweep: string, op: OpKind, n: number, d: number, threads: number): Promise<BenchPoint | undefined> {
    const params = { backend: 'native', threads, dtype: 'f32', shape: `n ${n} d ${d}`, sweep };
    if (!ctx.wants(params)) return undefined;
    addon.setThreads(threads);
    const w = workload(op, n, d);
    addon.peakScratchBytes(true);
    const t0 = performance.now();
    const out = await w.run();
    const firstMs = performance.now() - t0;
    const scratch = addon.peakScratchBytes(true);
    // Long calls run fewer rounds so the default sweep stays short.
    const rounds = firstMs > 800 ? 2 : 3;
    // One thread on the process CPU clock (the op runs on a libuv thread; the clock counts every
  // thread of the process), which leaves out time other processes held the core; more on the wall clock.
  const clock = threads === 1 ? ('cpu' as const) : ('wall' as const);
  const [c] = await ctx.measure({ name: op, params, unit: 'ms', clock, rounds, minTimeMs: quick ? 20 : 40, warmupMs: firstMs < 150 ? 10 : 0 }, {
      attnode: { ...(threads === threadCounts[0] ? { check: () => check(op, n, d, out) } : {}), run: () => w.run() },
    });
    const ms = c!.median;
    const p: BenchPoint = { sweep, op, n, d, threads, ms, samples: c!.iterations, flops: w.flops, gflops: w.flops / ms / 1e6, scratchBytes: scratch };
    c!.derived = { GFLOPs: p.gflops, scratchKiB: scratch / 1024 };
    ctx.log(`${sweep.padEnd(12)} ${op.padEnd(16)} n=${String(n).padStart(5)} d=${String(d).padStart(4)} t=${threads}  ${ms.toFixed(3).padStart(10)} ms  ${p.gflops.toFixed(2).padStart(7)} GFLOP/s`);
    return p;
  }

  /**
   * naive time / fused time measured side by side: calls alternate, and the median of the
   * per-round ratios is kept, so load from other processes hits both sides alike.
   */
  async function pairedRatio(n: number, d: number, threads: number): Promise<number> {
    addon.setThreads(threads);
    const fused = workload('attention', n, d);
    const naive = workload('attentionNaive', n, d);
    const once = async (w: Workload) => {
      const t0 = performance.now();
      await w.run();
      return performance.now() - t0;
    };
    await once(fused);
    const first = await once(naive);
    const rounds = quick ? 3 : first > 800 ? 3 : first > 100 ? 5 : 15;
    const ratios: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const f = await once(fused);
      ratios.push((await once(naive)) / f);
    }
    const c = ctx.record({ name: 'naive / fused attention', params: { backend: 'native', threads, dtype: 'f32', shape: `n ${n} d ${d}` }, side: 'attnode', unit: 'x', better: 'higher', samples: ratios, iterations: 2 * rounds });
    return c?.median ?? NaN;
  }

  const pow2 = (lo: number, hi: number) => {
    const r: number[] = [];
    for (let x = lo; x <= hi; x *= 2) r.push(x);
    return r;
  };

  const plan = quick
    ? { nSweep: { d: 32, ns: pow2(16, 128) }, dSweep: { n: 64, ds: [32, 64, 128] }, cross: [{ d: 64, ns: pow2(16, 256) }], demo: { n: 512, heads: 12, d: 64 } }
    : { nSweep: { d: 64, ns: pow2(16, 8192) }, dSweep: { n: 512, ds: pow2(64, 1024) }, cross: [{ d: 256, ns: pow2(16, 4096) }, { d: 1024, ns: pow2(64, 2048) }], demo: { n: 8192, heads: 12, d: 64 } };

  /** The quadratic-in-n parallel linear form is capped where its plain loops take seconds. */
  const LINEAR_PARALLEL_MAX_N = 4096;

  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const points: BenchPoint[] = [];
  const ratios: PairedRatio[] = [];
  const ops: OpKind[] = ['attention', 'attentionNaive', 'slidingWindow', 'rnn', 'lstm', 'linearParallel', 'linearRecurrent'];
  for (const threads of threadCounts) {
    for (const n of plan.nSweep.ns)
      for (const op of ops) {
        if (op === 'linearParallel' && n > LINEAR_PARALLEL_MAX_N) continue;
        const p = await measure('n', op, n, plan.nSweep.d, threads);
        if (p) points.push(p);
      }
    for (const n of plan.nSweep.ns) {
      const ratio = await pairedRatio(n, plan.nSweep.d, threads);
      ratios.push({ n, d: plan.nSweep.d, threads, naiveOverFused: ratio });
      ctx.log(`paired       naive/fused      n=${String(n).padStart(5)} d=${String(plan.nSweep.d).padStart(4)} t=${threads}  ${ratio.toFixed(2)}x`);
    }
    for (const d of plan.dSweep.ds)
      for (const op of ops) {
        const p = await measure('d', op, plan.dSweep.n, d, threads);
        if (p) points.push(p);
      }
    for (const c of plan.cross)
      for (const n of c.ns)
        for (const op of ['attention', 'rnn'] as const) {
          const p = await measure(`cross-d${c.d}`, op, n, c.d, threads);
          if (p) points.push(p);
        }
  }
  // Many heads at the longest n: the fused op's workspace stays O(D) per thread, while the score
  // matrix the naive op would materialize is (heads, n, n) f32.
  const { n, heads, d } = plan.demo;
  addon.setThreads(cores);
  const demoW = workload('attention', n, d, heads);
  addon.peakScratchBytes(true);
  const t0 = performance.now();
  await demoW.run();
  const demoMs = performance.now() - t0;
  const demoScratch = addon.peakScratchBytes(true);
  let naiveOutcome: string;
  try {
    await workload('attentionNaive', n, d, heads).run();
    naiveOutcome = `ran; peak scratch ${addon.peakScratchBytes(true)} bytes`;
  } catch (e) {
    naiveOutcome = `refused: ${(e as Error).message}`;
  }
  const demo: MemoryDemo = {
    n, heads, d, threads: cores, ms: demoMs, gflops: demoW.flops / demoMs / 1e6, scratchBytes: demoScratch,
    scoreMatrixBytes: heads * n * n * 4, naive: naiveOutcome,
  };
  ctx.log(`demo: fused n=${n} heads=${heads} d=${d}: ${demoMs.toFixed(0)} ms, scratch ${demoScratch} bytes; naive ${naiveOutcome}`);

  const info = addon.cpuInfo();
  const results: ComplexityResults = {
    version: 1,
    date: new Date().toISOString(),
    quick,
    window: WINDOW,
    machine: { isa: info.isa, cores, kernels: info.kernels, node: process.version, loadAverage: [loadStart, loadavg()[0]!] },
    memoryNote: 'scratchBytes: the most workspace the native op held at once (its ScratchBuffer accounting, addon.peakScratchBytes), beyond inputs and output',
    points,
    ratios,
    demo,
    seconds: (performance.now() - started) / 1000,
  };
  // The report module writes complexity.md and the plots into a folder; the plots go to the
  // runner's output folder and the Markdown (less its heading) into this suite's section.
  const tmp = mkdtempSync(join(tmpdir(), 'attnode-complexity-'));
  try {
    const files = await writeReport(results, tmp);
    for (const f of files) {
      if (f.endsWith('.md')) ctx.section(readFileSync(f, 'utf8').replace(/^# .*\n+/, '').replace(/^## /gm, '### '));
      else {
        copyFileSync(f, join(ctx.options.out, basename(f)));
        ctx.file(join(ctx.options.out, basename(f)));
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  backend.dispose();
}
