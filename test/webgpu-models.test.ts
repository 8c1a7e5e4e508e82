// GPT-2, Llama, Mistral and Qwen test checkpoints on the WebGPU backend: last-position logits against the PyTorch
// goldens and against the native backend, and greedy continuations equal to both. q8_0 GGUF
// weights are dequantized in the WebGPU kernels with f32 activations, as the goldens computed them.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../ts/models/model.js';
import type { WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { GOLDENS, MODEL_FIXTURES as FIX, greedy, maxDiff } from './helpers/decoding.js';
import { TOL_MODEL_LOGITS_F32, TOL_MODEL_LOGITS_Q8_0 } from './harness/tolerance.js';
/** lavapipe compiles each pipeline on first use and runs every kernel on the CPU. */
const SLOW = 600_000;

const gpu: WebGPUBackend | undefined = await openWebGPU();
afterAll(() => gpu?.dispose());

const CASES = [
  { name: 'gpt2 safetensors f32', path: 'gpt2-tiny', golden: 'gpt2-tiny', quantized: false },
  { name: 'llama safetensors f32', path: 'llama-tiny', golden: 'llama-tiny', quantized: false },
  { name: 'gpt2 gguf q8_0', path: 'gpt2-tiny/model-q8_0.gguf', golden: 'gpt2-tiny-q8_0', quantized: true },
  { name: 'llama gguf q8_0', path: 'llama-tiny/model-q8_0.gguf', golden: 'llama-tiny-q8_0', quantized: true },
  { name: 'mistral (sliding window 8) f32', path: 'mistral-tiny', golden: 'mistral-tiny', quantized: false },
  { name: 'qwen2 f32', path: 'qwen2-tiny', golden: 'qwen2-tiny', quantized: false },
  { name: 'qwen3 f32', path: 'qwen3-tiny', golden: 'qwen3-tiny', quantized: false },
];

describe.skipIf(!HAS_WEBGPU)('models on webgpu', () => {
  for (const c of CASES) {
    it(`${c.name}: logits match PyTorch and native, greedy continuations equal PyTorch's`, async () => {
      const golden = GOLDENS.models[c.golden]!;
      const onGpu = await loadModel(join(FIX, c.path), { kind: 'decoder', backend: gpu! });
      const onCpu = await loadModel(join(FIX, c.path), { kind: 'decoder', backend: 'native' });
      try {
        let vsGolden = 0;
        let vsNative = 0;
        for (const p of golden.prompts) {
          const g = await onGpu.forward(p.prompt);
          vsGolden = Math.max(vsGolden, maxDiff(g, p.logits));
          vsNative = Math.max(vsNative, maxDiff(g, await onCpu.forward(p.prompt)));
          expect(await greedy(onGpu, p.prompt, 16)).toEqual(p.greedy);
        }
        console.log(`${c.name} on webgpu: max |logit diff| ${vsGolden.toExponential(2)} vs PyTorch, ${vsNative.toExponential(2)} vs native`);
        expect(vsGolden).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
        // Native q8_0 kernels also quantize activations, so against them the q8_0 budget applies.
        expect(vsNative).toBeLessThanOrEqual(c.quantized ? TOL_MODEL_LOGITS_Q8_0 : 2 * TOL_MODEL_LOGITS_F32);
      } finally {
        onGpu.dispose();
        onCpu.dispose();
      }
    }, SLOW);
  }
});

