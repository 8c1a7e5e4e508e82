// The sampler's cost to the caller's thread per token over GPT-2's 50257 ids: the synchronous
// reference (sampleNext) against the loop's sampleNextAsync (the addon's 'sample' op). Both paths
// must draw the same ids with the same logprobs before anything is timed.
// A suite of the runner: npm run bench -- sampler-thread [--quick]
//
// "Busy" is the event loop's active time (performance.eventLoopUtilization) over the calls, so
// time spent waiting for the addon does not count; latency is the wall time per awaited call.

import { performance } from 'node:perf_hooks';
import { loadAddon } from '../../ts/native.js';
import { Rng } from '../../ts/generate/rng.js';
import { buildProcessors, sampleNext, sampleNextAsync, type SamplingOptions } from '../../ts/generate/sampler.js';
import { defineSuite } from '../lib/suite.js';

const VOCAB = 50257;
const CHAINS: [string, SamplingOptions][] = [
  ['greedy', { temperature: 0 }],
  ['temperature 1 (the default)', {}],
  ['temperature 0.8, top-p 0.9', { temperature: 0.8, topP: 0.9 }],
  ['temperature 0.7, top-k 40, repetition 1.1', { temperature: 0.7, topK: 40, repetitionPenalty: 1.1 }],
  ['min-p 0.05, typical-p 0.9, presence and frequency', { minP: 0.05, typicalP: 0.9, presencePenalty: 0.5, frequencyPenalty: 0.3 }],
];

export default defineSuite({
  name: 'sampler-thread',
  title: "The sampler on the caller's thread",
  description:
    `Per token over ${VOCAB} ids: the synchronous sampleNext against sampleNextAsync (the addon's \`sample\` op): ms on the JavaScript thread (sync), ` +
    'ms the event loop was busy per async call, and the async call\'s latency, in rounds of calls.',
  async run(ctx) {
    const calls = ctx.quick ? 30 : 300;
    const rounds = ctx.quick ? 3 : 5;
    const r = new Rng(1);
    const logits = Float32Array.from({ length: VOCAB }, () => r.nextFloat() * 20 - 10);
    const sctx = { ids: Array.from({ length: 64 }, (_, i) => (i * 997) % VOCAB), promptLength: 16 };
    const addon = loadAddon();
    const rows: string[] = [];
    for (const logprob of [false, true])
      for (const [name, o] of CHAINS) {
        const chain = buildProcessors(o, VOCAB);
        const a = new Rng(5);
        const b = new Rng(5);
        for (let i = 0; i < 20; i++) {
          const want = sampleNext(logits, chain, sctx, a, logprob);
          const got = await sampleNextAsync(logits, chain, sctx, b, logprob);
          if (want.id !== got.id || !Object.is(want.logprob, got.logprob)) throw new Error(`${name}: the async sampler drew ${got.id}, the reference ${want.id}`);
        }
        const sync: number[] = [];
        const busy: number[] = [];
        const latency: number[] = [];
        for (let round = 0; round < rounds; round++) {
          const rs = new Rng(7);
          let t0 = performance.now();
          for (let i = 0; i < calls; i++) sampleNext(logits, chain, sctx, rs, logprob);
          sync.push((performance.now() - t0) / calls);
          const ra = new Rng(7);
          const k0 = addon.kernelThreads().jsThread;
          const e0 = performance.eventLoopUtilization();
          t0 = performance.now();
          for (let i = 0; i < calls; i++) await sampleNextAsync(logits, chain, sctx, ra, logprob);
          latency.push((performance.now() - t0) / calls);
          busy.push(performance.eventLoopUtilization(e0).active / calls);
          if (addon.kernelThreads().jsThread !== k0) throw new Error(`${name}: the async sampler ran a kernel on the JavaScript thread`);
        }
        const params = { backend: 'native', chain: name, logprobs: logprob };
        const rec = (n: string, samples: number[]) => ctx.record({ name: n, params, side: 'attnode', unit: 'ms', better: 'lower', samples, iterations: rounds * calls });
        const s = rec('sync: ms on the thread', sync);
        const bz = rec('async: ms busy on the thread', busy);
        const l = rec('async: latency', latency);
        if (s && bz && l) rows.push(`| ${name}${logprob ? ', logprobs' : ''} | ${s.median.toFixed(3)} | ${bz.median.toFixed(3)} | ${(s.median / bz.median).toFixed(1)}x | ${l.median.toFixed(3)} |`);
      }
    ctx.section(['| chain | sync: ms on the thread | async: ms busy on the thread | ratio | async: ms latency |', '|---|---|---|---|---|', ...rows].join('\n'));
    ctx.note(`medians of ${rounds} rounds of ${calls} calls`);
  },
});
