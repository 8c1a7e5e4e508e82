// GGUF's k-quant super-blocks Q2_K, Q3_K, Q4_K, Q5_K and Q6_K (256 values each; ggml-common.h:
// block_q2_K ... block_q6_K, little-endian): the layouts and the reference dequantizers,
// bit-exact with native/src/cpu/block_formats.cc (same f32 operations in the same order).
// Not the quantizers (kquant-quantize.ts) and not the kernels.
//
// Q2_K  (84 B): scales[16] (4-bit scale | 4-bit min << 4), qs[64] 2-bit, f16 d, f16 dmin.
// Q3_K (110 B): hmask[32] high bits, qs[64] low 2 bits, scales[12] (16 6-bit, offset 32), f16 d.
// Q4_K (144 B): f16 d, f16 dmin, scales[12] (8 6-bit scales + 8 6-bit mins), qs[128] nibbles.
// Q5_K (176 B): f16 d, f16 dmin, scales[12], qh[32] fifth bits, qs[128] nibbles.
// Q6_K (210 B): ql[128] low nibbles, qh[64] high 2 bits, scales[16] int8, f16 d.

import { f16ToF32 } from './half.js';

export const SUPER_BLOCK = 256;
export const KQUANT_BYTES = { q2_k: 84, q3_k: 110, q4_k: 144, q5_k: 176, q6_k: 210 } as const;
export type KQuantName = keyof typeof KQUANT_BYTES;

const f = Math.fround;
const half = (b: Uint8Array, o: number) => f16ToF32(b[o]! | (b[o + 1]! << 8));

/** Scale and min (6 bits each) of sub-block j (0..7) of Q4_K / Q5_K's 12 packed scale bytes at `o`. */
export function scaleMinK4(b: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [b[o + j]! & 63, b[o + j + 4]! & 63];
  return [(b[o + j + 4]! & 0xf) | ((b[o + j - 4]! >> 6) << 4), (b[o + j + 4]! >> 4) | ((b[o + j]! >> 6) << 4)];
}

/** Signed 6-bit scale (-32..31) of sub-block j (0..15) of Q3_K's 12 packed scale bytes at `o`. */
export function scaleQ3K(b: Uint8Array, o: number, j: number): number {
  const lo = j < 8 ? b[o + j]! & 0xf : b[o + j - 8]! >> 4;
  const hi = (b[o + 8 + (j % 4)]! >> (2 * Math.floor(j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

type Decode = (src: Uint8Array, o: number, y: Float32Array, at: number) => void;

const DECODERS: Readonly<Record<KQuantName, Decode>> = {
  q2_k(src, o, y, at) {
    const d = half(src, o + 80), dmin = half(src, o + 82);
    let s = 0;
    for (let h = 0; h < 2; h++)
      for (let shift = 0; shift < 8; shift += 2)
        for (let part = 0; part < 2; part++, s++) {
          const sc = src[o + s]!;
          const dl = f(d * (sc & 0xf)), ml = f(dmin * (sc >> 4));
          for (let l = 0; l < 16; l++) y[at++] = f(f(dl * ((src[o + 16 + 32 * h + 16 * part + l]! >> shift) & 3)) - ml);
        }
  },
  q3_k(src, o, y, at) {
    const d = half(src, o + 108);
    let s = 0, bit = 0;
    for (let h = 0; h < 2; h++)
      for (let shift = 0; shift < 8; shift += 2, bit++)
        for (let part = 0; part < 2; part++, s++) {
          const dl = f(d * scaleQ3K(src, o + 96, s));
          for (let l = 0; l < 16; l++) {
            const i = 16 * part + l;
            const v = ((src[o + 32 + 32 * h + i]! >> shift) & 3) - ((src[o + i]! >> bit) & 1 ? 0 : 4);
            y[at++] = f(dl * v);
          }
        }
  },
  q4_k(src, o, y, at) {
    const d = half(src, o), dmin = half(src, o + 2);
    for (let j = 0; j < 8; j += 2) {
      const q = o + 16 + 16 * j;
      const [s1, m1] = scaleMinK4(src, o + 4, j);
      const [s2, m2] = scaleMinK4(src, o + 4, j + 1);
      const d1 = f(d * s1), n1 = f(dmin * m1), d2 = f(d * s2), n2 = f(dmin * m2);
      for (let l = 0; l < 32; l++) y[at++] = f(f(d1 * (src[q + l]! & 0xf)) - n1);
      for (let l = 0; l < 32; l++) y[at++] = f(f(d2 * (src[q + l]! >> 4)) - n2);
    }
  },
  q5_k(src, o, y, at) {
    const d = half(src, o), dmin = half(src, o + 2);
    for (let j = 0; j < 8; j += 2) {
      const q = o + 48 + 16 * j;
      const [s1, m1] = scaleMinK4(src, o + 4, j);
      const [s2, m2] = scaleMinK4(src, o + 4, j + 1);
      const d1 = f(d * s1), n1 = f(dmin * m1), d2 = f(d * s2), n2 = f(dmin * m2);
      for (let l = 0; l < 32; l++) y[at++] = f(f(d1 * ((src[q + l]! & 0xf) | (((src[o + 16 + l]! >> j) & 1) << 4))) - n1);
      for (let l = 0; l < 32; l++) y[at++] = f(f(d2 * ((src[q + l]! >> 4) | (((src[o + 16 + l]! >> (j + 1)) & 1) << 4))) - n2);
    }
  },
  q6_k(src, o, y, at) {
    const d = half(src, o + 208);
    const sc = (i: number) => (src[o + 192 + i]! << 24) >> 24;
    for (let h = 0; h < 2; h++, at += 128) {
      const ql = o + 64 * h, qh = o + 128 + 32 * h, s = 8 * h;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const a = src[ql + l]!, b = src[ql + l + 32]!, c = src[qh + l]!;
        y[at + l] = f(f(d * sc(s + is)) * (((a & 0xf) | ((c & 3) << 4)) - 32));
        y[at + l + 32] = f(f(d * sc(s + is + 2)) * (((b & 0xf) | (((c >> 2) & 3) << 4)) - 32));
        y[at + l + 64] = f(f(d * sc(s + is + 4)) * (((a >> 4) | (((c >> 4) & 3) << 4)) - 32));
        y[at + l + 96] = f(f(d * sc(s + is + 6)) * (((b >> 4) | (((c >> 6) & 3) << 4)) - 32));
      }
    }
  },
};

/** Dequantizes k-quant super-blocks of `name` into f32 values (256 per super-block). */
export function dequantizeKQuant(name: KQuantName, src: Uint8Array): Float32Array {
  const bytes = KQUANT_BYTES[name];
  if (src.length % bytes !== 0) throw new RangeError(`dequantize ${name}: byte length must be a multiple of ${bytes}, got ${src.length}`);
  const blocks = src.length / bytes;
  const out = new Float32Array(blocks * SUPER_BLOCK);
  for (let b = 0; b < blocks; b++) DECODERS[name](src, b * bytes, out, b * SUPER_BLOCK);
  return out;
}
