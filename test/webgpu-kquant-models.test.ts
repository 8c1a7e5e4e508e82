// llama.cpp's quantizations of the llama-k256 fixture on the WebGPU backend, every block format
// dequantized in the shader (kernels/block-loaders.ts) with f32 activations: logits against the
// same file widened to f32 at load on the native backend (the same arithmetic on the reference
// dequantizer's values), greedy continuations equal to it, and logits against llama.cpp's own
// within the budget of f32 activations against its quantized ones.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../ts/models/model.js';
import type { WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { greedy, maxDiff } from './helpers/decoding.js';
import { LLAMACPP_DIR, LLAMACPP_GOLDENS } from './helpers/llamacpp.js';
import { TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';

/** lavapipe compiles each pipeline on first use and runs every kernel on the CPU. */
const SLOW = 600_000;
/**
 * WebGPU against native f32 on the same dequantized weights: f32 rounding in another order on
 * both sides (the shader's per-value decode is exact, test/webgpu-block-linear.test.ts).
 */
const TOL_WEBGPU_VS_F32_WEIGHTS = 2 * TOL_MODEL_LOGITS_F32;
/**
 * max |WebGPU - llama.cpp| / spread: llama.cpp quantizes activations (Q8_0 / Q8_1 blocks of 32,
 * Q8_K per 256) where WebGPU keeps them f32, as attnode's own 32-block kernels do against it
 * (up to 8.7e-3 measured, test/helpers/llamacpp.ts); measured here up to 1.55e-2 (Q2_K; WebGPU against the f32-widened file 1.4e-5).
 */
const BUDGET_F32_ACTIVATIONS_VS_LLAMACPP = 3e-2;
const GREEDY_STEPS = 8;

// Between them, every block format with a shader decoder other than Q8_0, Q4_0, Q4_K and Q6_K's
// own files (those are in the mixes too).
const FILES = ['model-q4_1.gguf', 'model-q5_0.gguf', 'model-q5_1.gguf', 'model-iq4_nl.gguf', 'model-iq4_xs.gguf', 'model-q2_k.gguf', 'model-q3_k_m.gguf'];

const gpu: WebGPUBackend | undefined = await openWebGPU();
afterAll(() => gpu?.dispose());

describe.skipIf(!HAS_WEBGPU)('llama.cpp quantizations of llama-k256 on webgpu', () => {
  for (const file of FILES) {
    it(`${file}: weights as stored, logits of the f32-widened file on native, greedy equal, llama.cpp within budget`, async () => {
      const golden = LLAMACPP_GOLDENS.files[file]!;
      const path = join(LLAMACPP_DIR, file);
      const onGpu = await loadModel(path, { kind: 'decoder', backend: gpu!, outputs: ['logits', 'lastLogits'] });
      const wide = await loadModel(path, { kind: 'decoder', backend: 'native', dtype: 'f32' });
      try {
        const stored = new Set(Object.values(golden.tensor_types).filter((t) => t !== 'f32').map((t) => t.toLowerCase()));
        expect(new Set(onGpu.weightDTypes().values())).toEqual(stored);
        let vsF32 = 0;
        let vsLlama = 0;
        for (const [i, prompt] of LLAMACPP_GOLDENS.prompts.entries()) {
          const { logits } = await onGpu.forwardOutputs(prompt);
          const V = logits!.length / prompt.length;
          vsF32 = Math.max(vsF32, maxDiff(logits!.subarray((prompt.length - 1) * V), await wide.forward(prompt)));
          const p = golden.prompts[i]!;
          for (const [r, want] of p.logits.entries()) {
            const row = logits!.subarray((p.logits_from + r) * V, (p.logits_from + r + 1) * V);
            vsLlama = Math.max(vsLlama, maxDiff(row, want) / (Math.max(...want) - Math.min(...want)));
          }
          expect(await greedy(onGpu, prompt, GREEDY_STEPS), `greedy after the ${prompt.length}-token prompt`).toEqual(await greedy(wide, prompt, GREEDY_STEPS));
        }
        console.log(`${file} on webgpu: max |logit diff| ${vsF32.toExponential(2)} vs native f32 weights, ${vsLlama.toExponential(2)} of the spread vs llama.cpp`);
        expect(vsF32).toBeLessThanOrEqual(TOL_WEBGPU_VS_F32_WEIGHTS);
        expect(vsLlama).toBeLessThanOrEqual(BUDGET_F32_ACTIVATIONS_VS_LLAMACPP);
      } finally {
        onGpu.dispose();
        wide.dispose();
      }
    }, SLOW);
  }
});
