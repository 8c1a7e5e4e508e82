// forwardBatch: several sequences in one pass (linear layers over their rows together,
// attention per sequence on its own cache) must give each sequence the logits it gets alone,
// on the compiled native path and on the reference backend's op-by-op path, for prefill and
// decode segments mixed in one pass. Also the compiled program's boundary: bad passes throw
// errors that name the problem.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DecoderModel, type KVCache } from '../ts/models/model.js';
import { loadAddon } from '../ts/native.js';
import type { WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { TOL_MODEL_LOGITS_F32, TOL_MODEL_LOGITS_Q8_0 } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const ids = (n: number, seed: number, vocab: number) => Array.from({ length: n }, (_, i) => (seed * 131 + i * 37) % vocab);

const CASES: { name: string; path: string; backend: 'native' | 'reference' | 'webgpu'; tol: number }[] = [
  { name: 'gpt2 native', path: 'gpt2-tiny', backend: 'native' as const, tol: TOL_MODEL_LOGITS_F32 },
  { name: 'llama webgpu', path: 'llama-tiny', backend: 'webgpu' as const, tol: TOL_MODEL_LOGITS_F32 },
  { name: 'gpt2 reference', path: 'gpt2-tiny', backend: 'reference' as const, tol: TOL_MODEL_LOGITS_F32 },
  { name: 'llama (GQA) native', path: 'llama-tiny', backend: 'native' as const, tol: TOL_MODEL_LOGITS_F32 },
  { name: 'llama q8_0 native', path: 'llama-tiny/model-q8_0.gguf', backend: 'native' as const, tol: TOL_MODEL_LOGITS_Q8_0 },
];

for (const c of CASES) describe.skipIf(c.backend === 'webgpu' && !HAS_WEBGPU)(`forwardBatch ${c.name}`, () => {
  let model: DecoderModel;
  let gpu: WebGPUBackend | undefined;
  beforeAll(async () => {
    if (c.backend === 'webgpu') gpu = await openWebGPU();
    model = await loadModel(join(FIX, c.path), { kind: 'decoder', backend: gpu ?? (c.backend as 'native' | 'reference'), contextLength: 96, maxBatch: 6 });
  });
  afterAll(() => {
    model.dispose();
    gpu?.dispose();
  });

  it('gives every sequence the logits it gets alone, for mixed prefill and decode segments', async () => {
    const V = model.config.vocabSize;
    // Histories already in each cache, then the new tokens of this pass.
    const plans = [
      { history: 0, fresh: 7 },
      { history: 5, fresh: 1 },
      { history: 33, fresh: 1 },
      { history: 0, fresh: 1 },
      { history: 12, fresh: 4 },
    ];
    const alone: Float32Array[] = [];
    const caches: KVCache[] = [];
    for (const [n, p] of plans.entries()) {
      const seq = ids(p.history + p.fresh, n + 1, V);
      const solo = model.newCache();
      if (p.history) await model.forward(seq.slice(0, p.history), { cache: solo });
      alone.push(await model.forward(seq.slice(p.history), { cache: solo }));
      const cache = model.newCache();
      if (p.history) await model.forward(seq.slice(0, p.history), { cache });
      caches.push(cache);
    }
    const out = await model.forwardBatch(plans.map((p, n) => ({ ids: ids(p.history + p.fresh, n + 1, V).slice(p.history), cache: caches[n]! })));
    expect(out).toHaveLength(plans.length);
    out.forEach((logits, n) => {
      expect(caches[n]!.length).toBe(plans[n]!.history + plans[n]!.fresh);
      expect(maxDiff(logits, alone[n]!)).toBeLessThanOrEqual(c.tol);
    });
    // The next pass continues every cache: one decode token each, again equal to alone.
    const next = await model.forwardBatch(caches.map((cache, n) => ({ ids: [n + 2], cache })));
    for (const [n, p] of plans.entries()) {
      const seq = ids(p.history + p.fresh, n + 1, V);
      const recomputed = await model.forward([...seq, n + 2]);
      expect(maxDiff(next[n]!, recomputed)).toBeLessThanOrEqual(c.tol);
    }
    // Two more passes of the same shape (the native program reuses what it prepared for the
    // steps that do not touch a cache), with single-sequence passes of other lengths between.
    for (const extra of [3, 4]) {
      const more = await model.forwardBatch(caches.map((cache, n) => ({ ids: [n + extra], cache })));
      const solo = model.newCache();
      await model.forward(ids(9, 7, V), { cache: solo });
      for (const [n, p] of plans.entries()) {
        const seq = [...ids(p.history + p.fresh, n + 1, V), n + 2, ...(extra === 4 ? [n + 3] : [])];
        const recomputed = await model.forward([...seq, n + extra]);
        expect(maxDiff(more[n]!, recomputed)).toBeLessThanOrEqual(c.tol);
      }
    }
  });

  it('rejects bad batches with errors that name the item', async () => {
    const a = model.newCache();
    await expect(model.forwardBatch([])).rejects.toThrow(/non-empty array/);
    await expect(model.forwardBatch([{ ids: [1], cache: a }, { ids: [2], cache: a }])).rejects.toThrow(/items\[1\] uses a cache that another item uses/);
    await expect(model.forwardBatch([{ ids: [1], cache: a }, { ids: [], cache: model.newCache() }])).rejects.toThrow(/items\[1\]: ids must hold at least one token/);
    await expect(model.forwardBatch([{ ids: [1], cache: a }, { ids: [model.config.vocabSize], cache: model.newCache() }])).rejects.toThrow(/items\[1\]\.ids\[0\]/);
    const many = Array.from({ length: 7 }, () => ({ ids: [1], cache: model.newCache() }));
    await expect(model.forwardBatch(many)).rejects.toThrow(/exceed maxBatch 6/);
    const small = model.newCache(4);
    await expect(model.forwardBatch([{ ids: [1], cache: a }, { ids: [1, 2, 3, 4, 5], cache: small }])).rejects.toThrow(/items\[1\]: 0 cached \+ 5 new tokens exceed 4 positions/);
    // Nothing ran: the caches are untouched and usable.
    expect(a.length).toBe(0);
    expect((await model.forwardBatch([{ ids: [1, 2], cache: a }]))[0]).toHaveLength(model.config.vocabSize);
  });
});

describe('compiled program boundary', () => {
  const addon = loadAddon();
  // Program slots are SharedArrayBuffers: a pass reads them off the main thread.
  const f32 = (n: number) => new Float32Array(new SharedArrayBuffer(4 * n));
  const step = (args: Record<string, unknown>) => ({ op: 'gelu', perSegment: false, args });
  const compile = (slots: ArrayBufferView[], steps: unknown[], layers = 1) => addon.compile({ slots, layers, steps: steps as never });

  it('checks the description when compiling', () => {
    expect(() => compile([f32(4)], [step({ x: { slot: 3, shape: [4] }, out: { slot: 0, shape: [4] } })])).toThrow(RangeError);
    expect(() => compile([f32(4)], [step({ x: { slot: 0, shape: ['Q'] }, out: { slot: 0, shape: [4] } })])).toThrow(/'T', 'S', 'B' or 'E'/);
    expect(() => compile([f32(4)], [step({ x: { slot: 0, shape: ['S'] }, out: { slot: 0, shape: [4] } })])).toThrow(/'S' outside a per-segment step/);
    expect(() => compile([f32(4)], [step({ x: { cache: 'k', layer: 0, rows: 'new', shape: ['T'] }, out: { slot: 0, shape: [4] } })])).toThrow(/per-segment/);
    expect(() => compile([new Uint8Array(4)], [])).toThrow(/Float32Array or Int32Array/);
    expect(() => compile([f32(4)], [{ op: 'nope', perSegment: false, args: {} }])).toThrow(/unknown op 'nope'/);
  });

  it('checks every view of a pass against its buffer before running', async () => {
    const x = f32(8).fill(1);
    const out = f32(8);
    const p = compile([x, out], [step({ x: { slot: 0, shape: ['T', 2] }, out: { slot: 1, shape: ['T', 2] } })]);
    await p.run(new Int32Array([4, 0]), [null]);
    expect(out[0]).toBeCloseTo(0.8413, 3);
    // 5 rows of 2 need 10 elements; the slots hold 8.
    expect(() => p.run(new Int32Array([5, 0]), [null])).toThrow(/needs elements \[0, 0 \+ 10\) of a buffer of 8/);
    expect(() => p.run(new Int32Array([0, 0]), [null])).toThrow(/at least one token/);
    expect(() => p.run(new Int32Array([1]), [null])).toThrow(/pairs/);
    expect(() => p.run(new Int32Array([1, 0]), [])).toThrow(/one SequenceState \(or null\) per segment/);
    expect(() => p.run(new Int32Array([1, 0]), [{ k: [f32(4)], v: [f32(4)] }] as never)).toThrow(/states\[0\] must be a SequenceState/);
    p.dispose();
    expect(() => p.run(new Int32Array([1, 0]), [null])).toThrow(/disposed/);
  });

  it('writes new rows into the state page by page and checks each state', async () => {
    const q = f32(16);
    const out = f32(16);
    const steps = [{ op: 'cast', perSegment: true, args: { x: { slot: 0, shape: ['T', 4] }, out: { cache: 'k', layer: 0, rows: 'new', shape: ['T', 4] } } }];
    const p = compile([q, out], steps);
    const pool = addon.statePool({ layers: 1, kvHeads: 1, headDim: 4, dtype: 'f32', pageRows: 2, budgetBytes: 1 << 20 });
    const a = pool.create();
    const b = pool.create();
    q.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Three rows into a: two pages of two rows; one row into b.
    await p.run(new Int32Array([3, 0, 1, 0]), [a, b]);
    expect([a.length, a.pages, b.length, b.pages]).toEqual([3, 2, 1, 1]);
    expect(() => p.run(new Int32Array([1, 2]), [a])).toThrow(/holds 3 rows, but the segment says 2 are cached/);
    expect(() => p.run(new Int32Array([1, 3, 1, 3]), [a, a])).toThrow(/states\[1\] is also states\[0\]/);
    expect(() => p.run(new Int32Array([1, 0]), [null])).toThrow(/states\[0\] is missing/);
    const other = addon.statePool({ layers: 1, kvHeads: 1, headDim: 8, dtype: 'f32', pageRows: 2, budgetBytes: 1 << 20 }).create();
    expect(() => p.run(new Int32Array([1, 0]), [other])).toThrow(/8 f32 per row; this program needs 1 of 4 f32/);
    // A state is busy until its pass settles.
    const pending = p.run(new Int32Array([1, 3]), [a]);
    expect(() => a.fork()).toThrow(/has not settled/);
    expect(() => p.run(new Int32Array([1, 4]), [a])).toThrow(/has not settled/);
    await pending;
    expect(a.length).toBe(4);
    a.dispose();
    expect(() => p.run(new Int32Array([1, 0]), [a])).toThrow(/disposed/);
    pool.dispose();
  });

  it('prepares the pass again when its token count or segment count changes', async () => {
    const x = f32(8);
    x.forEach((_, i) => (x[i] = i - 3));
    const out = f32(8);
    const p = compile([x, out], [step({ x: { slot: 0, shape: ['T', 'B'] }, out: { slot: 1, shape: ['T', 'B'] } })]);
    const one = [null];
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const expectUpTo = (n: number) => {
      for (let i = 0; i < 8; i++) expect(out[i]).toBeCloseTo(i < n ? gelu(x[i]!) : 0, 3);
    };
    await p.run(new Int32Array([2, 0]), one); // T = 2, B = 1: 2 elements
    expectUpTo(2);
    await p.run(new Int32Array([2, 5]), one); // the same shape: reused
    expectUpTo(2);
    await p.run(new Int32Array([3, 0]), one); // T = 3: 3 elements
    expectUpTo(3);
    await p.run(new Int32Array([2, 0, 2, 0]), [...one, ...one]); // T = 4, B = 2: 8 elements
    expectUpTo(8);
    p.dispose();
  });

  it('refuses slots and parameters that JavaScript could detach', async () => {
    // A slot over a plain ArrayBuffer could be detached mid-pass: the program refuses it up front.
    const plain = new Float32Array(4);
    expect(() => compile([plain, f32(4)], [step({ x: { slot: 0, shape: [4] }, out: { slot: 1, shape: [4] } })])).toThrow(
      /slots\[0\] must be backed by a SharedArrayBuffer/,
    );
    // So is a parameter tensor.
    const param = { dtype: 'f32', shape: [4], data: new Float32Array(4) };
    expect(() => compile([f32(4), f32(4)], [step({ x: param, out: { slot: 1, shape: [4] } })])).toThrow(/\.data must be backed by a SharedArrayBuffer/);
    // A SharedArrayBuffer cannot be transferred at all.
    const x = f32(4);
    expect(() => structuredClone(x.buffer, { transfer: [x.buffer as unknown as ArrayBuffer] })).toThrow();
  });
});
