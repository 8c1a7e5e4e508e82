// linear with the GGUF legacy, k-quant and IQ4 weight formats (every one an integer kernel) on the native backend, every
// instruction set this machine runs (forced per backend, as test/quant.test.ts does), against the
// reference: the TS dequantized weights times f32 activations in f64. Awkward shapes: M 1, 3, 17,
// 33; N odd and not a multiple of any panel; K 256, 512, 768 (and K = 96 for the 32-blocks).
// The WebGPU kernels of these formats: test/webgpu-block-linear.test.ts.

import { describe, expect, it } from 'vitest';
import { NativeBackend, NativeWeight } from '../ts/backend/native.js';
import { loadAddon } from '../ts/native.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { WEIGHT_FORMATS, type WeightDType } from '../ts/tensor/formats.js';
import { normals } from './harness/rng.js';
import { TOL_LINEAR_Q8_0, type Tolerance } from './harness/tolerance.js';

const isas = loadAddon().cpuInfo().available;
const backends = isas.map((isa) => new NativeBackend({ isa }));

/**
 * q4_k's integer kernels quantize activations per 256 (q8_K: one f32 scale per super-block), so
 * a step is max|x_256| / 127 (about 0.03 for N(0, 1)): error std ~ step * ||w|| / sqrt(12) ~ 0.01
 * with W ~ N(0, 1/K); 0.08 is about 8 standard deviations.
 */
const TOL_LINEAR_Q8_K: Tolerance = { atol: 0.08, rtol: 0.01 };

/** What each format's kernel adds to the dequantized reference. */
const BUDGET: Readonly<Partial<Record<WeightDType, Tolerance>>> = {
  q4_0: TOL_LINEAR_Q8_0, // integer kernels on the file's blocks, activations quantized per 32
  q5_0: TOL_LINEAR_Q8_0,
  q4_k: TOL_LINEAR_Q8_K,
  q6_k: TOL_LINEAR_Q8_K,
  q5_k: TOL_LINEAR_Q8_K,
  iq4_xs: TOL_LINEAR_Q8_K, // codebook lookup in the kernel, activations per 256
  iq4_nl: TOL_LINEAR_Q8_0, // codebook lookup in the kernel, activations per 32
  q4_1: TOL_LINEAR_Q8_0, // integer kernels, activations quantized per 32
  q5_1: TOL_LINEAR_Q8_0,
  q2_k: TOL_LINEAR_Q8_K,
  q3_k: TOL_LINEAR_Q8_K,
};
const FORMATS = Object.keys(BUDGET) as WeightDType[];

function reference(x: Float32Array, w: Float32Array, m: number, n: number, k: number, bias?: Float32Array): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let p = 0; p < k; p++) s += x[i * k + p]! * w[j * k + p]!;
      out[i * n + j] = s;
    }
  return out;
}

describe.each(FORMATS)('linear with %s weights', (dtype) => {
  const f = WEIGHT_FORMATS[dtype];
  const ks = f.blockSize === 32 ? [96, 256, 768] : [256, 512, 768];
  const shapes: [number, number, number][] = [];
  for (const k of ks) for (const [m, n] of [[1, 37], [3, 19], [17, 33], [33, 65]] as const) shapes.push([m, n, k]);

  it.each(backends.map((b) => [b.name, b] as const))('matches dequantize-then-f32 on awkward shapes (%s)', async (_name, b) => {
    const tol = BUDGET[dtype]!;
    for (const [m, n, k] of shapes) {
      const wt = Tensor.fromValues(normals(n * k, 3 + k + n, 1 / Math.sqrt(k)), [n, k], dtype);
      const wv = wt.toFloat32();
      const x = normals(m * k, 5 + m);
      const bias = normals(n, 9);
      const w = b.packWeight(wt);
      const out = await b.run('linear', { x: Tensor.fromValues(x, [m, k]), weight: w, bias: Tensor.fromValues(bias, [n]) });
      w.dispose();
      const want = reference(x, wv, m, n, k, bias);
      const o = out.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < o.length; i++) {
        const err = Math.abs(o[i]! - want[i]!) / (tol.atol + tol.rtol * Math.abs(want[i]!));
        if (!(err <= worst)) worst = err;
      }
      expect({ m, n, k, worst: worst <= 1 ? 'ok' : worst }).toEqual({ m, n, k, worst: 'ok' });
    }
  });

  it('NaN activations give NaN outputs, not garbage', async () => {
    const b = backends[0]!;
    const k = ks[1]!;
    const w = b.packWeight(Tensor.fromValues(normals(5 * k, 1, 0.1), [5, k], dtype));
    const x = normals(2 * k, 2);
    x[k + 7] = NaN;
    const o = (await b.run('linear', { x: Tensor.fromValues(x, [2, k]), weight: w })).data as Float32Array;
    w.dispose();
    expect(Array.from(o.slice(0, 5)).every(Number.isFinite)).toBe(true);
    expect(Array.from(o.slice(5)).every(Number.isNaN)).toBe(true);
  });
});

describe('k-quant kernel selection', () => {
  it.each(backends.map((b) => [b.name, b] as const))('q4_0, q5_0 and iq4_nl keep the bytes of their blocks in memory (%s)', (_name, b) => {
    // 16 columns (one panel) by 256: the file's 18 / 22 / 18 bytes per 32 weights, not q8_0's 34.
    for (const [dtype, per32] of [['q4_0', 18], ['q5_0', 22], ['iq4_nl', 18]] as const) {
      const w = b.packWeight(Tensor.fromValues(normals(16 * 256, 5, 0.1), [16, 256], dtype)) as NativeWeight;
      expect([dtype, w.bytes]).toEqual([dtype, (16 * 256 / 32) * per32]);
      w.dispose();
    }
  });

  it.each(backends.map((b) => [b.name, b] as const))('every block format reports its integer kernel table (%s)', (_name, b) => {
    const kq = b.packWeight(Tensor.fromValues(normals(16 * 256, 4, 0.1), [16, 256], 'q4_k')) as NativeWeight;
    for (const dtype of ['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_xs', 'q4_1', 'q5_1', 'q4_0', 'q5_0', 'iq4_nl'] as const) {
      const w = b.packWeight(Tensor.fromValues(normals(16 * 256, 4, 0.1), [16, 256], dtype)) as NativeWeight;
      // Every block format runs on the k-quant table, the 32-blocks too (none is widened to q8_0).
      expect([dtype, w.variant]).toEqual([dtype, kq.variant]);
      w.dispose();
    }
    kq.dispose();
  });
});
