// Generation speed with the default model: prefill and decode tokens/s through the whole loop,
// and the sampler's cost per step for common processor chains. Not a kernel benchmark.
// A suite of the runner: npm run bench -- generate [--quick]

import { LanguageModel } from '../../ts/generate/model.js';
import { Rng } from '../../ts/generate/rng.js';
import { buildProcessors, sampleNext, type SamplingOptions } from '../../ts/generate/sampler.js';
import { defineSuite } from '../lib/suite.js';

const CHAINS: [string, SamplingOptions][] = [
  ['greedy', { temperature: 0 }],
  ['temperature 0.8', { temperature: 0.8 }],
  ['top-k 40', { temperature: 0.8, topK: 40 }],
  ['top-k 40 + top-p 0.95 + rep 1.1 (CLI default)', { temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1 }],
  ['top-p 0.95 alone (ranks the whole vocabulary)', { temperature: 0.8, topP: 0.95 }],
  ['typical-p 0.9', { temperature: 0.8, typicalP: 0.9 }],
];

export default defineSuite({
  name: 'generate',
  title: 'Generation with the default model',
  description:
    'attnode-fortunes-7m (f32, native): prefill, decode and time to first token through the whole generate loop (as `attnode generate --stats` prints them), ' +
    'then one decode step\'s forward pass and the sampler alone per processor chain, timed in the same rounds. Greedy generation must be deterministic first.',
  async run(ctx) {
    const params = { backend: 'native', dtype: 'f32', model: 'attnode-fortunes-7m' };
    if (!ctx.wants(params)) return ctx.note('no case passes the filters');
    const model = await LanguageModel.load();
    try {
      const prompt = 'The secret of a happy life is to never';
      const promptIds = model.tokenizer.encode(prompt);
      const g1 = await model.generate(prompt, { temperature: 0, maxTokens: 32, ignoreEos: true });
      const g2 = await model.generate(prompt, { temperature: 0, maxTokens: 32, ignoreEos: true });
      if (g1.ids.join() !== g2.ids.join() || g1.ids.length !== 32) throw new Error('greedy generation is not deterministic');

      // Whole-loop speed: one sample per generation.
      const runs = [];
      for (let i = 0; i < (ctx.quick ? 3 : 5); i++) runs.push((await model.generate(prompt, { temperature: 0, maxTokens: 64, ignoreEos: true })).timings);
      ctx.record({ name: 'prefill, whole loop', params: { ...params, shape: `${promptIds.length} tokens` }, side: 'attnode', unit: 'tokens/s', better: 'higher', samples: runs.map((t) => t.prefillTokensPerSecond), iterations: runs.length });
      const decode = ctx.record({ name: 'decode, whole loop (greedy)', params: { ...params, shape: '64 tokens' }, side: 'attnode', unit: 'tokens/s', better: 'higher', samples: runs.map((t) => t.decodeTokensPerSecond), iterations: runs.length });
      if (decode) decode.derived = { weightGBs: (model.model.weightBytes * decode.median) / 1e9 };
      ctx.record({ name: 'time to first token', params: { ...params, shape: `${promptIds.length} tokens` }, side: 'attnode', unit: 'ms', better: 'lower', samples: runs.map((t) => t.timeToFirstToken * 1000), iterations: runs.length });

      // One decode step's forward alone and the sampler alone, in the same rounds.
      const logits = await model.model.forward(Int32Array.from(promptIds), model.model.newCache());
      let step = model.model.newCache();
      await model.model.forward(Int32Array.from(promptIds), step);
      const rng = new Rng(1);
      const sctx = { ids: promptIds, promptLength: promptIds.length };
      const timing = { unit: 'ms', rounds: ctx.quick ? 3 : 5, minTimeMs: ctx.quick ? 50 : 150, warmupMs: 30 };
      const cases = await ctx.interleave([
        {
          spec: { name: 'forward: one decode step', params, ...timing },
          run: async () => {
            if (step.length >= model.model.contextLength - 1) {
              step.dispose();
              step = model.model.newCache();
              await model.model.forward(Int32Array.from(promptIds), step);
            }
            await model.model.forward(Int32Array.of(262), step);
          },
        },
        ...CHAINS.map(([name, o]) => {
          const chain = buildProcessors(o, model.model.vocabSize);
          return { spec: { name: `sample: ${name}`, params, ...timing }, run: () => void sampleNext(logits, chain, sctx, rng, false) };
        }),
      ]);
      step.dispose();
      const fwd = cases[0]!;
      fwd.derived = { weightGBs: model.model.weightBytes / (fwd.median / 1000) / 1e9 };
      for (const c of cases.slice(1)) c.derived = { pctOfForward: (100 * c.median) / fwd.median };
      ctx.note(`weights: ${(model.model.weightBytes / 1e6).toFixed(1)} MB; derived: weightGBs (weight bytes read per second), pctOfForward (a sample's time against a decode step's forward)`);
    } finally {
      model.dispose();
    }
  },
});
