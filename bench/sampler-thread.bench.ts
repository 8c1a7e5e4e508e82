// The sampler's cost to the caller's thread per token over GPT-2's 50257 ids: the synchronous
// reference (sampleNext) against the loop's sampleNextAsync (the addon's 'sample' op). Not a
// kernel benchmark, and not a test: no figure here is asserted anywhere.
//
// npx tsx bench/sampler-thread.bench.ts   (writes bench/results/sampler-thread.json and .md)
//
// "Busy" is the event loop's active time (performance.eventLoopUtilization) over the calls, so
// time spent waiting for the addon does not count; latency is the wall time per awaited call.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadAddon } from '../ts/native.js';
import { Rng } from '../ts/generate/rng.js';
import { buildProcessors, sampleNext, sampleNextAsync, type SamplingOptions } from '../ts/generate/sampler.js';

const VOCAB = 50257;
const CALLS = 300;
const ROUNDS = 3;
const r = new Rng(1);
const logits = Float32Array.from({ length: VOCAB }, () => r.nextFloat() * 20 - 10);
const ctx = { ids: Array.from({ length: 64 }, (_, i) => (i * 997) % VOCAB), promptLength: 16 };
const chains: [string, SamplingOptions][] = [
  ['greedy', { temperature: 0 }],
  ['temperature 1 (the default)', {}],
  ['temperature 0.8, top-p 0.9', { temperature: 0.8, topP: 0.9 }],
  ['temperature 0.7, top-k 40, repetition 1.1', { temperature: 0.7, topK: 40, repetitionPenalty: 1.1 }],
  ['min-p 0.05, typical-p 0.9, presence and frequency', { minP: 0.05, typicalP: 0.9, presencePenalty: 0.5, frequencyPenalty: 0.3 }],
];
const addon = loadAddon();

const rows: string[] = [];
const results: { chain: string; logprob: boolean; syncMs: number; asyncBusyMs: number; asyncLatencyMs: number }[] = [];
for (const logprob of [false, true])
  for (const [name, o] of chains) {
    const chain = buildProcessors(o, VOCAB);
    // Check before timing: both paths draw the same ids with the same logprobs from one seed.
    const a = new Rng(5);
    const b = new Rng(5);
    for (let i = 0; i < 20; i++) {
      const want = sampleNext(logits, chain, ctx, a, logprob);
      const got = await sampleNextAsync(logits, chain, ctx, b, logprob);
      if (want.id !== got.id || !Object.is(want.logprob, got.logprob)) throw new Error(`${name}: the async sampler drew ${got.id}, the reference ${want.id}`);
    }
    let sync = Infinity;
    let busy = Infinity;
    let latency = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      const rs = new Rng(7);
      let t0 = performance.now();
      for (let i = 0; i < CALLS; i++) sampleNext(logits, chain, ctx, rs, logprob);
      sync = Math.min(sync, (performance.now() - t0) / CALLS);
      const ra = new Rng(7);
      const k0 = addon.kernelThreads().jsThread;
      const e0 = performance.eventLoopUtilization();
      t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await sampleNextAsync(logits, chain, ctx, ra, logprob);
      latency = Math.min(latency, (performance.now() - t0) / CALLS);
      busy = Math.min(busy, performance.eventLoopUtilization(e0).active / CALLS);
      if (addon.kernelThreads().jsThread !== k0) throw new Error(`${name}: the async sampler ran a kernel on the JavaScript thread`);
    }
    results.push({ chain: name, logprob, syncMs: sync, asyncBusyMs: busy, asyncLatencyMs: latency });
    rows.push(`| ${name}${logprob ? ', logprobs' : ''} | ${sync.toFixed(3)} | ${busy.toFixed(3)} | ${(sync / busy).toFixed(1)}x | ${latency.toFixed(3)} |`);
  }

const env = `${new Date().toISOString()}, ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`;
const md = [
  '# sampler on the caller\'s thread',
  '',
  `${env}; ${VOCAB} ids, best of ${ROUNDS} rounds of ${CALLS} calls (bench/sampler-thread.bench.ts).`,
  '',
  '| chain | sync: ms on the thread | async: ms busy on the thread | ratio | async: ms latency |',
  '|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
console.log(md);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/sampler-thread.md', import.meta.url), md);
writeFileSync(new URL('./results/sampler-thread.json', import.meta.url), JSON.stringify({ env, vocab: VOCAB, calls: CALLS, rounds: ROUNDS, results }, null, 2) + '\n');
