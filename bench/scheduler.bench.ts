// Pool throughput with the default model: total generated tokens/s for 1, 2, 4 and 8 concurrent
// requests, served one at a time (maxBatch 1) or interleaved on one worker (maxBatch = the
// concurrency). Interleaving shares the worker but not yet one batched forward pass, so this is
// the baseline continuous batching has to beat. Not a kernel benchmark.
//
// npm run build:ts && npx tsx bench/scheduler.bench.ts   (writes bench/results/scheduler.{json,md})

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createPool, type PoolResult } from '../dist/scheduler/pool.js';

const TOKENS = 32;
const ROUNDS = 3;
const threads = cpus().length;

interface Row {
  concurrency: number;
  mode: string;
  tokensPerSecond: number;
  p50TimeToFirstTokenMs: number;
}

async function measure(concurrency: number, maxBatch: number): Promise<Row> {
  const pool = createPool({ workers: 1, threadsPerWorker: threads, maxBatch });
  try {
    // Check before timing: seeded requests give the same tokens alone and together.
    const alone = await pool.generate('The secret of life is', { maxTokens: TOKENS, seed: 1, ignoreEos: true });
    const together = await Promise.all(Array.from({ length: concurrency }, () => pool.generate('The secret of life is', { maxTokens: TOKENS, seed: 1, ignoreEos: true })));
    for (const r of together) if (r.ids.join() !== alone.ids.join()) throw new Error('results differ between alone and concurrent runs');
    let best = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now();
      const results: PoolResult[] = await Promise.all(
        Array.from({ length: concurrency * 2 }, (_, i) => pool.generate(`Fortune ${i}:`, { maxTokens: TOKENS, seed: i, ignoreEos: true })),
      );
      const tokens = results.reduce((a, r) => a + r.ids.length, 0);
      best = Math.max(best, (tokens * 1000) / (performance.now() - t0));
    }
    const m = pool.metrics();
    return { concurrency, mode: maxBatch === 1 ? 'one at a time' : 'interleaved', tokensPerSecond: best, p50TimeToFirstTokenMs: m.timeToFirstTokenMs.p50 };
  } finally {
    await pool.close();
  }
}

const rows: Row[] = [];
const loadBefore = loadavg()[0]!;
for (const c of [1, 2, 4, 8]) {
  rows.push(await measure(c, 1));
  if (c > 1) rows.push(await measure(c, c));
  console.log(rows.slice(-2).map((r) => `${r.concurrency} ${r.mode}: ${r.tokensPerSecond.toFixed(1)} tok/s`).join('; '));
}
const md = [
  '# Scheduler throughput (default model, one worker)',
  '',
  `${threads} threads per worker; ${TOKENS} tokens per request, 2 x concurrency requests per round, best of ${ROUNDS} rounds; load average ${loadBefore.toFixed(1)} before. Seeded results were checked equal alone and concurrently before timing.`,
  '',
  '| concurrent requests | mode | total tok/s | ratio to one at a time | p50 time to first token (ms) |',
  '|---:|---|---:|---:|---:|',
  ...rows.map((r) => {
    const base = rows.find((x) => x.concurrency === r.concurrency && x.mode === 'one at a time')!;
    return `| ${r.concurrency} | ${r.mode} | ${r.tokensPerSecond.toFixed(1)} | ${(r.tokensPerSecond / base.tokensPerSecond).toFixed(2)} | ${r.p50TimeToFirstTokenMs.toFixed(1)} |`;
  }),
  '',
].join('\n');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/scheduler.json', import.meta.url), JSON.stringify({ threads, tokens: TOKENS, rows }, null, 2) + '\n');
writeFileSync(new URL('./results/scheduler.md', import.meta.url), md);
console.log(md);
