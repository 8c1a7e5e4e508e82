// WebGPU linear with every GGUF block weight format dequantized in the shader (kernels/
// block-loaders.ts), against the TS reference dequantizer: bit for bit through one-hot
// activations (out = W^T exactly), then on awkward shapes, decode (GEMV, M <= 4) and prefill
// (the barrier-free 'blocked' kernel of CPU adapters and the 'shared' tiled one of GPUs).

import { afterAll, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { WEIGHT_FORMATS, type WeightDType } from '../ts/tensor/formats.js';
import { normals } from './harness/rng.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { TOL_WEBGPU_LINEAR_DEQUANT } from './harness/tolerance.js';

const FORMATS: WeightDType[] = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_xs'];
/** lavapipe compiles each pipeline on first use and runs every kernel on the CPU. */
const SLOW = 300_000;

const gpus: Record<'blocked' | 'shared', WebGPUBackend | undefined> = HAS_WEBGPU
  ? { blocked: await openWebGPU({ tiles: 'blocked' }), shared: await openWebGPU({ tiles: 'shared' }) }
  : { blocked: undefined, shared: undefined };
afterAll(() => {
  gpus.blocked?.dispose();
  gpus.shared?.dispose();
});

function reference(x: Float32Array, w: Float32Array, m: number, n: number, k: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += x[i * k + p]! * w[j * k + p]!;
      out[i * n + j] = s;
    }
  return out;
}

/** Weights with every sub-block scale in play: N(0, 1/K) plus a few rows of larger and offset values. */
function weights(dtype: WeightDType, n: number, k: number, seed: number): Tensor {
  const v = normals(n * k, seed, 1 / Math.sqrt(k));
  for (let i = 0; i < v.length; i++) if (Math.floor(i / k) % 5 === 1) v[i] = v[i]! * 7 + 0.05;
  return Tensor.fromValues(v, [n, k], dtype);
}

describe.skipIf(!HAS_WEBGPU)('WebGPU linear with GGUF block weights dequantized in the shader', () => {
  describe.each(FORMATS)('%s', (dtype) => {
    const block = WEIGHT_FORMATS[dtype].blockSize;
    const ks = block === 32 ? [96, 256, 352] : [256, 512, 768];

    it('packs as stored and decodes every value bit for bit (one-hot rows: out = W^T, +0 and -0 alike)', async () => {
      const gpu = gpus.blocked!;
      const [n, k] = [19, ks[1]!];
      const wt = weights(dtype, n, k, 7 + k);
      const w = gpu.packWeight(wt);
      try {
        expect(w.dtype).toBe(dtype);
        expect(w.bytes).toBeLessThan(n * k * 4);
        const eye = new Float32Array(k * k);
        for (let i = 0; i < k; i++) eye[i * k + i] = 1;
        // M = k takes the prefill kernel; single rows the decode one.
        const all = (await gpu.run('linear', { x: Tensor.fromValues(eye, [k, k]), weight: w })).toFloat32();
        const want = wt.toFloat32();
        let bad = 0;
        let first = '';
        for (let r = 0; r < k; r++)
          for (let c = 0; c < n; c++)
            if (all[r * n + c] !== want[c * k + r]) {
              if (!bad) first = `W[${c}, ${r}]: got ${all[r * n + c]}, reference ${want[c * k + r]}`;
              bad++;
            }
        expect({ bad, first }).toEqual({ bad: 0, first: '' });
        for (const r of [0, 1, 31, 32, 127, 128, k - 1]) {
          const one = (await gpu.run('linear', { x: Tensor.fromValues(eye.subarray(r * k, (r + 1) * k), [1, k]), weight: w })).toFloat32();
          const off = Array.from(one).flatMap((v, c) => (v === want[c * k + r] ? [] : [`W[${c}, ${r}]: got ${v}, reference ${want[c * k + r]}`]));
          expect(off, `column ${r} through the decode kernel`).toEqual([]);
        }
      } finally {
        w.dispose();
      }
    }, SLOW);

    it.each(['blocked', 'shared'] as const)('matches dequantize-then-f32 on awkward shapes (%s tiles)', async (tiles) => {
      const gpu = gpus[tiles]!;
      const tol = TOL_WEBGPU_LINEAR_DEQUANT;
      // Decode (M <= 4) takes the same kernel whatever the tiles, so 'shared' runs the prefill shapes only.
      const decode: [number, number, number][] = [[1, 37, ks[0]!], [3, 19, ks[1]!], [4, 5, ks[2]!]];
      const prefill: [number, number, number][] = [[17, 33, ks[0]!], [33, 65, ks[2]!]];
      const shapes = tiles === 'blocked' ? [...decode, ...prefill] : prefill;
      for (const [m, n, k] of shapes) {
        const wt = weights(dtype, n, k, 30 + k + n);
        const x = normals(m * k, 40 + m);
        const w = gpu.packWeight(wt);
        const out = (await gpu.run('linear', { x: Tensor.fromValues(x, [m, k]), weight: w })).toFloat32();
        w.dispose();
        const want = reference(x, wt.toFloat32(), m, n, k);
        let worst = 0;
        for (let i = 0; i < out.length; i++) {
          const err = Math.abs(out[i]! - want[i]!) / (tol.atol + tol.rtol * Math.abs(want[i]!));
          if (!(err <= worst)) worst = err;
        }
        expect({ m, n, k, worst: worst <= 1 ? 'ok' : worst }).toEqual({ m, n, k, worst: 'ok' });
      }
    }, SLOW);
  });
});
