// Harness cases for matmul: awkward M, K, N around every kernel's tile sizes (scalar 4x8,
// AVX2 6x16, AVX-512 14x32, NEON 8x12), transB, batches, alpha, strided views.
import { Tensor } from '../../../ts/tensor/tensor.js';
import type { OpCase } from '../ops-harness.js';
import { normals } from '../rng.js';
import { TOL_GEMM_F32 } from '../tolerance.js';
import { AWKWARD, CaseList } from './util.js';

export function matmulCases(): OpCase[] {
  const l = new CaseList(4000);
  // Inputs scaled by K^-1/4 each so outputs are of order 1 whatever K is.
  const mat = (shape: number[], k: number) => Tensor.fromValues(normals(shape.reduce((x, y) => x * y, 1), l.seed(), Math.max(k, 1) ** -0.25), shape);
  const shapes: Array<[number, number, number]> = [
    ...AWKWARD.map((m, i) => [m, AWKWARD[(i + 4) % AWKWARD.length]!, AWKWARD[(i + 7) % AWKWARD.length]!] as [number, number, number]),
    [1, 1, 1], [1, 768, 33], [2, 300, 65], [13, 257, 31], [14, 64, 32], [15, 65, 33], [29, 129, 97],
    [113, 513, 47], [5, 7, 1], [64, 64, 64], [3, 0, 5],
    // K past the deep-product threshold (cpu/gemm.cc): k blocks of 512 with a short last one.
    [131, 1100, 47],
  ];
  for (const [m, k, n] of shapes) {
    l.add('matmul', `M=${m} K=${k} N=${n}`, { a: mat([m, k], k), b: mat([k, n], k) }, TOL_GEMM_F32);
    l.add('matmul', `transB M=${m} K=${k} N=${n}`, { a: mat([m, k], k), b: mat([n, k], k), transB: true }, TOL_GEMM_F32);
  }
  l.add('matmul', 'alpha -0.5 M=17 K=33 N=31', { a: mat([17, 33], 33), b: mat([33, 31], 33), alpha: -0.5 }, TOL_GEMM_F32);
  // Weights-sized K, not a multiple of any vector width, with a long reduction.
  l.add('matmul', 'M=3 K=3073 N=17', { a: mat([3, 3073], 3073), b: mat([3073, 17], 3073) }, TOL_GEMM_F32);
  l.add('matmul', 'batched a and b [3,5,17]x[3,17,9]', { a: mat([3, 5, 17], 17), b: mat([3, 17, 9], 17) }, TOL_GEMM_F32);
  l.add('matmul', 'batched a, shared b [4,7,33]x[33,15]', { a: mat([4, 7, 33], 33), b: mat([33, 15], 33) }, TOL_GEMM_F32);
  l.add('matmul', 'shared a, batched b transB [2,31]x[3,16,31]', { a: mat([2, 31], 31), b: mat([3, 16, 31], 31), transB: true }, TOL_GEMM_F32);
  l.add('matmul', 'empty batch [0,3,5]x[0,5,2]', { a: mat([0, 3, 5], 5), b: mat([0, 5, 2], 5) }, TOL_GEMM_F32);
  // Strided views: a transposed operand and a column slice.
  l.add('matmul', 'a = transpose of [33,17]', { a: mat([33, 17], 33).transpose(0, 1), b: mat([33, 9], 33) }, TOL_GEMM_F32);
  l.add('matmul', 'b = transpose of [31,40] as (K, N)', { a: mat([7, 40], 40), b: mat([31, 40], 40).transpose(0, 1) }, TOL_GEMM_F32);
  l.add('matmul', 'a = column slice [5,64][:,3:50]', { a: mat([5, 64], 47).slice(1, 3, 50), b: mat([47, 18], 47), transB: false }, TOL_GEMM_F32);
  // NaN and Inf in the inputs reach exactly the outputs they touch.
  const av = normals(5 * 9, l.seed());
  av[3] = NaN;
  av[20] = Infinity;
  l.add('matmul', 'NaN/Inf parity M=5 K=9 N=3', { a: Tensor.fromValues(av, [5, 9]), b: Tensor.fromValues(normals(27, l.seed()).map(Math.abs), [9, 3]) }, TOL_GEMM_F32);
  return l.cases;
}
