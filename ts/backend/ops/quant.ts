// quantize / dequantize / rowScales: the int8 formats (q8_0 blocks, per-row i8) as ops, with the
// reference built on ts/tensor/q8.ts and i8.ts. Native results must match these bit for bit.

import type { Tensor } from '../../tensor/tensor.js';
import { dequantizeQ8_0, quantizeQ8_0 } from '../../tensor/q8.js';
import { dequantizeI8, quantizeI8WithScales, rowScalesI8 } from '../../tensor/i8.js';
import { defineOp } from '../registry.js';
import { expectShape, expectTensor, fail, shapeStr } from './check.js';

declare module '../backend.js' {
  interface OpArgs {
    /**
     * x: (..., K) f32 -> (..., K) q8_0 (K a multiple of 32), or -> (..., K) i8 with
     * scales: (...) f32 (one per row, from rowScales). Values must be finite.
     */
    quantize: { x: Tensor; dtype: 'q8_0' | 'i8'; scales?: Tensor };
    /** x: (..., K) q8_0 -> (..., K) f32, or x: (..., K) i8 with scales: (...) f32. Scales must be finite. */
    dequantize: { x: Tensor; scales?: Tensor };
    /** x: (..., K) f32 -> (...) f32: max |x| / 127 per row, NaN for a row holding NaN or Inf. */
    rowScales: { x: Tensor };
  }
}

function rowsOf(x: Tensor): [rows: number, cols: number] {
  const cols = x.shape[x.rank - 1]!;
  return [cols === 0 ? 0 : x.numel / cols, cols];
}

defineOp({
  name: 'quantize',
  output({ x, dtype, scales }) {
    expectTensor('quantize', 'x', x, ['f32']);
    if (x.rank < 1) fail('quantize', `'x' must have rank >= 1, got shape ${shapeStr(x.shape)}`);
    if (dtype !== 'q8_0' && dtype !== 'i8') fail('quantize', `'dtype' must be one of q8_0, i8, got '${String(dtype)}'`);
    if (dtype === 'q8_0' && x.shape[x.rank - 1]! % 32 !== 0)
      fail('quantize', `q8_0 needs the last dimension of 'x' to be a multiple of 32, got shape ${shapeStr(x.shape)}`);
    if (dtype === 'i8') {
      if (scales === undefined) fail('quantize', "i8 needs 'scales': one f32 per row of 'x' (see rowScales)", 'type');
      expectShape('quantize', 'scales', expectTensor('quantize', 'scales', scales, ['f32']), x.shape.slice(0, -1));
    }
    return { dtype, shape: [...x.shape] };
  },
  reference({ x, dtype, scales }, out) {
    const xv = x.toFloat32();
    if (dtype === 'q8_0') quantizeQ8_0(xv, out.data as Uint8Array);
    else quantizeI8WithScales(xv, scales!.toFloat32(), rowsOf(x)[1], out.data as Int8Array);
  },
  nativeArgs: ({ x, scales }) => (scales === undefined ? { x } : { x, scales }),
});

defineOp({
  name: 'dequantize',
  output({ x, scales }) {
    expectTensor('dequantize', 'x', x, ['q8_0', 'i8']);
    if (x.rank < 1) fail('dequantize', `'x' must have rank >= 1, got shape ${shapeStr(x.shape)}`);
    if (x.dtype === 'i8') {
      if (scales === undefined) fail('dequantize', "i8 needs 'scales': one f32 per row of 'x'", 'type');
      expectShape('dequantize', 'scales', expectTensor('dequantize', 'scales', scales, ['f32']), x.shape.slice(0, -1));
    }
    return { dtype: 'f32', shape: [...x.shape] };
  },
  reference({ x, scales }, out) {
    const o = out.data as Float32Array;
    if (x.dtype === 'q8_0') dequantizeQ8_0(x.contiguous().data as Uint8Array, o);
    else dequantizeI8(x.contiguous().data as Int8Array, scales!.toFloat32(), rowsOf(x)[1], o);
  },
  nativeArgs: ({ x, scales }) => (scales === undefined ? { x } : { x, scales }),
});

defineOp({
  name: 'rowScales',
  output({ x }) {
    expectTensor('rowScales', 'x', x, ['f32']);
    if (x.rank < 1) fail('rowScales', `'x' must have rank >= 1, got shape ${shapeStr(x.shape)}`);
    return { dtype: 'f32', shape: x.shape.slice(0, -1) };
  },
  reference({ x }, out) {
    (out.data as Float32Array).set(rowScalesI8(x.toFloat32(), out.numel, x.shape[x.rank - 1]!));
  },
});
