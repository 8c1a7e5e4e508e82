// Harness cases for cast (bit-exact round-to-nearest-even conversions).
import { Tensor } from '../../../ts/tensor/tensor.js';
import type { OpCase } from '../ops-harness.js';
import { normals } from '../rng.js';
import { TOL_EXACT } from '../tolerance.js';
import { AWKWARD, CaseList } from './util.js';

export function castCases(): OpCase[] {
  const l = new CaseList(2000);
  for (const s of [...AWKWARD.map((n) => [n]), [3, 33]]) {
    const v = normals(s.reduce((a, b) => a * b, 1), l.seed(), 100);
    if (v.length > 2) {
      v[0] = 65520; // rounds to f16 infinity
      v[1] = 1e-8; // f16 subnormal range
    }
    l.add('cast', `f32->f16 [${s}]`, { x: Tensor.fromValues(v, s), dtype: 'f16' }, TOL_EXACT);
    l.add('cast', `f32->bf16 [${s}]`, { x: Tensor.fromValues(v, s), dtype: 'bf16' }, TOL_EXACT);
    l.add('cast', `f16->f32 [${s}]`, { x: Tensor.fromValues(v, s, 'f16'), dtype: 'f32' }, TOL_EXACT);
    l.add('cast', `bf16->f16 [${s}]`, { x: Tensor.fromValues(v, s, 'bf16'), dtype: 'f16' }, TOL_EXACT);
  }
  return l.cases;
}
