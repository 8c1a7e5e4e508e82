// Per-output-channel symmetric int8: one f32 scale per row, d = max|x| / 127, q = rne(x / d)
// clamped to [-127, 127]; value = q * d. Bit-exact with native/src/cpu/quant_format.h.

import { roundHalfEven } from './q8.js';

/** max|x| / 127 of each row of a (rows, cols) row-major array; NaN for a row holding NaN or Inf. */
export function rowScalesI8(src: ArrayLike<number>, rows: number, cols: number): Float32Array {
  if (src.length !== rows * cols) throw new RangeError(`rowScalesI8: ${src.length} values do not fill ${rows} x ${cols}`);
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    let finite = true;
    for (let c = 0; c < cols; c++) {
      const v = Math.abs(Math.fround(src[r * cols + c]!));
      if (!Number.isFinite(v)) finite = false;
      else if (v > amax) amax = v;
    }
    out[r] = finite ? Math.fround(amax / 127) : NaN;
  }
  return out;
}

/** Quantizes each row with the given scale (finite; 0 gives zeros). Values must be finite. */
export function quantizeI8WithScales(src: ArrayLike<number>, scales: ArrayLike<number>, cols: number, dst?: Int8Array): Int8Array {
  const rows = scales.length;
  if (src.length !== rows * cols) throw new RangeError(`quantizeI8: ${src.length} values do not fill ${rows} x ${cols}`);
  const out = dst ?? new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const d = Math.fround(scales[r]!);
    if (!Number.isFinite(d)) throw new RangeError(`quantizeI8: scale ${d} of row ${r} is not finite`);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    for (let c = 0; c < cols; c++) {
      const x = Math.fround(src[r * cols + c]!);
      if (!Number.isFinite(x)) throw new RangeError(`quantizeI8: value ${x} at index ${r * cols + c} is not finite`);
      out[r * cols + c] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(x * id))));
    }
  }
  return out;
}

/** Quantizes a (rows, cols) matrix per row: the int8 values and one f32 scale per row. */
export function quantizeI8(src: ArrayLike<number>, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  const scales = rowScalesI8(src, rows, cols);
  return { q: quantizeI8WithScales(src, scales, cols), scales };
}

/** q[r, c] * scales[r] rounded to f32. Scales must be finite. */
export function dequantizeI8(q: Int8Array, scales: ArrayLike<number>, cols: number, dst?: Float32Array): Float32Array {
  const rows = scales.length;
  if (q.length !== rows * cols) throw new RangeError(`dequantizeI8: ${q.length} values do not fill ${rows} x ${cols}`);
  const out = dst ?? new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const d = Math.fround(scales[r]!);
    if (!Number.isFinite(d)) throw new RangeError(`dequantizeI8: scale ${d} of row ${r} is not finite`);
    for (let c = 0; c < cols; c++) out[r * cols + c] = Math.fround(q[r * cols + c]! * d);
  }
  return out;
}
