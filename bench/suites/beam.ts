// Beam search against greedy search at 1 thread, per decode step: 4 beams share one forward pass,
// so a step costs one pass over 4 rows (plus reordering page tables and the scorer), not 4 passes.
// GPT-2 124M-shaped q8_0 and f32 files (random weights, written to the system's temp folder on
// first use). Results are checked before they are timed (the step counts, the beams' order).
// A suite of the runner (it loads the built package: npm run build:ts first):
//   npm run bench -- beam [--quick] [--dtype q8_0]

import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../dist/models/model.js';
import { GPT2_124M, writeGpt2_124m } from '../gpt2-124m-fixture.js';
import { defineSuite } from '../lib/suite.js';

const FULL_NEW_TOKENS = 32;
const PROMPT = Array.from({ length: 8 }, (_, i) => (i * 997 + 13) % GPT2_124M.vocab);

export default defineSuite({
  name: 'beam',
  title: 'Beam search against greedy, per decode step',
  description:
    `GPT-2 124M-shaped, 1 thread, 8-token prompt, ${FULL_NEW_TOKENS} new tokens (quick: 12), no EOS: whole generations with 1 to 8 beams sharing one pass per step and the prompt pass alone, ` +
    'in the same rounds; per step = (generation - prompt pass) / steps, from the medians. Step counts and sequence shapes are checked first, and no full page may be copied.',
  async run(ctx) {
    if (!ctx.wants({ backend: 'native', threads: 1 })) return ctx.note('runs at 1 thread on the native backend only; the filters leave it out');
    const beams = ctx.quick ? [1, 4] : [1, 2, 4, 8];
    const NEW_TOKENS = ctx.quick ? 12 : FULL_NEW_TOKENS;
    const lines = ['| weights | beams | ms per step | ratio to greedy |', '|---|---:|---:|---:|'];
    for (const dtype of ctx.dtypes(ctx.quick ? ['q8_0'] : ['q8_0', 'f32'])) {
      const file = join(tmpdir(), `attnode-gpt2-124m-${dtype}.gguf`);
      if (!existsSync(file)) writeGpt2_124m(file, 1, dtype);
      const model = await loadModel(file, { kind: 'decoder', threads: 1, contextLength: 64 });
      try {
        const options = (numBeams: number) => ({ numBeams, maxNewTokens: NEW_TOKENS, eosTokenIds: [] });
        const params = { backend: 'native', threads: 1, dtype, model: 'gpt2-124m' };
        const cases = await ctx.interleave([
          { spec: { name: 'prompt pass', params: { ...params, shape: '8 tokens' }, unit: 'ms', rounds: ctx.quick ? 3 : 5, minTimeMs: 0, warmupMs: 0 }, run: () => model.forward(PROMPT) },
          ...beams.map((n) => ({
            spec: { name: `generate, ${n} beam${n > 1 ? 's' : ''}`, params: { ...params, shape: `8 + ${NEW_TOKENS} tokens` }, unit: 'ms' },
            check: async () => {
              const r = await model.generate(PROMPT, options(n));
              if (r.steps !== NEW_TOKENS - 1 || r.sequences.length !== 1 || r.sequences[0]!.ids.length !== NEW_TOKENS)
                throw new Error(`${n} beams: expected ${NEW_TOKENS - 1} steps and one sequence of ${NEW_TOKENS} ids`);
            },
            run: () => model.generate(PROMPT, options(n)),
          })),
        ]);
        if (model.stateStats().fullPagesCopied !== 0) throw new Error('beam reordering copied full pages');
        const pre = cases[0]!.median;
        const perStep = (ms: number) => (ms - pre) / (NEW_TOKENS - 1);
        const greedy = perStep(cases[1]!.median);
        for (const [i, c] of cases.slice(1).entries()) {
          c.derived = { msPerStep: perStep(c.median), ratioToGreedy: perStep(c.median) / greedy };
          lines.push(`| ${dtype} | ${beams[i]} | ${c.derived.msPerStep!.toFixed(2)} | ${c.derived.ratioToGreedy!.toFixed(2)}x |`);
        }
      } finally {
        model.dispose();
      }
    }
    ctx.section(lines.join('\n'));
  },
});
