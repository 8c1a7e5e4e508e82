// Pool throughput with the default model: total generated tokens/s and time to first token for
// 1, 2, 4 and 8 concurrent requests on one worker, served one at a time (maxBatch 1, batching
// off), interleaved (maxBatch = the concurrency, one forward pass per sequence step) or with
// continuous batching (one forward pass per step for all of them; at concurrency 1 this measures
// the batcher's own overhead). Not a kernel benchmark.
//
// npm run build:ts && npx tsx bench/scheduler.bench.ts   (writes bench/results/scheduler.{json,md})

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';

const TOKENS = 32;
const ROUNDS = 3;
const threads = cpus().length;
const MODES = {
  'one at a time': (_c: number) => ({ maxBatch: 1, batching: false }),
  interleaved: (c: number) => ({ maxBatch: c, batching: false }),
  batched: (c: number) => ({ maxBatch: c, batching: true }),
} as const;
type Mode = keyof typeof MODES;

interface Row {
  concurrency: number;
  mode: Mode;
  tokensPerSecond: number;
  p50TimeToFirstTokenMs: number;
  /** sequences per forward pass over the timed rounds */
  meanBatch: number;
}

/** One request, streamed: its ids and the ms from submission to its first token. */
async function timed(pool: InferencePool, prompt: string, seed: number): Promise<{ ids: number[]; ttft: number }> {
  const t0 = performance.now();
  let ttft = NaN;
  const s = pool.stream(prompt, { maxTokens: TOKENS, seed, ignoreEos: true });
  for await (const _chunk of s) if (Number.isNaN(ttft)) ttft = performance.now() - t0;
  return { ids: (await s.result).ids, ttft };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Ids of the first round of each (concurrency, mode), checked equal across modes. */
const firstRound = new Map<number, string[]>();

async function measure(concurrency: number, mode: Mode): Promise<Row> {
  const { maxBatch, batching } = MODES[mode](concurrency);
  const pool = createPool({ workers: 1, threadsPerWorker: threads, maxBatch, batching });
  try {
    // Check before timing: seeded requests give the same tokens alone and together.
    const alone = await pool.generate('The secret of life is', { maxTokens: TOKENS, seed: 1, ignoreEos: true });
    const together = await Promise.all(Array.from({ length: concurrency }, () => pool.generate('The secret of life is', { maxTokens: TOKENS, seed: 1, ignoreEos: true })));
    for (const r of together) if (r.ids.join() !== alone.ids.join()) throw new Error(`${mode}: results differ between alone and concurrent runs`);
    const before = pool.metrics().batch;
    let best = 0;
    const ttfts: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: concurrency * 2 }, (_, i) => timed(pool, `Fortune ${i}:`, i)));
      const seconds = (performance.now() - t0) / 1000;
      const ids = results.map((r) => r.ids.join());
      const want = firstRound.get(concurrency);
      if (!want) firstRound.set(concurrency, ids);
      else if (ids.some((x, i) => x !== want[i])) throw new Error(`${mode}: results differ from the other modes at concurrency ${concurrency}`);
      ttfts.push(...results.map((r) => r.ttft));
      best = Math.max(best, results.reduce((a, r) => a + r.ids.length, 0) / seconds);
    }
    const after = pool.metrics().batch;
    const passes = after.passes - before.passes;
    const meanBatch = (after.meanSequences * after.passes - before.meanSequences * before.passes) / passes;
    return { concurrency, mode, tokensPerSecond: best, p50TimeToFirstTokenMs: median(ttfts), meanBatch };
  } finally {
    await pool.close();
  }
}

const rows: Row[] = [];
const loadBefore = loadavg()[0]!;
for (const c of [1, 2, 4, 8]) {
  const modes: Mode[] = c === 1 ? ['one at a time', 'batched'] : ['one at a time', 'interleaved', 'batched'];
  for (const mode of modes) rows.push(await measure(c, mode));
  console.log(rows.slice(-modes.length).map((r) => `${r.concurrency} ${r.mode}: ${r.tokensPerSecond.toFixed(1)} tok/s`).join('; '));
}
const loadAfter = loadavg()[0]!;
const md = [
  '# Scheduler throughput (default model, one worker)',
  '',
  `${threads} threads per worker; ${TOKENS} tokens per request, 2 x concurrency requests per round, best of ${ROUNDS} rounds;`,
  `load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after. Time to first token: median over the rounds' requests,`,
  'from submission (queueing included). Before timing, seeded results were checked equal alone and concurrently,',
  'and the timed requests equal across the three modes.',
  '',
  '| concurrent requests | mode | total tok/s | ratio to one at a time | p50 time to first token (ms) | sequences per pass |',
  '|---:|---|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const base = rows.find((x) => x.concurrency === r.concurrency && x.mode === 'one at a time')!;
    return `| ${r.concurrency} | ${r.mode} | ${r.tokensPerSecond.toFixed(1)} | ${(r.tokensPerSecond / base.tokensPerSecond).toFixed(2)} | ${r.p50TimeToFirstTokenMs.toFixed(1)} | ${r.meanBatch.toFixed(2)} |`;
  }),
  '',
].join('\n');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/scheduler.json', import.meta.url), JSON.stringify({ threads, tokens: TOKENS, loadBefore, loadAfter, rows }, null, 2) + '\n');
writeFileSync(new URL('./results/scheduler.md', import.meta.url), md);
console.log(md);
