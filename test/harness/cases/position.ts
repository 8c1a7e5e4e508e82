// Harness cases for embedding, rope, sinusoidal.
import { Tensor } from '../../../ts/tensor/tensor.js';
import type { OpCase } from '../ops-harness.js';
import { ints, normals } from '../rng.js';
import { TOL_EXACT } from '../tolerance.js';
import { CaseList } from './util.js';

/** Angles up to a few thousand radians in f32: cos/sin of the same f32 angle agree to ~1e-7. */
const TOL_ROPE = { atol: 1e-4, rtol: 1e-4 };
/** sin/cos of p / base^(2i/D) computed in f64 and rounded: a few f32 ulp at |angle| ~ 2048. */
const TOL_SINUSOIDAL = { atol: 2e-4, rtol: 1e-5 };

export function positionCases(): OpCase[] {
  const l = new CaseList(1000);
  for (const [v, c, n] of [[1, 1, 1], [7, 3, 5], [50, 17, 33], [127, 64, 8], [3, 127, 2], [1000, 33, 31]] as const) {
    const ids = Tensor.fromArray('i32', [n], ints(n, l.seed(), 0, v));
    const tbl = normals(v * c, l.seed());
    l.add('embedding', `f32 V=${v} C=${c} N=${n}`, { table: Tensor.fromValues(tbl, [v, c]), ids }, TOL_EXACT);
    l.add('embedding', `f16 V=${v} C=${c} N=${n}`, { table: Tensor.fromValues(tbl, [v, c], 'f16'), ids }, TOL_EXACT);
  }
  // q8_0 rows hold whole blocks of 32; dequantized rows are exact (q * d is one f32 product).
  for (const [v, c, n] of [[1, 32, 1], [7, 32, 5], [50, 64, 33], [3, 96, 17]] as const) {
    const ids = Tensor.fromArray('i32', [n], ints(n, l.seed(), 0, v));
    l.add('embedding', `q8_0 V=${v} C=${c} N=${n}`, { table: Tensor.fromValues(normals(v * c, l.seed()), [v, c], 'q8_0'), ids }, TOL_EXACT);
  }
  l.add('embedding', 'bf16 ids [2,3]', {
    table: Tensor.fromValues(normals(40, 3), [10, 4], 'bf16'),
    ids: Tensor.fromArray('i32', [2, 3], new Int32Array([0, 9, 3, 3, 1, 8])),
  }, TOL_EXACT);

  for (const [n, h, d, rd, inter] of [
    [1, 1, 2, undefined, false], [3, 2, 8, undefined, false], [5, 3, 16, 8, false], [7, 4, 64, undefined, false],
    [17, 2, 128, undefined, false], [2, 12, 64, 32, false], [1, 1, 2, undefined, true], [3, 5, 8, undefined, true],
    [33, 2, 64, undefined, true], [4, 3, 10, 6, true], [31, 1, 6, 4, false], [2, 2, 4, 0, false],
  ] as const) {
    const positions = Tensor.fromArray('i32', [n], ints(n, l.seed(), 0, 4096));
    l.add('rope', `N=${n} H=${h} D=${d} rd=${rd ?? d}${inter ? ' interleaved' : ''}`,
      { x: l.f32([n, h, d]), positions, rotaryDim: rd, interleaved: inter, theta: 10000 }, TOL_ROPE);
  }
  l.add('rope', 'theta 500000 N=5 H=2 D=128', {
    x: l.f32([5, 2, 128]), positions: Tensor.fromArray('i32', [5], new Int32Array([0, 1, 2, 1000, 8191])), theta: 500000,
  }, TOL_ROPE);

  // Scaled rotary embeddings: given tables (Llama 3, linear, YaRN), LongRoPE's long table on
  // either side of longFrom, a factor on cos and sin, dynamic NTK below and past its original length.
  const table = (half: number, seed: number) => Tensor.fromValues(normals(half, seed).map((v) => 0.5 * Math.exp(-Math.abs(v) * 3)), [half]);
  const pos = (n: number, max: number) => Tensor.fromArray('i32', [n], ints(n, l.seed(), 0, max));
  l.add('rope', 'invFreq N=7 H=3 D=16', { x: l.f32([7, 3, 16]), positions: pos(7, 512), invFreq: table(8, l.seed()) }, TOL_ROPE);
  l.add('rope', 'invFreq rd=6 interleaved scale 1.2 N=5 H=2 D=10', {
    x: l.f32([5, 2, 10]), positions: pos(5, 512), rotaryDim: 6, interleaved: true, invFreq: table(3, l.seed()), scale: 1.2,
  }, TOL_ROPE);
  for (const [n, max, longFrom] of [[33, 40, 64], [33, 100, 64], [1, 70, 64], [17, 65, 64]] as const) {
    l.add('rope', `longrope N=${n} positions<${max} longFrom=${longFrom}`, {
      x: l.f32([n, 2, 12]), positions: pos(n, max), invFreq: table(6, l.seed()), invFreqLong: table(6, l.seed()), longFrom, scale: 1.19,
    }, TOL_ROPE);
  }
  for (const [n, max] of [[7, 16], [33, 60], [1, 90], [31, 200]] as const) {
    l.add('rope', `dynamic factor 4 original 16 N=${n} positions<${max}`, {
      x: l.f32([n, 3, 16]), positions: pos(n, max), theta: 10000, dynamicFactor: 4, dynamicOriginal: 16,
    }, TOL_ROPE);
  }

  for (const [n, d] of [[1, 1], [1, 2], [3, 3], [5, 8], [7, 15], [8, 16], [2, 17], [9, 31], [4, 33], [3, 127], [16, 768], [2, 1]] as const) {
    l.add('sinusoidal', `N=${n} D=${d}`, { positions: Tensor.fromArray('i32', [n], ints(n, l.seed(), 0, 2048)), dim: d }, TOL_SINUSOIDAL);
  }
  return l.cases;
}
