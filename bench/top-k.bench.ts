// top_k's cost per token, and what heavy sampling requests cost the others (issue #23): the
// addon's sampler at top-k 40, 10,000 and 1e9 over 50257 ids, and a normal request's latency on
// the default model's pool alone and next to four top_k 100000 requests. Not a test: no figure
// here is asserted anywhere.
//
// npx tsx bench/top-k.bench.ts   (writes bench/results/top-k.json and .md)

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Rng } from '../ts/generate/rng.js';
import { buildProcessors, sampleNext, sampleNextAsync, type SamplingOptions } from '../ts/generate/sampler.js';
import { createPool } from '../ts/scheduler/pool.js';

const VOCAB = 50257;
const CALLS = 200;
const ROUNDS = 3;
const r = new Rng(1);
const logits = Float32Array.from({ length: VOCAB }, () => r.nextFloat() * 20 - 10);
const ctx = { ids: [1, 2, 3], promptLength: 1 };
const KS = [40, 10_000, 1e9];

// Rows: no top-k, the three top-k values, and a control that removes as many tokens without
// top-k (min-p): what removing tokens costs the draw after it, whichever pass removed them.
const ROWS: { name: string; options: SamplingOptions }[] = [
  { name: 'none', options: {} },
  ...KS.map((topK) => ({ name: `top-k ${topK}`, options: { topK } })),
  { name: 'control: min-p 0.5 (no top-k)', options: { minP: 0.5 } },
];
const perToken: { row: string; ms: number; referenceMs: number }[] = [];
for (const { name: row, options } of ROWS) {
  const o: SamplingOptions = { temperature: 0.8, ...options };
  const chain = buildProcessors(o, VOCAB);
  // Check before timing: the addon draws what the TypeScript reference draws.
  const a = new Rng(3);
  const b = new Rng(3);
  for (let i = 0; i < 3; i++) {
    const want = sampleNext(logits, chain, ctx, a, false);
    const got = await sampleNextAsync(logits, chain, ctx, b, false);
    if (want.id !== got.id) throw new Error(`${row}: the addon drew ${got.id}, the reference ${want.id}`);
  }
  // The TypeScript reference keeps top-k by insertion, O(V * k): what the addon did before too.
  const t = performance.now();
  sampleNext(logits, chain, ctx, new Rng(4), false);
  const referenceMs = performance.now() - t;
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const q = new Rng(7);
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) await sampleNextAsync(logits, chain, ctx, q, false);
    best = Math.min(best, (performance.now() - t0) / CALLS);
  }
  perToken.push({ row, ms: best, referenceMs });
}

// Fairness on the default model: one worker batching every request (the server's default).
const pool = createPool({ workers: 1, maxBatch: 8 });
await pool.ready();
const normal = { maxTokens: 16, temperature: 0.8, seed: 1, ignoreEos: true };
const timeNormal = async (): Promise<number> => {
  const t0 = performance.now();
  await pool.generate('The meaning of life is', normal);
  return performance.now() - t0;
};
await timeNormal(); // warm-up
const alone: number[] = [];
for (let i = 0; i < 5; i++) alone.push(await timeNormal());
const heavy = Array.from({ length: 4 }, (_, i) => pool.generate('Once upon a time', { maxTokens: 400, topK: 100_000, temperature: 1, seed: 10 + i, ignoreEos: true }));
await new Promise((res) => setTimeout(res, 300));
const beside: number[] = [];
for (let i = 0; i < 5; i++) beside.push(await timeNormal());
const controller = pool.metrics();
await Promise.allSettled(heavy);
await pool.close();
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

const env = `${new Date().toISOString()}, ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`;
const base = perToken[0]!.ms;
const md = [
  '# top-k: cost per token and fairness',
  '',
  `${env} (bench/top-k.bench.ts).`,
  '',
  `The addon's sampler over ${VOCAB} ids, temperature 0.8, best of ${ROUNDS} rounds of ${CALLS} awaited calls:`,
  '',
  '| passes | ms per token | vs none | TypeScript reference (insertion top-k), one call, ms |',
  '|---|---|---|---|',
  ...perToken.map((p) => `| ${p.row} | ${p.ms.toFixed(3)} | ${(p.ms / base).toFixed(2)}x | ${p.referenceMs.toFixed(1)} |`),
  '',
  'A normal request (16 tokens) on the default model, one worker batching up to 8 sequences, median of 5:',
  '',
  '| | ms |',
  '|---|---|',
  `| alone | ${median(alone).toFixed(1)} |`,
  `| beside four top_k 100000 requests (batch of 5) | ${median(beside).toFixed(1)} |`,
  `| ratio | ${(median(beside) / median(alone)).toFixed(2)}x |`,
  '',
  `(mean sequences per pass while measured: ${controller.batch.meanSequences.toFixed(2)})`,
  '',
].join('\n');
console.log(md);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/top-k.md', import.meta.url), md);
writeFileSync(new URL('./results/top-k.json', import.meta.url), JSON.stringify({ env, vocab: VOCAB, perToken, fairness: { aloneMs: alone, besideMs: beside } }, null, 2) + '\n');
