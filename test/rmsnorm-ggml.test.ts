// The native vector rmsNorm kernels against ggml's rms_norm + mul, bit for bit: ggml adds the f32
// squares in order into a double, rounds the mean to f32 and takes 1 / sqrt(mean + eps) in f32,
// then scales and multiplies by the weight in f32. Matching it keeps the Q8_K / Q8_0 codes of the
// activations after every norm equal to llama.cpp's (why that matters: test/helpers/llamacpp.ts).
// The scalar kernel is the f64 reference (one rounding at the end) and is not held to this.

import { describe, expect, it } from 'vitest';
import '../ts/backend/ops/index.js';
import { NativeBackend } from '../ts/backend/native.js';
import { loadAddon } from '../ts/native.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { normals } from './harness/rng.js';

const VECTOR_ISAS = loadAddon().cpuInfo().available.filter((isa) => isa !== 'scalar');
const f = Math.fround;

/** ggml-cpu's rms_norm of one row followed by its mul with the weight, in the same f32 steps. */
function ggmlRmsNormMul(x: Float32Array, w: Float32Array, eps: number): Float32Array {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += f(x[i]! * x[i]!);
  const mean = f(sum / x.length);
  const scale = f(1 / f(Math.sqrt(f(mean + f(eps)))));
  return x.map((v, i) => f(f(v * scale) * w[i]!));
}

describe.skipIf(VECTOR_ISAS.length === 0)('rmsNorm vector kernels give ggml\'s bits', () => {
  it.each(VECTOR_ISAS)('%s: rows of awkward widths and scales', async (isa) => {
    const b = new NativeBackend({ isa });
    for (const [rows, n, scale] of [[3, 1, 1], [2, 17, 3], [5, 33, 0.01], [4, 256, 1], [3, 4099, 40]] as const) {
      const x = normals(rows * n, n + rows, scale);
      const w = normals(n, 7 * n, 0.5).map((v) => v + 1);
      const eps = 1e-5;
      const got = (await b.run('rmsNorm', { x: Tensor.fromValues(x, [rows, n]), weight: Tensor.fromValues(w, [n]), eps })).toFloat32();
      let differ = 0;
      for (let r = 0; r < rows; r++) {
        const want = ggmlRmsNormMul(x.subarray(r * n, (r + 1) * n), w, eps);
        for (let i = 0; i < n; i++) if (got[r * n + i] !== want[i]) differ++;
      }
      expect({ rows, n, differ }).toEqual({ rows, n, differ: 0 });
    }
    b.dispose();
  });
});
