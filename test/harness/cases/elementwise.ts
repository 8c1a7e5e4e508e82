// Harness cases for add, mul, scale, gelu, silu, softmax, layerNorm, rmsNorm.
import { Tensor } from '../../../ts/tensor/tensor.js';
import type { OpCase } from '../ops-harness.js';
import { normals } from '../rng.js';
import { AWKWARD, CaseList } from './util.js';

export function elementwiseCases(): OpCase[] {
  const l = new CaseList(1);
  const flat = [...AWKWARD.map((n) => [n]), [0], [7, 33], [3, 5, 127], [70001]];
  for (const s of flat) {
    l.add('add', `[${s}]`, { a: l.f32(s), b: l.f32(s) });
    l.add('mul', `[${s}]`, { a: l.f32(s), b: l.f32(s) });
    l.add('scale', `[${s}]`, { x: l.f32(s), s: -1.75 });
    l.add('gelu', `erf [${s}]`, { x: l.f32(s, 3, true) });
    l.add('gelu', `tanh [${s}]`, { x: l.f32(s, 3, true), approximate: 'tanh' });
    l.add('silu', `[${s}]`, { x: l.f32(s, 3, true) });
  }
  // Broadcast of a row (bias add) and of a trailing block.
  for (const [rows, c] of [[3, 1], [5, 17], [2, 33], [17, 127]] as const) {
    l.add('add', `broadcast [${rows},${c}] + [${c}]`, { a: l.f32([rows, c]), b: l.f32([c]) });
    l.add('mul', `broadcast [${rows},${c}] * [${c}]`, { a: l.f32([rows, c]), b: l.f32([c]) });
  }
  l.add('add', 'broadcast [2,3,5] + [3,5]', { a: l.f32([2, 3, 5]), b: l.f32([3, 5]) });
  // erf GELU over its whole range: the vector kernels' erfc form switches nothing by sign, and
  // its tail (|x| up to 12, where erfc underflows towards 1e-33) must stay within TOL_F32 too.
  l.add('gelu', 'erf ramp [-12, 12]', { x: Tensor.fromValues(Array.from({ length: 2401 }, (_, i) => -12 + i * 0.01), [2401]) });
  l.add('gelu', 'erf NaN and zeros', { x: Tensor.fromValues([NaN, 0, -0, 1e-30, -1e-30, 3.5, NaN], [7]) });
  l.add('add', 'inf parity', {
    a: Tensor.fromValues([Infinity, -Infinity, NaN, 1, Infinity], [5]),
    b: Tensor.fromValues([1, 2, 3, NaN, -Infinity], [5]),
  });

  const rows = [...AWKWARD.map((c) => [3, c]), [1, 1024], [2, 5, 33], [4, 4097]];
  for (const s of rows) {
    const c = s.at(-1)!;
    l.add('softmax', `[${s}]`, { x: l.f32(s, 4) });
    l.add('layerNorm', `[${s}]`, { x: l.f32(s, 2), weight: l.f32([c]), bias: l.f32([c]), eps: 1e-5 });
    l.add('rmsNorm', `[${s}]`, { x: l.f32(s, 2), weight: l.f32([c]), eps: 1e-6 });
  }
  l.add('layerNorm', 'no bias [5,33]', { x: l.f32([5, 33]), weight: l.f32([33]) });
  l.add('layerNorm', 'offset mean [4,100]', { x: Tensor.fromValues(normals(400, 99).map((v) => v + 50), [4, 100]), weight: l.f32([100]) });
  // Masked rows: -inf entries, a fully masked row (zeros, never NaN), a NaN row, a huge logit.
  const v = normals(4 * 17, 7, 3);
  v[2] = -Infinity;
  for (let i = 17; i < 34; i++) v[i] = -Infinity;
  v[40] = NaN;
  v[60] = 1e30;
  l.add('softmax', 'masked rows [4,17]', { x: Tensor.fromValues(v, [4, 17]) });
  l.add('softmax', 'long row [1,8192]', { x: l.f32([1, 8192], 30) });
  return l.cases;
}
