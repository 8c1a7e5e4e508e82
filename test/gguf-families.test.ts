// GGUF files of Mistral ('llama'), Qwen2, Qwen3, Gemma 2, Gemma 3, Phi-3 and Llama with rope scaling
// (linear, YaRN, Llama 3's rope_freqs), converted from the Hugging Face fixtures by
// tools/reference/make_families_gguf.py, against llama.cpp's logits and greedy ids on the same files
// (goldens made by that script; llama.cpp is not needed here), and against the PyTorch goldens
// where llama.cpp reads the file as Hugging Face reads the config.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { GOLDENS, MODEL_FIXTURES as FIX, greedy, maxDiff, type GoldenPrompt } from './helpers/decoding.js';
import { NEAR_TIE_FACTOR } from './helpers/llamacpp.js';
import { Q8_0_ERROR_RATIO_TO_LLAMACPP, TOL_LLAMACPP_LOGITS_F32, TOL_LLAMACPP_LOGITS_GELU, TOL_LLAMACPP_Q8_0_OF_SPREAD, TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';

const GGUF = JSON.parse(readFileSync(join(FIX, 'gguf-goldens.json'), 'utf8')) as {
  header: { script: string; reference: string };
  models: Record<string, { architecture: string; prompts: (GoldenPrompt & { greedy_top2_gaps?: number[] })[] }>;
};
const FAMILIES = JSON.parse(readFileSync(join(FIX, 'families-goldens.json'), 'utf8')) as { models: Record<string, { prompts: GoldenPrompt[] }> };

// Gemma's MLP is GeGLU: llama.cpp's CPU gelu reads a table indexed by the f16 rounding of its input.
const CASES = [
  { path: 'mistral-tiny/model-f32.gguf', arch: 'llama', family: 'llama', tol: TOL_LLAMACPP_LOGITS_F32, torch: GOLDENS.models['mistral-tiny']!, torchPrompts: 2 },
  { path: 'qwen2-tiny/model-f32.gguf', arch: 'qwen2', family: 'qwen2', tol: TOL_LLAMACPP_LOGITS_F32, torch: GOLDENS.models['qwen2-tiny']!, torchPrompts: 3 },
  { path: 'qwen3-tiny/model-f32.gguf', arch: 'qwen3', family: 'qwen3', tol: TOL_LLAMACPP_LOGITS_F32, torch: GOLDENS.models['qwen3-tiny']!, torchPrompts: 3 },
  { path: 'gemma2-tiny/model-f32.gguf', arch: 'gemma2', family: 'gemma2', tol: TOL_LLAMACPP_LOGITS_GELU, torch: FAMILIES.models['gemma2-tiny']!, torchPrompts: 0 },
  { path: 'gemma3-tiny/model-f32.gguf', arch: 'gemma3', family: 'gemma3', tol: TOL_LLAMACPP_LOGITS_GELU, torch: FAMILIES.models['gemma3-tiny']!, torchPrompts: 0 },
  // llama.cpp's converter: linear and YaRN as llama.rope.scaling.* keys, Llama 3 as a rope_freqs tensor.
  ...['linear', 'yarn', 'llama3'].map((s) => ({
    path: `llama-${s}-tiny/model-f32.gguf`, arch: 'llama', family: 'llama', tol: TOL_LLAMACPP_LOGITS_F32, torch: FAMILIES.models[`llama-${s}-tiny`]!, torchPrompts: 3,
  })),
];

describe.each(CASES)('$path', (c) => {
  let model: DecoderModel;
  beforeAll(async () => {
    model = await loadModel(join(FIX, c.path), { kind: 'decoder' });
  });
  afterAll(() => model?.dispose());
  const golden = GGUF.models[c.path]!;

  it('is read as llama.cpp reads it', () => {
    expect(GGUF.header.script).toBe('tools/reference/make_families_gguf.py');
    expect(golden.architecture).toBe(c.arch);
    expect(model.config.architecture).toBe(c.family);
  });

  it("matches llama.cpp's last-position logits for prompts of 1, 7 and 33 tokens", async () => {
    expect(golden.prompts.map((p) => p.prompt.length)).toEqual([1, 7, 33]);
    for (const p of golden.prompts) expect(maxDiff(await model.forward(p.prompt), p.logits)).toBeLessThanOrEqual(c.tol);
  });

  it("continues greedily as llama.cpp for 16 tokens", async () => {
    for (const p of golden.prompts) expect(await greedy(model, p.prompt, 16)).toEqual(p.greedy);
  });

  // Mistral's window (8) is not in a 'llama' file: within it, the PyTorch goldens hold too.
  if (c.torchPrompts > 0)
    it(`matches the PyTorch goldens of the Hugging Face checkpoint for ${c.torchPrompts === 3 ? 'every prompt' : 'the prompts within the window'}`, async () => {
      for (const p of c.torch.prompts.slice(0, c.torchPrompts)) expect(maxDiff(await model.forward(p.prompt), p.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    });
});

// Phi-3 as llama.cpp's converter writes it: fused attn_qkv and ffn_up, 12 of 16 dimensions rotated,
// LongRoPE's factors as tensors, a window of 12. attnode computes what Hugging Face computes (the
// window, the short factors while a pass stays within the original 16 positions), so the file with
// the window matches the PyTorch goldens of its checkpoint everywhere. llama.cpp turns Phi-3's window
// off and takes the long factors for any context past 16: the two agree on the window-free file for
// prompts past 16 tokens (17 and 33), which is what its goldens hold.
describe('phi3 GGUF', () => {
  const phi3 = FAMILIES.models['phi3-tiny']!;
  let windowed: DecoderModel;
  let plain: DecoderModel;
  beforeAll(async () => {
    windowed = await loadModel(join(FIX, 'phi3-tiny/model-f32.gguf'), { kind: 'decoder' });
    plain = await loadModel(join(FIX, 'phi3-tiny/model-nowindow-f32.gguf'), { kind: 'decoder' });
  });
  afterAll(() => {
    windowed?.dispose();
    plain?.dispose();
  });
  const golden = GGUF.models['phi3-tiny/model-nowindow-f32.gguf']!;

  it('reads the rotation, the window and the LongRoPE factors from the file', () => {
    expect(golden.architecture).toBe('phi3');
    const c = windowed.config;
    expect([c.architecture, c.headDim, c.rotaryDim, c.slidingWindow, c.ropeInterleaved]).toEqual(['phi3', 16, 12, 12, false]);
    expect(c.ropeScaling?.type).toBe('longrope');
    expect(c.ropeScaling?.longFrom).toBe(16);
    // sqrt(1 + ln(64 / 16) / ln(16)), the attention factor the converter writes.
    expect(c.ropeScaling?.attentionFactor).toBeCloseTo(Math.sqrt(1.5), 6);
    expect(plain.config.slidingWindow).toBeUndefined();
  });

  it('with its window matches the PyTorch goldens for prompts of 1, 7 and 33 tokens and their 16 greedy tokens', async () => {
    expect(phi3.prompts.map((p) => p.prompt.length)).toEqual([1, 7, 33]);
    for (const p of phi3.prompts) {
      expect(maxDiff(await windowed.forward(p.prompt), p.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      expect(await greedy(windowed, p.prompt, 16)).toEqual(p.greedy);
    }
  });

  it("without a window matches llama.cpp's logits and greedy ids for prompts of 17 and 33 tokens", async () => {
    expect(golden.prompts.map((p) => p.prompt.length)).toEqual([17, 33]);
    for (const p of golden.prompts) {
      expect(maxDiff(await plain.forward(p.prompt), p.logits)).toBeLessThanOrEqual(TOL_LLAMACPP_LOGITS_F32);
      expect(await greedy(plain, p.prompt, 16)).toEqual(p.greedy);
    }
  });

  it('differs from the windowed file past the window, and within it does not', async () => {
    const p = phi3.prompts[1]!.prompt;
    expect(maxDiff(Float32Array.from(await plain.forward(p)), await windowed.forward(p))).toBe(0);
    const long = phi3.prompts[2]!.prompt;
    expect(maxDiff(Float32Array.from(await plain.forward(long)), await windowed.forward(long))).toBeGreaterThan(1e-2);
  });
});

/** max |a - b| over the row as a fraction of b's spread (max - min). */
function relDiff(a: ArrayLike<number>, b: readonly number[]): { rel: number; abs: number } {
  const d = maxDiff(a, b);
  return { rel: d / (Math.max(...b) - Math.min(...b)), abs: d };
}

// The f32 file of each family quantized to Q8_0 by llama.cpp and evaluated by it (same script):
// attnode reads the very bytes llama.cpp ran, and its q8_0 kernels (activations in q8_0 blocks, as
// llama.cpp's) land as close to the f32 logits as llama.cpp's own.
const Q8_0 = ['mistral-tiny/model', 'qwen2-tiny/model', 'qwen3-tiny/model', 'gemma2-tiny/model', 'gemma3-tiny/model', 'llama-llama3-tiny/model', 'phi3-tiny/model-nowindow'];
describe.each(Q8_0)('%s-q8_0.gguf', (stem) => {
  let model: DecoderModel;
  beforeAll(async () => {
    model = await loadModel(join(FIX, `${stem}-q8_0.gguf`), { kind: 'decoder' });
  });
  afterAll(() => model?.dispose());
  const q8 = GGUF.models[`${stem}-q8_0.gguf`]!;
  const f32 = GGUF.models[`${stem}-f32.gguf`]!;

  it(`matches llama.cpp's logits on the same Q8_0 file within ${TOL_LLAMACPP_Q8_0_OF_SPREAD} of their spread, and its greedy ids up to a near-tie`, async () => {
    expect(q8.prompts.map((p) => p.prompt)).toEqual(f32.prompts.map((p) => p.prompt));
    let worst = 0;
    for (const p of q8.prompts) {
      const { rel, abs } = relDiff(await model.forward(p.prompt), p.logits);
      expect(rel).toBeLessThanOrEqual(TOL_LLAMACPP_Q8_0_OF_SPREAD);
      worst = Math.max(worst, abs);
    }
    // Past a step where llama.cpp's top two are closer than the engines' differences, either may
    // rightly differ (with random weights that is often the first step).
    for (const p of q8.prompts) {
      const tie = p.greedy_top2_gaps!.findIndex((g) => g < NEAR_TIE_FACTOR * worst);
      const n = tie < 0 ? p.greedy.length : tie;
      expect(await greedy(model, p.prompt, n)).toEqual(p.greedy.slice(0, n));
    }
  });

  // Each engine against its own f32 run of the f32 file (llama.cpp's f32 GELU is a table of f16
  // inputs, which its Q8_0 run shares): attnode's quantization costs no more than llama.cpp's.
  it(`is no further from its f32 logits than llama.cpp's Q8_0 is from llama.cpp's (x${Q8_0_ERROR_RATIO_TO_LLAMACPP}, worst prompt against worst prompt)`, async () => {
    const full = await loadModel(join(FIX, `${stem}-f32.gguf`), { kind: 'decoder' });
    let ours = 0;
    let theirs = 0;
    try {
      for (const [i, p] of f32.prompts.entries()) {
        const ref = [...(await full.forward(p.prompt))];
        ours = Math.max(ours, relDiff(await model.forward(p.prompt), ref).rel);
        theirs = Math.max(theirs, relDiff(q8.prompts[i]!.logits, p.logits).rel);
      }
    } finally {
      full.dispose();
    }
    expect(ours).toBeGreaterThan(0);
    expect(ours).toBeLessThanOrEqual(Q8_0_ERROR_RATIO_TO_LLAMACPP * theirs);
  });
});

// The Hugging Face checkpoints with dtype 'q8_0' at load (attnode's own quantizer, the embedding
// table kept as stored): their error against PyTorch's f32 logits is of the size llama.cpp's
// Q8_0 error is on the GGUF of the same weights (measured ratios 0.73 to 1.47, Qwen2's the largest).
describe("dtype 'q8_0' at load of each family's Hugging Face checkpoint", () => {
  const torch = (dir: string) => (GOLDENS.models[dir] ?? FAMILIES.models[dir])!.prompts;
  it.each(Q8_0.map((stem) => [stem.split('/')[0]!, stem]))('%s', async (dir, stem) => {
    const m = await loadModel(join(FIX, dir), { kind: 'decoder', dtype: 'q8_0' });
    let ours = 0;
    let theirs = 0;
    try {
      for (const p of torch(dir)) ours = Math.max(ours, relDiff(await m.forward(p.prompt), p.logits).rel);
    } finally {
      m.dispose();
    }
    const q8 = GGUF.models[`${stem}-q8_0.gguf`]!.prompts;
    for (const [i, p] of GGUF.models[`${stem}-f32.gguf`]!.prompts.entries()) theirs = Math.max(theirs, relDiff(q8[i]!.logits, p.logits).rel);
    expect(ours).toBeGreaterThan(0);
    expect(ours).toBeLessThanOrEqual(Q8_0_ERROR_RATIO_TO_LLAMACPP * theirs);
  });
});
