// Bit-exact f32 <-> f16 / bf16 conversion with round-to-nearest-even, identical to
// native/src/half.h (a test compares the two on random bit patterns).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 value -> f16 bits. NaN stays NaN (quiet, sign and top payload bits kept, as F16C does). */
export function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half += 1;
  return sign | half;
}

/** f16 bits -> f32 value (exact). */
export function f16ToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) {
      u32[0] = sign >>> 0;
      return f32[0]!;
    }
    let e = -1;
    do {
      mant <<= 1;
      e++;
    } while ((mant & 0x400) === 0);
    mant &= 0x3ff;
    u32[0] = (sign | ((127 - 15 - e) << 23) | (mant << 13)) >>> 0;
    return f32[0]!;
  }
  if (exp === 0x1f) {
    u32[0] = (sign | 0x7f800000 | (mant << 13) | (mant !== 0 ? 0x400000 : 0)) >>> 0;
    return f32[0]!;
  }
  u32[0] = (sign | ((exp + 127 - 15) << 23) | (mant << 13)) >>> 0;
  return f32[0]!;
}

/** f32 value -> bf16 bits, round-to-nearest-even; NaN becomes a quiet NaN. */
export function f32ToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  const rounding = 0x7fff + ((x >>> 16) & 1);
  return ((x + rounding) >>> 16) & 0xffff;
}

/** bf16 bits -> f32 value (exact). */
export function bf16ToF32(h: number): number {
  u32[0] = (h << 16) >>> 0;
  return f32[0]!;
}

export function f32ArrayToF16(src: ArrayLike<number>, dst = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToF16(src[i]!);
  return dst;
}

export function f16ArrayToF32(src: ArrayLike<number>, dst = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) dst[i] = f16ToF32(src[i]!);
  return dst;
}

export function f32ArrayToBf16(src: ArrayLike<number>, dst = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToBf16(src[i]!);
  return dst;
}

export function bf16ArrayToF32(src: ArrayLike<number>, dst = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) dst[i] = bf16ToF32(src[i]!);
  return dst;
}
