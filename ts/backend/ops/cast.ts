// Dtype conversion between f32, f16 and bf16, round-to-nearest-even, bit-exact across backends.

import type { Tensor } from '../../tensor/tensor.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../tensor/half.js';
import { defineOp } from '../registry.js';
import { expectTensor, fail } from './check.js';

declare module '../backend.js' {
  interface OpArgs {
    /** x: (...) f32 | f16 | bf16 -> (...) of `dtype` (f32 | f16 | bf16). */
    cast: { x: Tensor; dtype: 'f32' | 'f16' | 'bf16' };
  }
}

defineOp({
  name: 'cast',
  output({ x, dtype }) {
    expectTensor('cast', 'x', x, ['f32', 'f16', 'bf16']);
    if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') fail('cast', `'dtype' must be one of f32, f16, bf16, got '${String(dtype)}'`);
    return { dtype, shape: [...x.shape] };
  },
  reference({ x, dtype }, out) {
    const xv = x.contiguous().data;
    const o = out.data;
    for (let i = 0; i < xv.length; i++) {
      const v = x.dtype === 'f16' ? f16ToF32(xv[i]!) : x.dtype === 'bf16' ? bf16ToF32(xv[i]!) : xv[i]!;
      o[i] = dtype === 'f16' ? f32ToF16(v) : dtype === 'bf16' ? f32ToBf16(v) : v;
    }
  },
  nativeArgs: ({ x }) => ({ x }),
});
