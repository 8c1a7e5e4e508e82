// q8_0 blocks, byte-compatible with GGUF's Q8_0 (ggml's block_q8_0: f16 d, then int8 qs[32],
// little-endian): d = max|x| / 127 in f32, q = rne(x * (1 / d)) using that f32 d (as ggml does),
// stored scale f16(d); dequantized value q * f16(d). Rounding is half to even where ggml's
// reference uses roundf (half away from zero): the two differ only on exact ties.
// Bit-exact with native/src/cpu/quant_format.h. Not the kernels.

import { f16ToF32, f32ToF16 } from './half.js';

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** Quantizes `src` (length a multiple of 32) into q8_0 blocks. */
export function quantizeQ8_0(src: ArrayLike<number>, dst?: Uint8Array): Uint8Array {
  if (src.length % Q8_0_BLOCK !== 0) throw new RangeError(`quantizeQ8_0: length must be a multiple of 32, got ${src.length}`);
  const blocks = src.length / Q8_0_BLOCK;
  const out = dst ?? new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  if (out.length !== blocks * Q8_0_BLOCK_BYTES)
    throw new RangeError(`quantizeQ8_0: dst must have ${blocks * Q8_0_BLOCK_BYTES} bytes, got ${out.length}`);
  const q = new Int8Array(out.buffer, out.byteOffset, out.length);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const v = Math.abs(Math.fround(src[b * Q8_0_BLOCK + j]!));
      if (!Number.isFinite(v)) throw new RangeError(`quantizeQ8_0: value ${src[b * Q8_0_BLOCK + j]} at index ${b * Q8_0_BLOCK + j} is not finite`);
      if (v > amax) amax = v;
    }
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    if ((h & 0x7c00) === 0x7c00)
      throw new RangeError(`quantizeQ8_0: block ${b} has max |x| ${amax}, beyond what q8_0's f16 scale can hold (65504 * 127)`);
    const o = b * Q8_0_BLOCK_BYTES;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const v = Math.fround(Math.fround(src[b * Q8_0_BLOCK + j]!) * id);
      q[o + 2 + j] = Math.max(-127, Math.min(127, roundHalfEven(v)));
    }
  }
  return out;
}

/** Dequantizes q8_0 blocks into f32 values. */
export function dequantizeQ8_0(src: Uint8Array, dst?: Float32Array): Float32Array {
  if (src.length % Q8_0_BLOCK_BYTES !== 0)
    throw new RangeError(`dequantizeQ8_0: byte length must be a multiple of 34, got ${src.length}`);
  const blocks = src.length / Q8_0_BLOCK_BYTES;
  const out = dst ?? new Float32Array(blocks * Q8_0_BLOCK);
  if (out.length !== blocks * Q8_0_BLOCK) throw new RangeError(`dequantizeQ8_0: dst must have ${blocks * Q8_0_BLOCK} values, got ${out.length}`);
  const q = new Int8Array(src.buffer, src.byteOffset, src.length);
  for (let b = 0; b < blocks; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16ToF32(src[o]! | (src[o + 1]! << 8));
    if (!Number.isFinite(d)) throw new RangeError(`dequantizeQ8_0: block ${b} has a non-finite scale (${d})`);
    for (let j = 0; j < Q8_0_BLOCK; j++) out[b * Q8_0_BLOCK + j] = Math.fround(q[o + 2 + j]! * d);
  }
  return out;
}

export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  // Math.round rounds .5 up; move exact ties that landed on an odd number back down.
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
