// The main thread's event-loop delay while a pool generates at full load with the default
// model, measured side by side with a known-blocking control: the same load while the main
// thread itself also runs a synchronous kernel every few milliseconds. The control shows what
// the histogram reports when the loop is blocked; the tests assert the structure (no kernel runs
// on the main thread), this measures the consequence. Not a throughput benchmark.
//
// npm run build:ts && npx tsx bench/event-loop.bench.ts   (writes bench/results/event-loop.{json,md})

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { loadAddon } from '../dist/native.js';
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';

const REQUESTS = 64;
const TOKENS = 24;
const ROUNDS = 5;
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

const addon = loadAddon();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;

/** One round of REQUESTS seeded requests; with `block`, the main thread runs a sync kernel every BLOCK_EVERY_MS. */
async function round(pool: InferencePool, side: Side, block: boolean, want: string[]): Promise<void> {
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

const workers = Math.max(1, Math.min(2, cpus().length));
const pool = createPool({ workers, threadsPerWorker: 1, maxBatch: 16 });
const sides: Side[] = [
  { name: 'pool alone', p50: [], p99: [], max: [], tokensPerSecond: [], mainThreadKernels: [] },
  { name: `control: main thread runs a ${BLOCK_ELEMENTS}-element gelu every ${BLOCK_EVERY_MS} ms`, p50: [], p99: [], max: [], tokensPerSecond: [], mainThreadKernels: [] },
];
const loadBefore = loadavg()[0]!;
let blockMs = NaN;
try {
  // Checked before timing: each request's tokens alone, which the timed rounds must repeat.
  const want: string[] = [];
  for (let i = 0; i < REQUESTS; i++) want.push((await pool.generate(`Fortune ${i}:`, { maxTokens: TOKENS, seed: i, ignoreEos: true })).ids.join());
  const x = { dtype: 'f32', shape: [BLOCK_ELEMENTS], data: new Float32Array(BLOCK_ELEMENTS).fill(0.5) };
  const tb = performance.now();
  for (let i = 0; i < 10; i++) addon.op('gelu', { x, out: x });
  blockMs = (performance.now() - tb) / 10;
  for (let r = 0; r < ROUNDS; r++) for (const [s, side] of sides.entries()) await round(pool, side, s === 1, want);
} finally {
  await pool.close();
}
const loadAfter = loadavg()[0]!;

const md = [
  '# Event-loop delay of the main thread at full load (default model)',
  '',
  `A pool of ${workers} workers x 1 thread (maxBatch 16) serves ${REQUESTS} concurrent seeded requests of ${TOKENS} tokens; the main thread's`,
  `event-loop delay (perf_hooks histogram, resolution subtracted) over each round; ${ROUNDS} rounds, the two sides taken in turn; median and`,
  `range over the rounds. The control adds a synchronous kernel on the main thread (${blockMs.toFixed(2)} ms each, every ${BLOCK_EVERY_MS} ms).`,
  `Every timed request was checked to give the tokens it gave alone. Load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after.`,
  '',
  '| side | p50 (ms) | p99 (ms) | max (ms) | tok/s | kernels on the main thread per round |',
  '|---|---:|---:|---:|---:|---:|',
  ...sides.map((s) => `| ${s.name} | ${median(s.p50).toFixed(2)} (${spread(s.p50)}) | ${median(s.p99).toFixed(2)} (${spread(s.p99)}) | ${median(s.max).toFixed(2)} (${spread(s.max)}) | ${median(s.tokensPerSecond).toFixed(0)} | ${median(s.mainThreadKernels)} |`),
  '',
].join('\n');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/event-loop.json', import.meta.url), JSON.stringify({ workers, requests: REQUESTS, tokens: TOKENS, rounds: ROUNDS, blockMs, loadBefore, loadAfter, sides }, null, 2) + '\n');
writeFileSync(new URL('./results/event-loop.md', import.meta.url), md);
console.log(md);
