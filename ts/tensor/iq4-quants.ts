// GGUF's non-linear 4-bit formats IQ4_NL and IQ4_XS (ggml-common.h: block_iq4_nl, block_iq4_xs,
// kvalues_iq4nl): layouts, reference dequantizers (bit-exact with native/src/cpu/block_formats.cc,
// the same f32 operations in the same order) and reference quantizers. Not the kernels.
//
// A 4-bit index q picks one of 16 fixed int8 levels, IQ4_CODEBOOK[q], denser near zero.
// IQ4_NL  (18 B, 32 values): f16 d, qs[16]; value d * level. Byte j: index of value j (low
//   nibble) and of value j + 16 (high), as Q4_0.
// IQ4_XS (136 B, 256 values): f16 d, u16 scales_h, scales_l[4], qs[128]; 8 sub-blocks of 32, each
//   with a 6-bit scale ls = (nibble ib of scales_l) | (bits 2ib..2ib+1 of scales_h) << 4; value
//   (d * (ls - 32)) * level; sub-block ib's 16 bytes of qs at 16 ib are laid out as IQ4_NL's.

import { f16ToF32, f32ToF16 } from './half.js';

/** ggml's kvalues_iq4nl: the 16 levels of an index, ascending. */
export const IQ4_CODEBOOK: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

export const IQ4_BYTES = { iq4_nl: 18, iq4_xs: 136 } as const;
export const IQ4_BLOCK = { iq4_nl: 32, iq4_xs: 256 } as const;
export type IQ4Name = keyof typeof IQ4_BYTES;

const f = Math.fround;
const half = (b: Uint8Array, o: number) => f16ToF32(b[o]! | (b[o + 1]! << 8));

/** The 6-bit scale (0..63; the multiplier is ls - 32) of sub-block ib (0..7) of an IQ4_XS block at `o`. */
export function scaleIq4Xs(b: Uint8Array, o: number, ib: number): number {
  const scalesH = b[o + 2]! | (b[o + 3]! << 8);
  return ((b[o + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
}

/** 32 values under scale dl from 16 bytes of indices at `q`. */
function decode32(src: Uint8Array, q: number, dl: number, y: Float32Array, at: number): void {
  for (let j = 0; j < 16; j++) {
    y[at + j] = f(dl * IQ4_CODEBOOK[src[q + j]! & 0xf]!);
    y[at + j + 16] = f(dl * IQ4_CODEBOOK[src[q + j]! >> 4]!);
  }
}

/** Dequantizes IQ4_NL or IQ4_XS blocks into f32 values. */
export function dequantizeIq4(name: IQ4Name, src: Uint8Array): Float32Array {
  const bytes = IQ4_BYTES[name], block = IQ4_BLOCK[name];
  if (src.length % bytes !== 0) throw new RangeError(`dequantize ${name}: byte length must be a multiple of ${bytes}, got ${src.length}`);
  const blocks = src.length / bytes;
  const out = new Float32Array(blocks * block);
  for (let b = 0; b < blocks; b++) {
    const o = b * bytes;
    const d = half(src, o);
    if (name === 'iq4_nl') decode32(src, o + 2, d, out, b * block);
    else for (let ib = 0; ib < 8; ib++) decode32(src, o + 8 + 16 * ib, f(d * (scaleIq4Xs(src, o, ib) - 32)), out, b * block + 32 * ib);
  }
  return out;
}

/** The index of the level nearest to v (ties to the lower level). */
function nearest(v: number): number {
  let lo = 0;
  for (let i = 1; i < 16; i++) if (Math.abs(IQ4_CODEBOOK[i]! - v) < Math.abs(IQ4_CODEBOOK[lo]! - v)) lo = i;
  return lo;
}

/** Candidate scales tried: the range's own times 1 + STEP * s for s in [-STEPS, STEPS]. */
const STEPS = 8;
const STEP = 0.03;

/**
 * Best scale for 32 values at x[at..]: the value of largest magnitude mapped to the level -127
 * (the far end) times each candidate factor; per candidate the nearest levels are picked, then
 * the scale refitted to them by least squares; the candidate of least squared error wins.
 */
function fitScale(x: Float64Array, at: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < 32; j++)
    if (Math.abs(x[at + j]!) > amax) {
      amax = Math.abs(x[at + j]!);
      max = x[at + j]!;
    }
  if (amax === 0) return 0;
  let best = max / IQ4_CODEBOOK[0]!, bestErr = Infinity;
  for (let s = -STEPS; s <= STEPS; s++) {
    const d0 = (max / IQ4_CODEBOOK[0]!) * (1 + STEP * s);
    let sxl = 0, sll = 0;
    for (let j = 0; j < 32; j++) {
      const l = IQ4_CODEBOOK[nearest(x[at + j]! / d0)]!;
      sxl += x[at + j]! * l;
      sll += l * l;
    }
    const d = sxl / sll;
    let err = 0;
    for (let j = 0; j < 32; j++) {
      const e = d * IQ4_CODEBOOK[nearest(x[at + j]! / d)]! - x[at + j]!;
      err += e * e;
    }
    if (err < bestErr) {
      bestErr = err;
      best = d;
    }
  }
  return best;
}

function putHalf(name: string, out: Uint8Array, o: number, v: number, b: number): number {
  const h = f32ToF16(v);
  if ((h & 0x7c00) === 0x7c00) throw new RangeError(`quantize ${name}: block ${b} needs a scale (${v}) beyond f16's range`);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
  return f16ToF32(h);
}

/** 32 values at x[at..] as the nearest levels under the stored scale dl, into 16 bytes at `q`. */
function encode32(x: Float64Array, at: number, dl: number, out: Uint8Array, q: number): void {
  const id = dl !== 0 ? 1 / dl : 0;
  for (let j = 0; j < 16; j++) out[q + j] = nearest(x[at + j]! * id) | (nearest(x[at + j + 16]! * id) << 4);
}

/**
 * Quantizes `x` (length a multiple of the format's block) into IQ4_NL or IQ4_XS blocks. IQ4_XS:
 * the sub-block scales are fitted alone, then quantized to 6 bits under d = (the largest one) / -32,
 * and the values requantized under the stored scales. Not bit-compatible with llama.cpp's
 * quantizer (no format requires that).
 */
export function quantizeIq4(name: IQ4Name, x: ArrayLike<number>): Uint8Array {
  const bytes = IQ4_BYTES[name], block = IQ4_BLOCK[name];
  if (x.length % block !== 0) throw new RangeError(`quantize ${name}: length must be a multiple of ${block}, got ${x.length}`);
  const blocks = x.length / block;
  const out = new Uint8Array(blocks * bytes);
  const v = new Float64Array(block);
  const scales = new Float64Array(8);
  for (let b = 0; b < blocks; b++) {
    const o = b * bytes;
    for (let j = 0; j < block; j++) {
      v[j] = f(x[b * block + j]!);
      if (!Number.isFinite(v[j])) throw new RangeError(`quantize ${name}: value ${x[b * block + j]} at index ${b * block + j} is not finite`);
    }
    if (name === 'iq4_nl') {
      encode32(v, 0, putHalf(name, out, o, fitScale(v, 0), b), out, o + 2);
      continue;
    }
    let smax = 0;
    for (let ib = 0; ib < 8; ib++) {
      scales[ib] = fitScale(v, 32 * ib);
      if (Math.abs(scales[ib]!) > Math.abs(smax)) smax = scales[ib]!;
    }
    const d = putHalf(name, out, o, smax / -32, b);
    const id = d !== 0 ? 1 / d : 0;
    let scalesH = 0;
    for (let ib = 0; ib < 8; ib++) {
      const l = Math.max(-32, Math.min(31, Math.round(scales[ib]! * id)));
      const ls = l + 32;
      out[o + 4 + (ib >> 1)] = out[o + 4 + (ib >> 1)]! | ((ls & 0xf) << (4 * (ib & 1)));
      scalesH |= (ls >> 4) << (2 * ib);
      encode32(v, 32 * ib, f(d * l), out, o + 8 + 16 * ib);
    }
    out[o + 2] = scalesH & 0xff;
    out[o + 3] = scalesH >> 8;
  }
  return out;
}
