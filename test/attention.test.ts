// Properties of the attention and recurrent ops beyond the harness's per-case comparison:
// the two linear-attention forms agree, GQA equals MHA with repeated K/V heads, token-by-token
// decode against a cache equals causal prefill, the fused op's workspace does not grow with n,
// and bad arguments give errors that name them (in TypeScript and in C++).
import { describe, expect, it } from 'vitest';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { loadAddon } from '../ts/native.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { normals } from './harness/rng.js';
import { TOL_ATTENTION_F32 } from './harness/tolerance.js';

const addon = loadAddon();
const isas = addon.cpuInfo().available;
const rand = (shape: number[], seed: number, scale = 1) => Tensor.fromValues(normals(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

function expectClose(got: Tensor, want: Tensor, tol = TOL_ATTENTION_F32): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.toFloat32();
  const w = want.toFloat32();
  let worst = 0;
  let nonFinite = 0;
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(g[i]!)) nonFinite++;
    worst = Math.max(worst, Math.abs(g[i]! - w[i]!) - (tol.atol + tol.rtol * Math.abs(w[i]!)));
  }
  expect(nonFinite).toBe(0);
  expect(worst).toBeLessThanOrEqual(0);
}

/** The raw form the addon reads, so C++ checks are reached without the TypeScript ones. */
const raw = (t: Tensor) => ({ dtype: t.dtype, shape: t.shape, data: t.contiguous().data });

describe.each(isas)('attention properties (%s)', (isa) => {
  const be = new NativeBackend({ isa });

  it('reports its kernel variant', () => {
    addon.setIsa(isa);
    expect(addon.cpuInfo().kernels.attention).toBe(isa === 'neon' ? 'scalar' : isa);
  });

  it('linear attention: the parallel O(n^2 d) and recurrent O(n d^2) forms agree', async () => {
    for (const [t, h, d] of [[1, 1, 4], [513, 2, 33], [2000, 1, 64]] as const) {
      const args = { q: rand([t, h, d], 1), k: rand([t, h, d], 2), v: rand([t, h, d], 3) };
      const par = await be.run('linearAttention', { ...args, form: 'parallel' });
      const rec = await be.run('linearAttention', { ...args, form: 'recurrent' });
      expectClose(rec, par, { atol: 1e-4, rtol: 1e-3 });
    }
  });

  it('GQA and MQA equal MHA with each K/V head repeated for its query heads', async () => {
    for (const [hq, hkv, tq] of [[8, 2, 37], [6, 1, 1], [4, 2, 1], [12, 4, 130]] as const) {
      const tk = 150, d = 24, group = hq / hkv;
      const q = rand([tq, hq, d], 4);
      const k = rand([tk, hkv, d], 5);
      const v = rand([tk, hkv, d], 6);
      const repeat = (x: Tensor) => {
        const src = x.toFloat32();
        const out = new Float32Array(tk * hq * d);
        for (let j = 0; j < tk; j++)
          for (let h = 0; h < hq; h++) out.set(src.subarray((j * hkv + Math.floor(h / group)) * d, (j * hkv + Math.floor(h / group) + 1) * d), (j * hq + h) * d);
        return Tensor.fromArray('f32', [tk, hq, d], out);
      };
      const gqa = await be.run('attention', { q, k, v, causal: true });
      const mha = await be.run('attention', { q, k: repeat(k), v: repeat(v), causal: true });
      expectClose(gqa, mha);
    }
  });

  it('decoding token by token against a growing cache equals causal prefill', async () => {
    const t = 70, hq = 4, hkv = 2, d = 32, tmax = 128;
    const q = rand([t, hq, d], 7);
    const k = rand([t, hkv, d], 8);
    const v = rand([t, hkv, d], 9);
    const full = await be.run('attention', { q, k, v, causal: true });
    const cacheK = Tensor.zeros('f32', [tmax, hkv, d]);
    const cacheV = Tensor.zeros('f32', [tmax, hkv, d]);
    const rows: Float32Array[] = [];
    for (let i = 0; i < t; i++) {
      (cacheK.data as Float32Array).set(k.toFloat32().subarray(i * hkv * d, (i + 1) * hkv * d), i * hkv * d);
      (cacheV.data as Float32Array).set(v.toFloat32().subarray(i * hkv * d, (i + 1) * hkv * d), i * hkv * d);
      const kv = { k: cacheK.slice(0, 0, i + 1), v: cacheV.slice(0, 0, i + 1) };
      expect(kv.k.isContiguous()).toBe(true);
      const out = await be.run('attention', { q: q.slice(0, i, i + 1), ...kv, causal: true });
      rows.push(out.toFloat32());
    }
    const step = new Float32Array(t * hq * d);
    rows.forEach((r, i) => step.set(r, i * hq * d));
    expectClose(Tensor.fromArray('f32', [t, hq, d], step), full);
  });

  it('rows whose every key is masked give zeros, never NaN (tiled and decode paths)', async () => {
    for (const tq of [1, 40]) {
      const tk = 8192, h = 2, d = 16;
      const m = new Float32Array(tq * tk);
      m.fill(-Infinity, 0, tk); // row 0 hides every key
      const out = await be.run('attention', { q: rand([tq, h, d], 10, 30), k: rand([tk, h, d], 11), v: rand([tk, h, d], 12), mask: Tensor.fromArray('f32', [tq, tk], m) });
      const o = out.toFloat32();
      expect([...o.subarray(0, h * d)].every((x) => x === 0)).toBe(true);
      expect(o.every((x) => Number.isFinite(x))).toBe(true);
    }
  });

  it('fused attention holds O(D) workspace whatever n; naive holds the (Hq, Tq, Tk) scores', async () => {
    // One thread, so the peak is one workspace rather than however many threads ran at once.
    const threads = addon.getThreads();
    addon.setThreads(1);
    const peak = async (op: 'attention' | 'attentionNaive', n: number) => {
      const h = 4, d = 64;
      const args = { q: rand([n, h, d], 13), k: rand([n, h, d], 14), v: rand([n, h, d], 15) };
      addon.peakScratchBytes(true);
      await be.run(op, args);
      return addon.peakScratchBytes(true);
    };
    try {
      const small = await peak('attention', 256);
      const large = await peak('attention', 2048);
      expect(large).toBe(small);
      expect(large).toBeLessThan(2 ** 20);
      expect(await peak('attentionNaive', 1024)).toBeGreaterThanOrEqual(4 * 1024 * 1024 * 4);
    } finally {
      addon.setThreads(threads);
    }
  });
});

describe('attention argument errors', () => {
  const ref = new ReferenceBackend();
  const q = rand([3, 4, 8], 20);
  const k = rand([5, 2, 8], 21);
  const v = rand([5, 2, 8], 22);
  const out = Tensor.zeros('f32', [3, 4, 8]);
  const bad: Array<[string, Record<string, unknown>, RegExp, 'type' | 'range']> = [
    ['k dtype', { k: rand([5, 2, 8], 1).to('bf16') }, /'k'/, 'type'],
    ['v dtype differs from k', { v: v.to('f16') }, /'v'/, 'type'],
    ['heads not a multiple', { k: rand([5, 3, 8], 1), v: rand([5, 3, 8], 2) }, /heads/, 'range'],
    ['head size', { k: rand([5, 2, 7], 1), v: rand([5, 2, 7], 2) }, /head size/, 'range'],
    ['q rank', { q: rand([3, 32], 1) }, /'q'/, 'range'],
    ['mask shape', { mask: rand([3, 4], 1) }, /'mask'/, 'range'],
    ['mask +inf', { mask: Tensor.fromValues(new Array(15).fill(Infinity), [3, 5]) }, /'mask'/, 'range'],
    ['scale NaN', { scale: NaN }, /'scale'/, 'range'],
    ['qOffset fraction', { qOffset: 1.5 }, /'qOffset'/, 'range'],
    ['causal not boolean', { causal: 1 }, /'causal'/, 'type'],
    ['k rank differs from q', { k: rand([1, 5, 2, 8], 1), v: rand([1, 5, 2, 8], 2) }, /'k'/, 'range'],
    ['batch mask without a batch', { mask: rand([1, 3, 5], 1) }, /'mask'/, 'range'],
    ['positionBias unknown', { positionBias: 'rope', biasTable: rand([8, 4], 1) }, /'positionBias'/, 'range'],
    ['t5 without its table', { positionBias: 't5' }, /'biasTable'/, 'type'],
    ['t5 table with a column per kv head', { positionBias: 't5', biasTable: rand([8, 2], 1) }, /'biasTable' must have shape \[numBuckets >= 2, 4\]/, 'range'],
    ['t5 maxDistance 0', { positionBias: 't5', biasTable: rand([8, 4], 1), maxDistance: 0 }, /'maxDistance'/, 'range'],
    ['bidirectional t5 with 2 buckets', { positionBias: 't5', biasTable: rand([2, 4], 1), bidirectional: true }, /at least 4 buckets/, 'range'],
    ['alibi slopes per kv head', { positionBias: 'alibi', biasTable: rand([2], 1) }, /'biasTable'/, 'range'],
    ['alibi with maxDistance', { positionBias: 'alibi', biasTable: rand([4], 1), maxDistance: 8 }, /apply to positionBias 't5' only/, 'type'],
    ['maxDistance without positionBias', { maxDistance: 8 }, /'maxDistance' needs 'positionBias'/, 'type'],
  ];
  it.each(bad)('%s: the TypeScript spec and the addon both name the argument', (_label, change, re, kind) => {
    const Err = kind === 'type' ? TypeError : RangeError;
    expect(() => ref.runSync('attention', { q, k, v, ...change } as never)).toThrow(Err);
    expect(() => ref.runSync('attention', { q, k, v, ...change } as never)).toThrow(re);
    const nargs: Record<string, unknown> = { q: raw(q), k: raw(k), v: raw(v), out: raw(out) };
    for (const [key, val] of Object.entries(change)) nargs[key] = val instanceof Tensor ? raw(val) : val;
    expect(() => addon.op('attention', nargs)).toThrow(Err);
    expect(() => addon.op('attention', nargs)).toThrow(re);
  });

  it('attentionNaive refuses a score matrix over its limit and points to the fused op', () => {
    const n = 8192, h = 12, d = 4;
    const big = raw(Tensor.zeros('f32', [n, h, d]));
    expect(() => addon.op('attentionNaive', { q: big, k: big, v: big, out: raw(Tensor.zeros('f32', [n, h, d])) })).toThrow(/'attention'/);
  });

  it('rnn and lstm check their weights and states by name', () => {
    const x = rand([2, 3, 5], 30);
    expect(() => ref.runSync('rnn', { x, wIh: rand([4, 5], 1), wHh: rand([4, 3], 2) })).toThrow(/'wHh'/);
    expect(() => ref.runSync('lstm', { x, wIh: rand([16, 6], 1), wHh: rand([16, 4], 2) })).toThrow(/'wIh'/);
    expect(() => ref.runSync('lstm', { x, wIh: rand([16, 5], 1), wHh: rand([16, 4], 2), c0: rand([2, 5], 3) })).toThrow(/'c0'/);
    const o = raw(Tensor.zeros('f32', [2, 3, 4]));
    expect(() => addon.op('lstm', { x: raw(x), wIh: raw(rand([16, 5], 1)), wHh: raw(rand([16, 4], 2)), h0: raw(rand([3, 4], 3)), out: o })).toThrow(/'h0'/);
    expect(() => addon.op('rnn', { x: raw(x), wIh: raw(rand([4, 5], 1)), wHh: raw(rand([4, 4], 2)), bias: raw(rand([5], 3)), out: o })).toThrow(/'bias'/);
  });
});
