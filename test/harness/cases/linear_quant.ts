// Harness cases for linear with f16, bf16, q8_0 and per-row i8 weights on awkward shapes. The
// reference dequantizes the same weights, so the int8 budgets cover activation quantization.
import { Tensor } from '../../../ts/tensor/tensor.js';
import { quantizeI8 } from '../../../ts/tensor/i8.js';
import type { OpCase } from '../ops-harness.js';
import { WeightArg } from '../ops-harness.js';
import { normals } from '../rng.js';
import { TOL_LINEAR_HALF, TOL_LINEAR_I8, TOL_LINEAR_Q8_0, type Tolerance } from '../tolerance.js';
import { AWKWARD, CaseList } from './util.js';

export type QuantWeightDType = 'f16' | 'bf16' | 'q8_0' | 'i8';

/** W (N, K) with N(0, 1/K) values in `dtype`, as a harness weight argument. */
export function quantWeight(dtype: QuantWeightDType, n: number, k: number, seed: number): WeightArg {
  const v = normals(n * k, seed, 1 / Math.sqrt(Math.max(k, 1)));
  if (dtype !== 'i8') return new WeightArg(Tensor.fromValues(v, [n, k], dtype));
  const { q, scales } = quantizeI8(v, n, k);
  return new WeightArg(Tensor.fromArray('i8', [n, k], q), { scales: Tensor.fromArray('f32', [n], scales) });
}

export const LINEAR_TOLERANCE: Readonly<Record<QuantWeightDType, Tolerance>> = {
  f16: TOL_LINEAR_HALF,
  bf16: TOL_LINEAR_HALF,
  q8_0: TOL_LINEAR_Q8_0,
  i8: TOL_LINEAR_I8,
};

export function linearQuantCases(): OpCase[] {
  const l = new CaseList(7000);
  for (const dtype of ['f16', 'bf16', 'q8_0', 'i8'] as const) {
    const tol = LINEAR_TOLERANCE[dtype];
    // q8_0 needs K a multiple of 32; the other formats take any K.
    const ks = dtype === 'q8_0' ? [32, 64, 96, 160, 256, 768] : [...AWKWARD, 768];
    const shapes: Array<[number, number, number]> = AWKWARD.map(
      (m, i) => [m, ks[i % ks.length]!, AWKWARD[(i + 7) % AWKWARD.length]!] as [number, number, number],
    );
    shapes.push([1, 768, 129], [5, dtype === 'q8_0' ? 3072 : 3071, 9], [128, 96, 17], [1, dtype === 'q8_0' ? 64 : 1, 1]);
    // Around the register tiles (rows 2 / 6, columns 16 / 32 / 64 per panel) and past M = 128.
    const kq = (k: number) => (dtype === 'q8_0' ? k - (k % 32) : k);
    shapes.push([129, kq(96), 65], [6, kq(33 * 32), 48], [13, kq(100), 32], [12, kq(64), 31], [7, kq(64), 97], [3, kq(256), 16]);
    // Large enough to be split over the pool: rows and columns (few panels), columns alone.
    shapes.push([129, kq(767), 65], [33, kq(767), 257]);
    for (const [m, k, n] of shapes)
      l.add('linear', `${dtype} M=${m} K=${k} N=${n}`, { x: l.f32([m, k]), weight: quantWeight(dtype, n, k, l.seed()).asWeight() }, tol);
    for (const act of ['none', 'gelu', 'gelu_tanh', 'silu'] as const) {
      const k = dtype === 'q8_0' ? 64 : 33;
      l.add('linear', `${dtype} bias + ${act} M=7 K=${k} N=17`, {
        x: l.f32([7, k]), weight: quantWeight(dtype, 17, k, l.seed()).asWeight(), bias: l.f32([17]), activation: act,
      }, tol);
    }
    l.add('linear', `${dtype} K=0 gives the bias M=3 N=5`, { x: l.f32([3, 0]), weight: quantWeight(dtype, 5, 0, l.seed()).asWeight(), bias: l.f32([5]) }, tol);
    const k3 = dtype === 'q8_0' ? 32 : 31;
    l.add('linear', `${dtype} x rank 3 [2,5,${k3}] N=9`, { x: l.f32([2, 5, k3]), weight: quantWeight(dtype, 9, k3, l.seed()).asWeight(), bias: l.f32([9]) }, tol);
  }
  return l.cases;
}
