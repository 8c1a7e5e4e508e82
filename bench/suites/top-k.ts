// top_k's cost per token, and what heavy sampling requests cost the others: the addon's sampler
// at top-k 40, 10,000 and 1e9 over 50257 ids, and a normal request's latency on the default
// model's pool alone and next to four top_k 100000 requests, and whole tokens of the default
// model generated with each top-k. The addon must draw what the
// TypeScript reference draws before anything is timed.
// A suite of the runner: npm run bench -- top-k [--quick]

import { performance } from 'node:perf_hooks';
import { Rng } from '../../ts/generate/rng.js';
import { buildProcessors, sampleNext, sampleNextAsync, type SamplingOptions } from '../../ts/generate/sampler.js';
import { createPool } from '../../ts/scheduler/pool.js';
import { defineSuite } from '../lib/suite.js';

const VOCAB = 50257;
const KS = [40, 10_000, 1e9];
// Rows: no top-k, the three top-k values, and a control that removes as many tokens without
// top-k (min-p): what removing tokens costs the draw after it, whichever pass removed them.
const ROWS: { name: string; options: SamplingOptions }[] = [
  { name: 'none', options: {} },
  ...KS.map((topK) => ({ name: `top-k ${topK}`, options: { topK } })),
  { name: 'control: min-p 0.5 (no top-k)', options: { minP: 0.5 } },
];

export default defineSuite({
  name: 'top-k',
  title: 'top-k: cost per token and fairness',
  description:
    `The addon's sampler over ${VOCAB} ids at temperature 0.8 with each top-k (all rows in the same rounds of awaited calls), and a normal 16-token request on the default model ` +
    '(one worker batching up to 8 sequences) alone, beside four requests without top-k and beside four top_k 100000 requests.',
  async run(ctx) {
    const r = new Rng(1);
    const logits = Float32Array.from({ length: VOCAB }, () => r.nextFloat() * 20 - 10);
    const sctx = { ids: [1, 2, 3], promptLength: 1 };
    const referenceMs: number[] = [];
    const entries = ROWS.map(({ name, options }) => {
      const chain = buildProcessors({ temperature: 0.8, ...options }, VOCAB);
      const q = new Rng(7);
      return {
        spec: { name: `sample, ${name}`, params: { backend: 'native' }, unit: 'ms', rounds: ctx.quick ? 3 : 5, minTimeMs: ctx.quick ? 30 : 100, warmupMs: 10 },
        check: async () => {
          const a = new Rng(3);
          const b = new Rng(3);
          for (let i = 0; i < 3; i++) {
            const want = sampleNext(logits, chain, sctx, a, false);
            const got = await sampleNextAsync(logits, chain, sctx, b, false);
            if (want.id !== got.id) throw new Error(`${name}: the addon drew ${got.id}, the reference ${want.id}`);
          }
          // The TypeScript reference keeps top-k by insertion, O(V * k): what the addon did before too.
          const t = performance.now();
          sampleNext(logits, chain, sctx, new Rng(4), false);
          referenceMs.push(performance.now() - t);
        },
        run: () => sampleNextAsync(logits, chain, sctx, q, false),
      };
    });
    const perToken = await ctx.interleave(entries);
    const base = perToken[0]?.median;
    perToken.forEach((c, i) => (c.derived = { ...(base ? { vsNone: c.median / base } : {}), referenceOneCallMs: referenceMs[i]! }));

    // Fairness on the default model: one worker batching every request (the server's default).
    const pool = createPool({ workers: 1, maxBatch: 8 });
    try {
      await pool.ready();
      // Whole tokens on the default model (the issue's figures were per generated token): one
      // request at a time with each top-k, interleaved per round.
      const TOKENS = 32;
      const perRequest = await ctx.interleave(
        [undefined, ...KS].map((topK) => ({
          spec: { name: `generate, ${topK === undefined ? 'no top-k' : `top-k ${topK}`}`, params: { backend: 'native', model: 'attnode-fortunes-7m', shape: `${TOKENS} tokens`, workers: 1 }, unit: 'ms', rounds: ctx.quick ? 3 : 7, minTimeMs: ctx.quick ? 100 : 300, warmupMs: 50 },
          check: async () => {
            const r = await pool.generate('The meaning of life is', { maxTokens: TOKENS, temperature: 0.8, seed: 1, ignoreEos: true, ...(topK === undefined ? {} : { topK }) });
            if (r.ids.length !== TOKENS) throw new Error(`a request with top-k ${topK} gave ${r.ids.length} tokens, not ${TOKENS}`);
          },
          run: () => pool.generate('The meaning of life is', { maxTokens: TOKENS, temperature: 0.8, seed: 1, ignoreEos: true, ...(topK === undefined ? {} : { topK }) }),
        })),
      );
      const plainRequest = perRequest[0]?.median;
      perRequest.forEach((c) => (c.derived = { msPerToken: c.median / TOKENS, ...(plainRequest ? { vsNone: c.median / plainRequest } : {}) }));
      const normal = { maxTokens: 16, temperature: 0.8, seed: 1, ignoreEos: true };
      const timeNormal = async (): Promise<number> => {
        const t0 = performance.now();
        await pool.generate('The meaning of life is', normal);
        return performance.now() - t0;
      };
      const n = ctx.quick ? 3 : 5;
      await timeNormal(); // warm-up
      const alone: number[] = [];
      for (let i = 0; i < n; i++) alone.push(await timeNormal());
      // Four plain requests first (the batch's share of the step without top-k), then four with
      // top_k 100000: what top-k itself adds is the difference between the two.
      const besideFour = async (extra: { topK?: number }): Promise<{ samples: number[]; meanSequences: number }> => {
        const before = pool.metrics().batch;
        const heavy = Array.from({ length: 4 }, (_, i) => pool.generate('Once upon a time', { maxTokens: ctx.quick ? 150 : 400, temperature: 1, seed: 10 + i, ignoreEos: true, ...extra }));
        await new Promise((res) => setTimeout(res, 300));
        const samples: number[] = [];
        for (let i = 0; i < n; i++) samples.push(await timeNormal());
        const after = pool.metrics().batch;
        await Promise.allSettled(heavy);
        // Sequences summed over the passes of this window, from the running means.
        const passes = after.passes - before.passes;
        const meanSequences = passes > 0 ? (after.meanSequences * after.passes - before.meanSequences * before.passes) / passes : after.meanSequences;
        return { samples, meanSequences };
      };
      const plain = await besideFour({});
      const heavy = await besideFour({ topK: 100_000 });
      const params = { backend: 'native', model: 'attnode-fortunes-7m', shape: '16 tokens', workers: 1 };
      const a = ctx.record({ name: 'normal request, alone', params, side: 'attnode', unit: 'ms', better: 'lower', samples: alone, iterations: n });
      const p = ctx.record({ name: 'normal request, beside four requests without top-k', params, side: 'attnode', unit: 'ms', better: 'lower', samples: plain.samples, iterations: n });
      const b = ctx.record({ name: 'normal request, beside four top_k 100000 requests', params, side: 'attnode', unit: 'ms', better: 'lower', samples: heavy.samples, iterations: n });
      if (a && p && b)
        ctx.note(
          `beside four requests a normal one took ${(p.median / a.median).toFixed(2)}x as long without top-k (mean sequences per pass ${plain.meanSequences.toFixed(2)}) ` +
            `and ${(b.median / a.median).toFixed(2)}x beside four top_k 100000 ones (${heavy.meanSequences.toFixed(2)}): top-k itself adds ${(b.median / p.median).toFixed(2)}x`,
        );
    } finally {
      await pool.close();
    }
  },
});
