// WGSL helpers shared by the kernels: exact half-precision conversions in integer arithmetic
// (bit-identical to ts/tensor/half.ts), a NaN test that no compiler can fold away, byte and
// 16-bit word access into u32 arrays, and sin/cos with an explicit range reduction.

/** Invocations per workgroup for the one-thread-per-element kernels. */
export const WG = 256;

export const PRELUDE = /* wgsl */ `
// Through a var: WGSL rejects non-finite values in constant expressions.
fn neg_inf() -> f32 { var b = 0xff800000u; return bitcast<f32>(b); }
fn nan_f32() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }

// By bits: float comparisons with NaN may be folded by an optimizer that assumes finite math.
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }

// f16 bits -> f32 bits, exact. Branch-free: a subnormal m * 2^-24 is exact as a normal f32, and
// a loop here made LLVM-based drivers take tens of seconds to compile the kernels that inline it.
fn f16_to_f32_bits(h: u32) -> u32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  let normal = s | ((e + 112u) << 23u) | (m << 13u);
  let sub = s | bitcast<u32>(f32(m) * 5.9604644775390625e-8);
  let special = s | 0x7f800000u | (m << 13u) | select(0u, 0x400000u, m != 0u);
  return select(select(normal, special, e == 31u), sub, e == 0u);
}

// f32 bits -> f16 bits, round to nearest even; overflow to infinity, NaN stays NaN.
fn f32_bits_to_f16(x: u32) -> u32 {
  let sign = (x >> 16u) & 0x8000u;
  let ex = (x >> 23u) & 0xffu;
  var mant = x & 0x7fffffu;
  if (ex == 0xffu) {
    if (mant == 0u) { return sign | 0x7c00u; }
    return sign | 0x7e00u | (mant >> 13u);
  }
  let e = i32(ex) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    var half = mant >> shift;
    let rem = mant & ((1u << shift) - 1u);
    let halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (half & 1u) != 0u)) { half = half + 1u; }
    return sign | half;
  }
  var half = (u32(e) << 10u) | (mant >> 13u);
  let rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u) != 0u)) { half = half + 1u; }
  return sign | half;
}

fn bf16_to_f32_bits(h: u32) -> u32 { return h << 16u; }

fn f32_bits_to_bf16(x: u32) -> u32 {
  if ((x & 0x7fffffffu) > 0x7f800000u) { return ((x >> 16u) | 0x40u) & 0xffffu; }
  return ((x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u) & 0xffffu;
}

// 2*pi in three parts for Cody-Waite reduction: 6.28125 has 8 significant bits, so k * C1 is
// exact for |k| < 2^16, and fma keeps the other products exact enough.
const TWO_PI_1: f32 = 6.28125;
const TWO_PI_2: f32 = 1.9353071693331003e-3;
const TWO_PI_3: f32 = 1.0253131677018246e-11;
const INV_TWO_PI: f32 = 0.15915494309189535;

// (cos, sin) of a + lo, where a is large (|a| < 2^16 * 2pi) and lo a small correction: the
// reduction to [-pi, pi] happens before the builtins, whose accuracy is only promised there.
fn cos_sin(a: f32, lo: f32) -> vec2<f32> {
  let k = round(a * INV_TWO_PI);
  var r = fma(-k, TWO_PI_1, a);
  r = fma(-k, TWO_PI_2, r);
  r = fma(-k, TWO_PI_3, r);
  r = r + lo;
  return vec2<f32>(cos(r), sin(r));
}
`;

/** A loader `fn <fn>(i: u32) -> u32` for 16-bit word i of a u32 array (f16/bf16 storage). */
export function halfWordLoader(fnName: string, array: string): string {
  return `fn ${fnName}(i: u32) -> u32 { return (${array}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu; }\n`;
}

/** A loader `fn <fn>(i: u32) -> i32` for signed byte i of a u32 array (i8, q8_0 storage). */
export function signedByteLoader(fnName: string, array: string): string {
  return `fn ${fnName}(i: u32) -> i32 { return (bitcast<i32>(${array}[i >> 2u] << (24u - (i & 3u) * 8u))) >> 24u; }\n`;
}

/** WGSL that reads element i of a 16-bit-per-value array as f32 bits, by dtype. */
export function halfToF32Bits(dtype: 'f16' | 'bf16', word: string): string {
  return dtype === 'f16' ? `f16_to_f32_bits(${word})` : `bf16_to_f32_bits(${word})`;
}
