// GGUF's legacy 32-value blocks Q4_0, Q4_1, Q5_0 and Q5_1 (ggml-common.h: block_q4_0 ... block_q5_1,
// little-endian): reference quantize and dequantize. Dequantize is bit-exact with
// native/src/cpu/block_formats.cc (same f32 operations in the same order). Not the kernels.
//
// Q4_0: f16 d, 16 bytes of nibbles; value (q - 8) * d. Byte j holds value j (low) and j + 16 (high).
// Q4_1: f16 d, f16 m, nibbles; value q * d + m.
// Q5_0: f16 d, u32 qh (bit j: fifth bit of value j), nibbles; value (q - 16) * d.
// Q5_1: f16 d, f16 m, u32 qh, nibbles; value q * d + m.

import { f16ToF32, f32ToF16 } from './half.js';

const BLOCK = 32;
const f = Math.fround;

interface Legacy {
  readonly bits: 4 | 5;
  /** Offset form (value q * d + m) rather than symmetric ((q - 2^(bits-1)) * d). */
  readonly offset: boolean;
  readonly bytes: number;
}

const LAYOUTS = {
  q4_0: { bits: 4, offset: false, bytes: 18 },
  q4_1: { bits: 4, offset: true, bytes: 20 },
  q5_0: { bits: 5, offset: false, bytes: 22 },
  q5_1: { bits: 5, offset: true, bytes: 24 },
} as const satisfies Record<string, Legacy>;

export type LegacyName = keyof typeof LAYOUTS;

const half = (b: Uint8Array, o: number) => f16ToF32(b[o]! | (b[o + 1]! << 8));

function checkBlocks(name: string, n: number, unit: number, what: string): number {
  if (n % unit !== 0) throw new RangeError(`${name}: ${what} must be a multiple of ${unit}, got ${n}`);
  return n / unit;
}

/** Dequantizes legacy blocks of `name` into f32 values (32 per block). */
export function dequantizeLegacy(name: LegacyName, src: Uint8Array): Float32Array {
  const L = LAYOUTS[name];
  const blocks = checkBlocks(`dequantize ${name}`, src.length, L.bytes, 'byte length');
  const out = new Float32Array(blocks * BLOCK);
  for (let b = 0; b < blocks; b++) {
    const o = b * L.bytes;
    const d = half(src, o);
    const m = L.offset ? half(src, o + 2) : 0;
    const hOff = o + (L.offset ? 4 : 2);
    const qh = L.bits === 5 ? (src[hOff]! | (src[hOff + 1]! << 8) | (src[hOff + 2]! << 16) | (src[hOff + 3]! << 24)) >>> 0 : 0;
    const qs = hOff + (L.bits === 5 ? 4 : 0);
    const centre = L.offset ? 0 : 1 << (L.bits - 1);
    for (let j = 0; j < 16; j++) {
      let q0 = src[qs + j]! & 0xf;
      let q1 = src[qs + j]! >> 4;
      if (L.bits === 5) {
        q0 |= ((qh >>> j) & 1) << 4;
        q1 |= ((qh >>> (j + 16)) & 1) << 4;
      }
      const y = b * BLOCK;
      out[y + j] = L.offset ? f(f(q0 * d) + m) : f((q0 - centre) * d);
      out[y + j + 16] = L.offset ? f(f(q1 * d) + m) : f((q1 - centre) * d);
    }
  }
  return out;
}

function finite(name: string, x: ArrayLike<number>, i: number): number {
  const v = f(x[i]!);
  if (!Number.isFinite(v)) throw new RangeError(`quantize ${name}: value ${x[i]} at index ${i} is not finite`);
  return v;
}

function putHalf(name: string, out: Uint8Array, o: number, v: number, b: number): void {
  const h = f32ToF16(v);
  if ((h & 0x7c00) === 0x7c00) throw new RangeError(`quantize ${name}: block ${b} needs a scale (${v}) beyond f16's range`);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

/**
 * Quantizes `x` (length a multiple of 32) into legacy blocks. Symmetric formats take d from the
 * value of largest magnitude (it maps to q = 0, the end with one more step, as ggml does), offset
 * formats span [min, max]; quants are round-to-nearest under the f32 scale, clamped.
 */
export function quantizeLegacy(name: LegacyName, x: ArrayLike<number>): Uint8Array {
  const L = LAYOUTS[name];
  const blocks = checkBlocks(`quantize ${name}`, x.length, BLOCK, 'length');
  const out = new Uint8Array(blocks * L.bytes);
  const qmax = (1 << L.bits) - 1;
  const q = new Int32Array(BLOCK);
  for (let b = 0; b < blocks; b++) {
    const o = b * L.bytes;
    let lo = Infinity, hi = -Infinity, amax = 0, max = 0;
    for (let j = 0; j < BLOCK; j++) {
      const v = finite(name, x, b * BLOCK + j);
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    if (L.offset) {
      const d = f((hi - lo) / qmax);
      const id = d !== 0 ? f(1 / d) : 0;
      putHalf(name, out, o, d, b);
      putHalf(name, out, o + 2, lo, b);
      for (let j = 0; j < BLOCK; j++) q[j] = Math.max(0, Math.min(qmax, Math.round(f(f(x[b * BLOCK + j]! - lo) * id))));
    } else {
      const centre = 1 << (L.bits - 1);
      const d = f(max / -centre);
      const id = d !== 0 ? f(1 / d) : 0;
      putHalf(name, out, o, d, b);
      for (let j = 0; j < BLOCK; j++) q[j] = Math.max(0, Math.min(qmax, Math.round(f(f(x[b * BLOCK + j]!) * id)) + centre));
    }
    const hOff = o + (L.offset ? 4 : 2);
    const qs = hOff + (L.bits === 5 ? 4 : 0);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      out[qs + j] = (q[j]! & 0xf) | ((q[j + 16]! & 0xf) << 4);
      if (L.bits === 5) qh |= ((q[j]! >> 4) << j) | ((q[j + 16]! >> 4) << (j + 16));
    }
    if (L.bits === 5) for (let i = 0; i < 4; i++) out[hOff + i] = (qh >>> (8 * i)) & 0xff;
  }
  return out;
}
