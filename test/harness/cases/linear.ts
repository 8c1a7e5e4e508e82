// Harness cases for linear (x . W^T + bias, activation) with f32 weights.
import { Tensor } from '../../../ts/tensor/tensor.js';
import type { OpCase } from '../ops-harness.js';
import { WeightArg } from '../ops-harness.js';
import { normals } from '../rng.js';
import { TOL_GEMM_F32 } from '../tolerance.js';
import { AWKWARD, CaseList } from './util.js';

export function linearCases(): OpCase[] {
  const l = new CaseList(3000);
  // Weights scaled by 1/sqrt(K) so outputs are of order 1 whatever K is.
  const weight = (n: number, k: number, layout?: 'packed' | 'reference') =>
    new WeightArg(Tensor.fromValues(normals(n * k, l.seed(), 1 / Math.sqrt(Math.max(k, 1))), [n, k]), layout ? { layout } : {});
  const shapes: Array<[number, number, number]> = [
    ...AWKWARD.map((m, i) => [m, AWKWARD[(i + 5) % AWKWARD.length]!, AWKWARD[(i + 9) % AWKWARD.length]!] as [number, number, number]),
    [1, 768, 2304], [16, 768, 768], [1, 1, 1], [4, 129, 65], [33, 64, 257],
  ];
  for (const [m, k, n] of shapes) {
    l.add('linear', `M=${m} K=${k} N=${n}`, { x: l.f32([m, k]), weight: weight(n, k).asWeight() }, TOL_GEMM_F32);
  }
  for (const act of ['none', 'gelu', 'gelu_tanh', 'silu', 'relu', 'tanh'] as const) {
    l.add('linear', `bias + ${act} M=7 K=33 N=17`, { x: l.f32([7, 33]), weight: weight(17, 33).asWeight(), bias: l.f32([17]), activation: act }, TOL_GEMM_F32);
  }
  l.add('linear', 'x rank 3 [2,5,31] N=9', { x: l.f32([2, 5, 31]), weight: weight(9, 31).asWeight(), bias: l.f32([9]) }, TOL_GEMM_F32);
  // The packed GEMM's edges: long K off every vector width (and past the k block), M = 1 and
  // N = 1, M and N just above each kernel's tile (scalar 4x8, AVX2 6x16, NEON 8x12, AVX-512 14x32).
  const hard: Array<[number, number, number]> = [
    [1, 3071, 37], [2, 1023, 1], [1, 257, 1], [15, 100, 33], [7, 65, 17], [9, 31, 13], [5, 129, 9],
    [29, 300, 65], [1, 768, 97], [113, 64, 200],
  ];
  for (const [m, k, n] of hard) {
    l.add('linear', `edge M=${m} K=${k} N=${n}`, { x: l.f32([m, k]), weight: weight(n, k).asWeight(), bias: l.f32([n]) }, TOL_GEMM_F32);
  }
  l.add('linear', 'gelu_tanh M=15 K=513 N=33', { x: l.f32([15, 513]), weight: weight(33, 513).asWeight(), bias: l.f32([33]), activation: 'gelu_tanh' }, TOL_GEMM_F32);
  l.add('linear', 'silu M=1 K=1000 N=65 (decode)', { x: l.f32([1, 1000]), weight: weight(65, 1000).asWeight(), activation: 'silu' }, TOL_GEMM_F32);
  l.add('linear', 'strided x: transpose of [33,7]', { x: l.f32([33, 7]).transpose(0, 1), weight: weight(17, 33).asWeight(), bias: l.f32([17]) }, TOL_GEMM_F32);
  l.add('linear', 'strided x: column slice [4,80][:,5:70]', { x: l.f32([4, 80]).slice(1, 5, 70), weight: weight(40, 65).asWeight() }, TOL_GEMM_F32);
  l.add('linear', 'K=0 gives bias M=3 N=5', { x: l.f32([3, 0]), weight: weight(5, 0).asWeight(), bias: l.f32([5]), activation: 'gelu' }, TOL_GEMM_F32);
  l.add('linear', 'reference layout M=5 K=17 N=33', { x: l.f32([5, 17]), weight: weight(33, 17, 'reference').asWeight() }, TOL_GEMM_F32);
  return l.cases;
}
