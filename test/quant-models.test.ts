// Whole models with q8_0 linear weights on the native kernels (which also quantize activations
// per block of 32) against the same models in f32, on every instruction set: last-position
// logits with cosine similarity >= 0.999 and the same greedy continuation for 8 tokens.
// Fixtures: tools/reference/make_models.py; the random-weight ones are explained at the end.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeBackend } from '../ts/backend/native.js';
import { defaultModelPath } from '../ts/generate/model.js';
import { loadModel, type DecoderModel, type LoadModelOptions } from '../ts/models/model.js';
import { loadAddon } from '../ts/native.js';
import { GOLDENS, MODEL_FIXTURES as FIX, cosine, greedy, maxDiff } from './helpers/decoding.js';
import { TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';

/** The bound and the greedy prefix the q8_0 models must meet against f32. */
const MIN_COSINE_Q8_0 = 0.999;
const GREEDY_TOKENS = 8;

const isas = loadAddon().cpuInfo().available;

/**
 * A q8_0 model and its f32 counterpart on one instruction set: for every prompt, cosine of the
 * last-position logits and the greedy continuations. `prompts` with the f32 model's own greedy
 * path, when known (PyTorch goldens), are checked against it too.
 */
function compareToF32(name: string, q8: { path: string; options: LoadModelOptions }, f32: { path: string; options: LoadModelOptions },
  prompts: ReadonlyArray<{ prompt: number[]; greedy?: number[]; logits?: number[] }>) {
  describe.each(isas.map((isa) => [isa] as const))(`${name} (%s)`, (isa) => {
    let mq: DecoderModel;
    let mf: DecoderModel;
    beforeAll(async () => {
      const backend = new NativeBackend({ isa });
      mq = await loadModel(q8.path, { kind: 'decoder', ...q8.options, backend });
      mf = await loadModel(f32.path, { kind: 'decoder', ...f32.options, backend });
    });
    afterAll(() => {
      mq?.dispose();
      mf?.dispose();
    });

    it(`last-position logits have cosine >= ${MIN_COSINE_Q8_0} to f32`, async () => {
      for (const p of prompts) {
        const lf = await mf.forward(p.prompt);
        if (p.logits) expect(maxDiff(lf, p.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32); // the f32 side is PyTorch's
        const c = cosine(await mq.forward(p.prompt), lf);
        expect(c, `prompt of ${p.prompt.length} tokens`).toBeGreaterThanOrEqual(MIN_COSINE_Q8_0);
      }
    });

    it(`continues greedily as f32 does for ${GREEDY_TOKENS} tokens`, async () => {
      for (const p of prompts) {
        const want = await greedy(mf, p.prompt, GREEDY_TOKENS);
        if (p.greedy) expect(want).toEqual(p.greedy.slice(0, GREEDY_TOKENS));
        expect(await greedy(mq, p.prompt, GREEDY_TOKENS), `prompt of ${p.prompt.length} tokens`).toEqual(want);
      }
    });
  });
}

// Trained tiny GPT-2 and Llama (same shapes as the random fixtures, 400 steps on a Markov-chain
// corpus), converted to q8_0 at load and as q8_0 GGUF files, on the goldens' prompts.
for (const arch of ['gpt2', 'llama'] as const) {
  const dir = join(FIX, `${arch}-tiny-trained`);
  const prompts = GOLDENS.models[`${arch}-tiny-trained`]!.prompts;
  compareToF32(`${arch}-tiny-trained, dtype q8_0`, { path: dir, options: { dtype: 'q8_0' } }, { path: dir, options: {} }, prompts);
  compareToF32(`${arch}-tiny-trained, q8_0 GGUF`, { path: join(dir, 'model-q8_0.gguf'), options: {} }, { path: dir, options: {} }, prompts);
}

// The default model (trained, shipped as q8_0): the native q8_0 kernels against f32 kernels on
// the very same weights (loaded with dtype 'f32'), so only the kernels' own rounding differs.
const DEFAULT_PROMPTS = [
  { prompt: [7454, 2402, 257, 640] }, // "Once upon a time"
  { prompt: [32, 1545, 287, 761] }, // "A friend in need"
  { prompt: [464, 1266, 835, 284, 4331, 262, 2003, 318] }, // "The best way to predict the future is"
];
compareToF32('attnode-fortunes-7m', { path: defaultModelPath(), options: {} }, { path: defaultModelPath(), options: { dtype: 'f32' } }, DEFAULT_PROMPTS);

// The random-weight fixtures (std 0.25: every linear layer has a gain of 2 to 3) move their
// logits by whole percents under 8-bit rounding, whoever rounds: PyTorch's own q8_0 goldens
// (rounded weights, f32 activations, written by make_models.py) already fall below the bound for
// Llama, and change its greedy path at the first token of the 33-token prompt, where f32's top-2
// gap is 0.095. No kernel can meet the bound there; the native q8_0 path is held instead to
// matching those goldens (test/models.test.ts, TOL_MODEL_LOGITS_Q8_0). If the fixtures are ever
// regenerated so that this no longer holds, hold them to the bound above instead.
describe('random-weight fixtures are below the bound for any q8_0 implementation', () => {
  const golden = (name: string) => GOLDENS.models[name]!.prompts;
  it('PyTorch q8_0 weights against PyTorch f32 (llama-tiny)', () => {
    const f = golden('llama-tiny');
    const q = golden('llama-tiny-q8_0');
    const cos = f.map((p, i) => cosine(p.logits, q[i]!.logits));
    expect(Math.min(...cos)).toBeLessThan(MIN_COSINE_Q8_0);
    expect(q[2]!.greedy[0]).not.toBe(f[2]!.greedy[0]);
  });
});
