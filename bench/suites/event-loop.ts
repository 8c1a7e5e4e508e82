// The main thread's event-loop delay while a pool generates at full load with the default
// model, measured side by side with a known-blocking control: the same load while the main
// thread itself also runs a synchronous kernel every few milliseconds. The control shows what
// the histogram reports when the loop is blocked; the tests assert the structure (no kernel runs
// on the main thread), this measures the consequence. Not a throughput benchmark.
//
// A suite of the runner (it loads the built package: npm run build:ts first):
//   npm run bench -- event-loop [--quick]

import { cpus } from 'node:os';
import { loadAddon } from '../../dist/native.js';
import { createPool, type InferencePool } from '../../dist/scheduler/pool.js';
import { defineSuite } from '../lib/suite.js';

const TOKENS = 24;
/** Elements of the control's synchronous kernel (gelu): a few milliseconds on one core. */
const BLOCK_ELEMENTS = 1 << 20;
const BLOCK_EVERY_MS = 10;

interface Side {
  name: string;
  p50: number[];
  p99: number[];
  max: number[];
  tokensPerSecond: number[];
  /** kernel runs on the main thread during the round (the control's, none otherwise) */
  mainThreadKernels: number[];
}

/** One round of `want.length` seeded requests; with `block`, the main thread runs a sync kernel every BLOCK_EVERY_MS. */
async function round(pool: InferencePool, side: Side, block: boolean, want: string[]): Promise<void> {
  const addon = loadAddon();
  const REQUESTS = want.length;
  const x = { dtype: 'f32', shape: [BLOCK_ELEMENTS], data: new Float32Array(BLOCK_ELEMENTS).fill(0.5) };
  const timer = block ? setInterval(() => addon.op('gelu', { x, out: x }), BLOCK_EVERY_MS) : undefined;
  const k0 = addon.kernelThreads().jsThread;
  pool.resetEventLoopDelay();
  const t0 = performance.now();
  try {
    const results = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => pool.generate(`Fortune ${i}:`, { maxTokens: TOKENS, seed: i, ignoreEos: true })));
    const seconds = (performance.now() - t0) / 1000;
    results.forEach((r, i) => {
      if (r.ids.join() !== want[i]) throw new Error(`${side.name}: request ${i} gave other tokens than when checked alone`);
    });
    const m = pool.metrics().eventLoopDelayMs;
    side.p50.push(m.p50);
    side.p99.push(m.p99);
    side.max.push(m.max);
    side.tokensPerSecond.push((REQUESTS * TOKENS) / seconds);
    side.mainThreadKernels.push(addon.kernelThreads().jsThread - k0);
  } finally {
    if (timer) clearInterval(timer);
  }
}

export default defineSuite({
  name: 'event-loop',
  title: 'Event-loop delay of the main thread at full load (default model)',
  description:
    `A pool of up to 2 workers x 1 thread (maxBatch 16) serves concurrent seeded requests of ${TOKENS} tokens; the main thread's event-loop delay (perf_hooks histogram) ` +
    `per round, against a control whose main thread also runs a synchronous ${BLOCK_ELEMENTS}-element gelu every ${BLOCK_EVERY_MS} ms; the two taken in turn. ` +
    'Every timed request must give the tokens it gave alone.',
  async run(ctx) {
    const REQUESTS = ctx.quick ? 16 : 64;
    const ROUNDS = ctx.quick ? 3 : 5;
    const workers = Math.max(1, Math.min(2, cpus().length));
    const pool = createPool({ workers, threadsPerWorker: 1, maxBatch: 16 });
    const sides: Side[] = [
      { name: 'pool alone', p50: [], p99: [], max: [], tokensPerSecond: [], mainThreadKernels: [] },
      { name: `control: main thread runs a ${BLOCK_ELEMENTS}-element gelu every ${BLOCK_EVERY_MS} ms`, p50: [], p99: [], max: [], tokensPerSecond: [], mainThreadKernels: [] },
    ];
    let blockMs = NaN;
    try {
      // Checked before timing: each request's tokens alone, which the timed rounds must repeat.
      const want: string[] = [];
      for (let i = 0; i < REQUESTS; i++) want.push((await pool.generate(`Fortune ${i}:`, { maxTokens: TOKENS, seed: i, ignoreEos: true })).ids.join());
      const x = { dtype: 'f32', shape: [BLOCK_ELEMENTS], data: new Float32Array(BLOCK_ELEMENTS).fill(0.5) };
      const addon = loadAddon();
      const tb = performance.now();
      for (let i = 0; i < 10; i++) addon.op('gelu', { x, out: x });
      blockMs = (performance.now() - tb) / 10;
      for (let r = 0; r < ROUNDS; r++) for (const [s, side] of sides.entries()) await round(pool, side, s === 1, want);
    } finally {
      await pool.close();
    }

    const params = (load: string) => ({ backend: 'native', model: 'attnode-fortunes-7m', workers, requests: REQUESTS, load });
    for (const [i, side] of sides.entries()) {
      const p = params(i === 0 ? 'pool alone' : 'control: blocking main thread');
      ctx.record({ name: 'event-loop delay p50', params: p, side: 'attnode', unit: 'ms', better: 'lower', samples: side.p50, iterations: ROUNDS });
      ctx.record({ name: 'event-loop delay p99', params: p, side: 'attnode', unit: 'ms', better: 'lower', samples: side.p99, iterations: ROUNDS });
      ctx.record({ name: 'event-loop delay max', params: p, side: 'attnode', unit: 'ms', better: 'lower', samples: side.max, iterations: ROUNDS });
      ctx.record({ name: 'throughput', params: p, side: 'attnode', unit: 'tokens/s', better: 'higher', samples: side.tokensPerSecond, iterations: ROUNDS });
      ctx.note(`${side.name}: ${Math.max(...side.mainThreadKernels)} kernel runs on the main thread per round at most`);
    }
    ctx.note(`the control's kernel takes ${blockMs.toFixed(2)} ms a call`);
  },
});
