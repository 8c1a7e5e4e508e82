// Harness cases for quantize / dequantize / rowScales: bit-exact against the TypeScript formats,
// on awkward shapes, exact rounding ties, all-zero blocks, tiny and large scales.
import { Tensor } from '../../../ts/tensor/tensor.js';
import { rowScalesI8 } from '../../../ts/tensor/i8.js';
import { f32ToF16 } from '../../../ts/tensor/half.js';
import type { OpCase } from '../ops-harness.js';
import { ints, normals } from '../rng.js';
import { TOL_EXACT } from '../tolerance.js';
import { AWKWARD, CaseList } from './util.js';

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Values whose quantized forms land exactly on .5 ties: block max 127 makes the step exactly 1. */
function ties(n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = i % 32 === 0 ? 127 : ((i % 13) - 6) + 0.5;
  return v;
}

/** Random q8_0 bytes: int8 values over the whole range (-128 included) and finite f16 scales. */
function randomQ8Bytes(shape: readonly number[], seed: number): Tensor {
  const blocks = numel(shape) / 32;
  const bytes = new Uint8Array(ints(blocks * 34, seed, 0, 256));
  const d = normals(blocks, seed + 1, 0.05);
  for (let b = 0; b < blocks; b++) {
    const h = f32ToF16(d[b]!);
    bytes[b * 34] = h & 0xff;
    bytes[b * 34 + 1] = h >>> 8;
  }
  return Tensor.fromArray('q8_0', shape, bytes);
}

export function quantCases(): OpCase[] {
  const l = new CaseList(9000);
  // q8_0: last dimension a multiple of 32.
  const q8Shapes: number[][] = [[32], [1, 32], [3, 64], [5, 96], [7, 128], [2, 3, 160], [17, 32], [31, 64], [33, 256], [127, 32], [8, 768], [1, 4096]];
  for (const s of q8Shapes) {
    const x = l.f32(s, 3);
    l.add('quantize', `q8_0 ${JSON.stringify(s)}`, { x, dtype: 'q8_0' }, TOL_EXACT);
    l.add('dequantize', `q8_0 from quantize ${JSON.stringify(s)}`, { x: x.to('q8_0') }, TOL_EXACT);
    l.add('dequantize', `q8_0 random bytes ${JSON.stringify(s)}`, { x: randomQ8Bytes(s, l.seed()) }, TOL_EXACT);
  }
  l.add('quantize', 'q8_0 exact ties round half to even [4, 64]', { x: Tensor.fromValues(ties(256), [4, 64]), dtype: 'q8_0' }, TOL_EXACT);
  const special = normals(128, l.seed(), 1);
  special.fill(0, 0, 32); // an all-zero block: scale 0, quants 0
  for (let i = 32; i < 64; i++) special[i]! *= 1e-6; // scale in f16's subnormal range
  for (let i = 64; i < 96; i++) special[i]! *= 1e5; // large but representable
  l.add('quantize', 'q8_0 zero, tiny and large blocks [128]', { x: Tensor.fromValues(special, [128]), dtype: 'q8_0' }, TOL_EXACT);
  // Per-row int8: any last dimension.
  const i8Shapes: number[][] = [...AWKWARD.map((n, i) => [AWKWARD[(i + 3) % AWKWARD.length]!, n]), [2, 3, 17], [1, 768]];
  for (const s of i8Shapes) {
    const x = l.f32(s, 2);
    const rows = numel(s) / s[s.length - 1]!;
    const scales = Tensor.fromValues(rowScalesI8(x.toFloat32(), rows, s[s.length - 1]!), s.slice(0, -1));
    l.add('rowScales', `${JSON.stringify(s)}`, { x }, TOL_EXACT);
    l.add('quantize', `i8 ${JSON.stringify(s)}`, { x, dtype: 'i8', scales }, TOL_EXACT);
    const q = Tensor.fromArray('i8', s, new Int8Array(ints(numel(s), l.seed(), -128, 128)));
    l.add('dequantize', `i8 ${JSON.stringify(s)}`, { x: q, scales }, TOL_EXACT);
  }
  l.add('quantize', 'i8 exact ties round half to even [2, 64]', {
    x: Tensor.fromValues(ties(128), [2, 64]), dtype: 'i8', scales: Tensor.fromValues([1, 1], [2]),
  }, TOL_EXACT);
  l.add('quantize', 'i8 scale 0 gives zeros [3, 5]', { x: l.f32([3, 5]), dtype: 'i8', scales: Tensor.fromValues([0, 1, 0], [3]) }, TOL_EXACT);
  l.add('rowScales', 'NaN row [3, 33]', { x: l.f32([3, 33], 1, true) }, TOL_EXACT);
  l.add('rowScales', 'empty rows [4, 0]', { x: Tensor.zeros('f32', [4, 0]) }, TOL_EXACT);
  return l.cases;
}
