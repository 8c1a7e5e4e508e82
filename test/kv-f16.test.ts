// KV caches in f16 (loadModel's kvDtype): half the bytes, the same model. Against the f32 cache
// on every backend, backends against each other, the trained fixtures' greedy paths, and bad
// options and buffers.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { loadAddon } from '../ts/native.js';
import { LanguageModel } from '../ts/generate/model.js';
import type { WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { GOLDENS, MODEL_FIXTURES as FIX, greedy, maxDiff } from './helpers/decoding.js';
import { TOL_MODEL_LOGITS_F32, TOL_MODEL_LOGITS_KV_F16 } from './harness/tolerance.js';

const BACKENDS = ['native', 'reference', 'webgpu'] as const;
/** Backends this machine can run: webgpu's tests are skipped (not dropped) without an adapter. */
const present = (b: (typeof BACKENDS)[number]) => b !== 'webgpu' || HAS_WEBGPU;
const ids = (n: number, vocab: number) => Array.from({ length: n }, (_, i) => (i * 37 + 5) % vocab);

describe.each(['gpt2-tiny', 'llama-tiny'])('f16 KV cache, %s', (name) => {
  const models = new Map<string, { f32: DecoderModel; f16: DecoderModel }>();
  let gpu: WebGPUBackend | undefined;
  beforeAll(async () => {
    gpu = await openWebGPU();
    for (const b of BACKENDS.filter(present)) {
      const backend = b === 'webgpu' ? gpu! : b;
      models.set(b, {
        f32: await loadModel(join(FIX, name), { kind: 'decoder', backend, contextLength: 64 }),
        f16: await loadModel(join(FIX, name), { kind: 'decoder', backend, contextLength: 64, kvDtype: 'f16' }),
      });
    }
  });
  afterAll(() => {
    for (const m of models.values()) {
      m.f32.dispose();
      m.f16.dispose();
    }
    gpu?.dispose();
  });

  it('holds f16 rows: half the bytes of the f32 cache', () => {
    const { f32, f16 } = models.get('native')!;
    const a = f32.newCache();
    const b = f16.newCache();
    expect(f16.kvDtype).toBe('f16');
    expect(f16.states.layout.dtype).toBe('f16');
    expect(f16.states.stats().pageBytes * 2).toBe(f32.states.stats().pageBytes);
    expect(b.bytes * 2).toBe(a.bytes);
  });

  for (const b of BACKENDS) it.skipIf(!present(b))(`gives the f32 cache logits within the f16 budget while decoding (${b})`, async () => {
    const { f32, f16 } = models.get(b)!;
    const seq = ids(20, f32.config.vocabSize);
    const ca = f32.newCache();
    const cb = f16.newCache();
    expect(maxDiff(await f16.forward(seq.slice(0, 12), { cache: cb }), await f32.forward(seq.slice(0, 12), { cache: ca }))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_KV_F16);
    for (let i = 12; i < 20; i++) {
      const lf = await f16.forward([seq[i]!], { cache: cb });
      expect(maxDiff(lf, await f32.forward([seq[i]!], { cache: ca }))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_KV_F16);
      // A batch pass over the same f16 cache rows gives the same logits as recomputing them.
      if (i === 19) expect(maxDiff(lf, await f16.forward(seq))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_KV_F16);
    }
  });

  for (const b of BACKENDS.filter((b) => b !== 'native'))
    it.skipIf(!present(b))(`gives the native logits on ${b}: K and V are rounded to f16 alike`, async () => {
      const seq = ids(16, models.get('native')!.f16.config.vocabSize);
      const run = async (m: DecoderModel) => {
        const c = m.newCache();
        await m.forward(seq.slice(0, 10), { cache: c });
        return m.forward(seq.slice(10), { cache: c });
      };
      expect(maxDiff(await run(models.get(b)!.f16), await run(models.get('native')!.f16))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    });
});

describe.each(['gpt2-tiny-trained', 'llama-tiny-trained'])('f16 KV cache on the trained fixture %s', (name) => {
  let model: DecoderModel;
  beforeAll(async () => {
    model = await loadModel(join(FIX, name), { kind: 'decoder', kvDtype: 'f16' });
  });
  afterAll(() => model.dispose());

  it("follows PyTorch's greedy paths for 16 tokens", async () => {
    for (const p of GOLDENS.models[name]!.prompts) expect(await greedy(model, p.prompt, 16)).toEqual(p.greedy);
  });
});

describe('f16 KV cache through LanguageModel', () => {
  it('generates with the default model as the f32 cache does, greedy', async () => {
    const a = await LanguageModel.load(undefined, { threads: 1 });
    const b = await LanguageModel.load(undefined, { threads: 1, kvDtype: 'f16' });
    try {
      const opts = { maxTokens: 24, temperature: 0, ignoreEos: true };
      const ra = await a.generate('The secret of life is', opts);
      const rb = await b.generate('The secret of life is', opts);
      expect(rb.ids).toHaveLength(24);
      expect(rb.ids).toEqual(ra.ids);
      expect(rb.text).toBe(ra.text);
    } finally {
      a.dispose();
      b.dispose();
    }
    await expect(LanguageModel.load(undefined, { kvDtype: 'f8' as never })).rejects.toThrow(/'kvDtype' must be one of f32, f16, got 'f8'/);
  });
});

describe('f16 KV cache errors', () => {
  it('rejects an unknown kvDtype', async () => {
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', kvDtype: 'bf16' as never })).rejects.toThrow(/'kvDtype' must be 'f32' or 'f16', got bf16/);
  });

  it('the compiled pass refuses caches of the other dtype and mixed cache dtypes', () => {
    const addon = loadAddon();
    const f32 = (n: number) => new Float32Array(new SharedArrayBuffer(4 * n));
    const castInto = (dtype: string) => ({
      op: 'cast', perSegment: true, args: { x: { slot: 0, shape: ['T', 4] }, dtype, out: { cache: 'k', layer: 0, rows: 'new', shape: ['T', 4], dtype } },
    });
    const p = addon.compile({ slots: [f32(16)], layers: 1, steps: [castInto('f16')] as never });
    const state = (dtype: 'f32' | 'f16') => addon.statePool({ layers: 1, kvHeads: 1, headDim: 4, dtype, pageRows: 4, budgetBytes: 1 << 20 }).create();
    expect(() => p.run(new Int32Array([1, 0]), [state('f32')])).toThrow(/states\[0\] has 1 layers of 4 f32 per row; this program needs 1 of 4 f16/);
    return (p.run(new Int32Array([1, 0]), [state('f16')]) as Promise<void>).then(() => {
      expect(() =>
        addon.compile({ slots: [f32(16)], layers: 1, steps: [castInto('f16'), { ...castInto('f32'), args: { ...castInto('f32').args, out: { cache: 'v', layer: 0, rows: 'new', shape: ['T', 4], dtype: 'f32' } } }] as never }),
      ).toThrow(/earlier cache operand has the other dtype/);
    });
  });
});
