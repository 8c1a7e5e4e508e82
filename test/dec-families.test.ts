// Llama with each Hugging Face rope_scaling (linear, dynamic NTK, YaRN, Llama 3), Phi-3 (fused
// projections, partial rotary, LongRoPE, sliding window), Gemma 2 (soft-capping, local/global
// layers, GeGLU, (1 + w) norms before and after each block) and Gemma 3 text (q/k norms, local rope
// base) against PyTorch goldens (tools/reference/make_families.py), generated with a KV cache.

import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromHF } from '../ts/models/families/index.js';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import type { WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { MODEL_FIXTURES as FIX, greedy, maxDiff, type GoldenPrompt } from './helpers/decoding.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { TOL_MODEL_LOGITS_BF16_WEIGHTS, TOL_MODEL_LOGITS_F16_WEIGHTS, TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';

const GOLDENS = JSON.parse(readFileSync(join(FIX, 'families-goldens.json'), 'utf8')) as {
  header: { script: string; layout_version: number };
  models: Record<string, { prompts: GoldenPrompt[]; min_top2_gap: number }>;
};
const TMP = mkdtempSync(join(tmpdir(), 'attnode-rope-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const MODELS = ['llama-llama3-tiny', 'llama-linear-tiny', 'llama-dynamic-tiny', 'llama-yarn-tiny', 'phi3-tiny', 'gemma2-tiny', 'gemma3-tiny'];
const config = (dir: string) => JSON.parse(readFileSync(join(FIX, dir, 'config.json'), 'utf8')) as Record<string, unknown>;

describe.each(MODELS.flatMap((dir) => (['native', 'reference'] as const).map((backend) => ({ dir, backend }))))('$dir $backend', ({ dir, backend }) => {
  let model: DecoderModel;
  beforeAll(async () => {
    model = await loadModel(join(FIX, dir), { kind: 'decoder', backend });
  });
  afterAll(() => model?.dispose());
  const golden = GOLDENS.models[dir]!;

  it('matches the PyTorch last-position logits for prompts of 1, 7 and 33 tokens', async () => {
    expect(GOLDENS.header.script).toBe('tools/reference/make_families.py');
    expect(golden.prompts.map((p) => p.prompt.length)).toEqual([1, 7, 33]);
    for (const p of golden.prompts) expect(maxDiff(await model.forward(p.prompt), p.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
  });

  // The reference backend is checked on logits alone (it is slow); each step's logits agree to
  // f32 rounding, far inside the fixtures' smallest top-2 gap (printed by the script).
  if (backend === 'native')
    it('continues greedily exactly as PyTorch for 16 tokens with the KV cache', async () => {
      for (const p of golden.prompts) expect(await greedy(model, p.prompt, 16)).toEqual(p.greedy);
    });
});

describe('weights converted at load (dtype option)', () => {
  // Phi-3's fused rows are split before the conversion; Gemma's (1 + w) norms stay f32.
  for (const dir of ['phi3-tiny', 'gemma2-tiny', 'gemma3-tiny'])
    for (const [dtype, tol] of [['f16', TOL_MODEL_LOGITS_F16_WEIGHTS], ['bf16', TOL_MODEL_LOGITS_BF16_WEIGHTS]] as const)
      it(`${dir} with ${dtype} linear weights stays within its budget of the f32 goldens`, async () => {
        const m = await loadModel(join(FIX, dir), { kind: 'decoder', dtype });
        try {
          for (const p of GOLDENS.models[dir]!.prompts) expect(maxDiff(await m.forward(p.prompt), p.logits)).toBeLessThanOrEqual(tol);
        } finally {
          m.dispose();
        }
      });
});

// lavapipe compiles each pipeline on first use and runs every kernel on the CPU.
const SLOW = 600_000;
const gpu: WebGPUBackend | undefined = await openWebGPU();
afterAll(() => gpu?.dispose());

describe.skipIf(!HAS_WEBGPU)('on webgpu', () => {
  it.each(MODELS)('%s: logits match PyTorch, greedy continuations equal its', async (dir) => {
    const m = await loadModel(join(FIX, dir), { kind: 'decoder', backend: gpu! });
    try {
      let worst = 0;
      for (const p of GOLDENS.models[dir]!.prompts) {
        worst = Math.max(worst, maxDiff(await m.forward(p.prompt), p.logits));
        expect(await greedy(m, p.prompt, 16)).toEqual(p.greedy);
      }
      console.log(`${dir} on webgpu: max |logit diff| ${worst.toExponential(2)} vs PyTorch`);
      expect(worst).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    } finally {
      m.dispose();
    }
  }, SLOW);
});

describe('each feature bites: the same weights without it give other logits for the 33-token prompt', () => {
  const unscaled = { rope_scaling: null, max_position_embeddings: 64 };
  it.each([
    ['llama-llama3-tiny', unscaled], ['llama-linear-tiny', unscaled], ['llama-dynamic-tiny', unscaled], ['llama-yarn-tiny', unscaled],
    ['phi3-tiny', unscaled], ['phi3-tiny', { ...unscaled, partial_rotary_factor: 0.5 }], ['phi3-tiny', { sliding_window: null }],
    ['gemma2-tiny', { attn_logit_softcapping: null }], ['gemma2-tiny', { final_logit_softcapping: null }],
    ['gemma2-tiny', { sliding_window: 64 }], ['gemma2-tiny', { query_pre_attn_scalar: 32 }],
    ['gemma3-tiny', { rope_local_base_freq: 1000000.0 }], ['gemma3-tiny', { rope_scaling: null }], ['gemma3-tiny', { sliding_window_pattern: 1 }],
  ] as const)('%s with %j', async (dir, override) => {
    const d = mkdtempSync(join(TMP, `${dir}-`));
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...config(dir), ...override }));
    symlinkSync(join(FIX, dir, 'model.safetensors'), join(d, 'model.safetensors'));
    const m = await loadModel(d, { kind: 'decoder' });
    const p = GOLDENS.models[dir]!.prompts[2]!;
    try {
      expect(maxDiff(await m.forward(p.prompt), p.logits)).toBeGreaterThan(100 * TOL_MODEL_LOGITS_F32);
    } finally {
      m.dispose();
    }
  });

  it.each([['llama-dynamic-tiny', 'native'], ['phi3-tiny', 'native'], ['llama-dynamic-tiny', 'reference'], ['phi3-tiny', 'reference']] as const)(
    '%s %s: sequences packed into one pass each get the frequencies of their own length', async (dir, backend) => {
      const m = await loadModel(join(FIX, dir), { kind: 'decoder', backend });
      const [, seven, long] = GOLDENS.models[dir]!.prompts;
      try {
        // One sequence past the original length (scaled), one within it (unscaled), in one pass.
        const [a, b] = [m.newCache(), m.newCache()];
        const [la, lb] = await m.forwardBatch([{ ids: long!.prompt, cache: a }, { ids: seven!.prompt, cache: b }]);
        expect(maxDiff(la!, long!.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
        expect(maxDiff(lb!, seven!.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
        a.dispose();
        b.dispose();
      } finally {
        m.dispose();
      }
    });

  it('dynamic NTK and LongRoPE switch with the pass length: a prompt decoded token by token differs from one pass past the original length', async () => {
    for (const dir of ['llama-dynamic-tiny', 'phi3-tiny']) {
      const m = await loadModel(join(FIX, dir), { kind: 'decoder' });
      const p = GOLDENS.models[dir]!.prompts[2]!;
      const cache = m.newCache();
      let last: ArrayLike<number> = [];
      for (const id of p.prompt) last = await m.forward([id], { cache });
      // Token by token, the first 16 keys keep the unscaled (short) rotation; in one pass all 33 are scaled.
      expect(maxDiff(last, p.logits)).toBeGreaterThan(100 * TOL_MODEL_LOGITS_F32);
      cache.dispose();
      m.dispose();
    }
  });
});

describe('rope_scaling fields', () => {
  const LLAMA = config('llama-tiny');
  it.each([
    [{ rope_type: 'ntk', factor: 2 }, /'rope_scaling.rope_type' = "ntk" is not supported \(supported: default, linear, dynamic, yarn, longrope, llama3\)/],
    [{ rope_type: 'yarn', factor: 4, mscale: 1 }, /'rope_scaling.mscale' = 1 is not supported \(not read for rope_type 'yarn'\)/],
    [{ rope_type: 'yarn', factor: 4, truncate: false }, /'rope_scaling.truncate' = false is not supported/],
    [{ rope_type: 'linear' }, /'rope_scaling.factor' = undefined is not supported|'rope_scaling.factor'/],
    [{ rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 }, /'rope_scaling.original_max_position_embeddings'/],
    [{ rope_type: 'longrope', short_factor: [1, 1], long_factor: [1, 1, 1, 1, 1, 1, 1, 1] }, /'rope_scaling.short_factor' = "\[2 values\]" is not supported \(expected 8 positive numbers/],
    [{ rope_type: 'dynamic', factor: 2, original_max_position_embeddings: 8 }, /dynamic NTK uses max_position_embeddings \(64\)/],
    ['linear', /'rope_scaling' = "linear" is not supported \(expected an object with rope_type\)/],
  ] as const)('%j is refused, naming the field', (scaling, msg) => {
    expect(() => configFromHF({ ...LLAMA, rope_scaling: scaling })).toThrow(RangeError);
    expect(() => configFromHF({ ...LLAMA, rope_scaling: scaling })).toThrow(msg);
  });

  it('LongRoPE factors must match the rotated pairs (Phi-3 partial_rotary_factor)', () => {
    expect(() => configFromHF({ ...config('phi3-tiny'), partial_rotary_factor: 1 })).toThrow(/Phi-3 'rope_scaling.short_factor' = "\[6 values\]" is not supported \(expected 8 positive numbers/);
    expect(() => configFromHF({ ...config('phi3-tiny'), partial_rotary_factor: 0.1, rope_scaling: null })).toThrow(/even number of rotated dimensions/);
    expect(configFromHF(config('phi3-tiny'))).toMatchObject({ architecture: 'phi3', rotaryDim: 12, slidingWindow: 12 });
  });

  it('Gemma reads its layer pattern and refuses what it does not implement', () => {
    expect(configFromHF(config('gemma2-tiny'))).toMatchObject({ layerTypes: ['sliding', 'full', 'sliding', 'full'], localWindow: 8, attnSoftcap: 10, finalSoftcap: 8 });
    expect(configFromHF(config('gemma3-tiny'))).toMatchObject({ layerTypes: ['sliding', 'sliding', 'full', 'sliding'], ropeLocalTheta: 10000 });
    const types = ['full_attention', 'sliding_attention', 'full_attention', 'full_attention'];
    expect(configFromHF({ ...config('gemma3-tiny'), layer_types: types }).layerTypes).toEqual(['full', 'sliding', 'full', 'full']);
    expect(() => configFromHF({ ...config('gemma3-tiny'), layer_types: ['full_attention'] })).toThrow(/Gemma 3 'layer_types'/);
    expect(() => configFromHF({ ...config('gemma2-tiny'), hidden_activation: 'gelu' })).toThrow(/Gemma 2 'hidden_activation' = "gelu" is not supported/);
    expect(() => configFromHF({ ...config('gemma3-tiny'), attn_logit_softcapping: 50 })).toThrow(/Gemma 3 'attn_logit_softcapping' = 50 is not supported/);
    expect(() => configFromHF({ ...config('gemma2-tiny'), rope_scaling: { rope_type: 'dynamic', factor: 2 } })).toThrow(/Gemma 2 'rope_scaling'/);
    expect(() => configFromHF({ ...config('gemma3-tiny'), rope_parameters: {} })).toThrow(/Gemma 3 'rope_parameters'/);
  });

  it('reads rope_type or the legacy type, and default is unscaled', () => {
    expect(configFromHF({ ...LLAMA, rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling?.type).toBe('linear');
    expect(configFromHF({ ...LLAMA, rope_scaling: { rope_type: 'linear', factor: 2 } }).ropeScaling?.invFreq?.[1]).toBeCloseTo(10000 ** -0.125 / 2, 6);
    expect(configFromHF({ ...LLAMA, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeUndefined();
    // Dynamic NTK runs up to factor x max_position_embeddings.
    expect(configFromHF(config('llama-dynamic-tiny')).maxPositions).toBe(64);
  });
});
