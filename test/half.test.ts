// f16/bf16 conversion: TypeScript (ts/tensor/half.ts) and C++ (native/src/half.h, through the
// cast op) must agree bit for bit, on every f16/bf16 pattern and on random f32 patterns.
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../ts/tensor/half.js';
import { loadAddon } from '../ts/native.js';
import { mulberry32 } from './harness/rng.js';

const addon = loadAddon();

function castNative(dtype: string, data: ArrayBufferView & { length: number }, to: string, out: Float32Array | Uint16Array) {
  addon.op('cast', { x: { dtype, shape: [data.length], data }, out: { dtype: to, shape: [out.length], data: out } });
}

/** Random f32 bit patterns plus the special and boundary values of both formats. */
function f32Patterns(): Uint32Array {
  const r = mulberry32(42);
  const special = [
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff,
    0x477fe000, 0x477fefff, 0x477ff000, 0x47800000, // around f16 max 65504 and its rounding edge
    0x33800000, 0x33000000, 0x33000001, 0x387fc000, 0x38800000, // f16 subnormal/normal edges
    0x3f800000, 0x3f801000, 0x3f803000, 0x3f808000, 0x3f818000, // ties to even at f16 and bf16 precision
    0x00000001, 0x007fffff, 0x7f7fffff, 0xff7fffff,
  ];
  const out = new Uint32Array(200_000 + special.length);
  out.set(special);
  for (let i = special.length; i < out.length; i++) out[i] = Math.floor(r() * 2 ** 32) >>> 0;
  return out;
}

describe('f16 and bf16 conversion', () => {
  it('f32 -> f16 is bit-identical in TypeScript and C++ (round to nearest even)', () => {
    const bits = f32Patterns();
    const values = new Float32Array(bits.buffer);
    const native = new Uint16Array(values.length);
    castNative('f32', values, 'f16', native);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) if (f32ToF16(values[i]!) !== native[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('f32 -> bf16 is bit-identical in TypeScript and C++', () => {
    const bits = f32Patterns();
    const values = new Float32Array(bits.buffer);
    const native = new Uint16Array(values.length);
    castNative('f32', values, 'bf16', native);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) if (f32ToBf16(values[i]!) !== native[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('all 65536 f16 and bf16 patterns widen identically and round-trip exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    for (const dtype of ['f16', 'bf16'] as const) {
      const native = new Float32Array(65536);
      castNative(dtype, all, 'f32', native);
      const widen = dtype === 'f16' ? f16ToF32 : bf16ToF32;
      const narrow = dtype === 'f16' ? f32ToF16 : f32ToBf16;
      let mismatches = 0;
      for (let h = 0; h < 65536; h++) {
        const t = widen(h);
        const nv = native[h]!;
        if (Number.isNaN(t) ? !Number.isNaN(nv) : !Object.is(t, nv)) mismatches++;
        // Every non-NaN pattern survives f32 and back; NaN stays NaN.
        const back = narrow(t);
        if (Number.isNaN(t) ? !Number.isNaN(widen(back)) : back !== h) mismatches++;
      }
      expect(mismatches, dtype).toBe(0);
    }
  });

  it('known values', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds to infinity
    expect(f32ToF16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie to even: zero
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f16ToF32(0x3555)).toBeCloseTo(0.33325, 5);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie to even stays at 1
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie to even rounds up
    expect(bf16ToF32(0xc000)).toBe(-2);
  });
});
