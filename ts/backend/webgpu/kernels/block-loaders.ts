// WGSL weight loaders `fn wload(n, k) -> f32` for the GGUF block formats other than Q8_0 (legacy
// Q4_0, Q4_1, Q5_0, Q5_1; k-quants Q2_K..Q6_K; IQ4_NL, IQ4_XS), read as stored: dequantized in
// the shader, one value at a time, as ts/tensor/legacy-quants.ts, kquants.ts and iq4-quants.ts
// define them, for linear's generic kernels. Not the kernels themselves (linear.ts).
//
// Row n's blocks start at byte (n * K / block) * blockBytes: K is a multiple of the block, so flat
// value i = n * K + k lies in flat block i / block.

import { halfWordLoader, signedByteLoader } from '../wgsl.js';
import { IQ4_CODEBOOK } from '../../../tensor/iq4-quants.js';

export interface BlockLoader {
  readonly enable: string;
  readonly decl: string;
  readonly fn: string;
}

const IDX = 'let i = n * p.k + k;';
const BYTES = `fn ubyte(i: u32) -> u32 { return (w[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu; }
fn half_at(byte: u32) -> f32 { return bitcast<f32>(f16_to_f32_bits(word(byte >> 1u))); }
fn u32_at(byte: u32) -> u32 { return ubyte(byte) | (ubyte(byte + 1u) << 8u) | (ubyte(byte + 2u) << 16u) | (ubyte(byte + 3u) << 24u); }
`;
// Blocks of 18, 22 and 110 bytes start at even offsets only, so every f16 sits in one 16-bit word.
const PRE = `${halfWordLoader('word', 'w')}${signedByteLoader('sbyte', 'w')}${BYTES}`;

/** IQ4's 16 int8 levels packed four to a word, as WGSL constants (no runtime-indexed const array). */
function codebookFn(): string {
  const words = [0, 1, 2, 3].map((w) => {
    let v = 0;
    for (let j = 0; j < 4; j++) v |= (IQ4_CODEBOOK[4 * w + j]! & 0xff) << (8 * j);
    return `0x${(v >>> 0).toString(16)}u`;
  });
  return `fn iq4_level(q: u32) -> f32 {
  let lo = select(${words[0]}, ${words[1]}, q >= 4u);
  let hi = select(${words[2]}, ${words[3]}, q >= 12u);
  let wd = select(lo, hi, q >= 8u);
  return f32(bitcast<i32>(wd << (24u - 8u * (q & 3u))) >> 24u);
}
`;
}

/** The nibble of value j (0..31) of a 32-value group whose 16 bytes start at `at`: j low, j + 16 high. */
const NIBBLE32 = `fn nibble32(at: u32, j: u32) -> u32 {
  let b = ubyte(at + (j % 16u));
  return select(b & 15u, b >> 4u, j >= 16u);
}
`;

function loader(body: string, extra = ''): () => BlockLoader {
  return () => ({ enable: '', decl: 'array<u32>', fn: `${PRE}${extra}fn wload(n: u32, k: u32) -> f32 {
  ${IDX}
${body}
}` });
}

/** The 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K's 12 scale bytes at `s`. */
const SCALE_MIN_K4 = `fn scale_min_k4(s: u32, j: u32) -> vec2<f32> {
  if (j < 4u) { return vec2<f32>(f32(ubyte(s + j) & 63u), f32(ubyte(s + j + 4u) & 63u)); }
  let sc = (ubyte(s + j + 4u) & 15u) | ((ubyte(s + j - 4u) >> 6u) << 4u);
  let m = (ubyte(s + j + 4u) >> 4u) | ((ubyte(s + j) >> 6u) << 4u);
  return vec2<f32>(f32(sc), f32(m));
}
`;

export const BLOCK_LOADERS = {
  // 18-byte blocks of 32: f16 d, 16 bytes of nibbles (value j low, j + 16 high); (q - 8) * d.
  q4_0: loader(`  let off = (i / 32u) * 18u;
  return f32(i32(nibble32(off + 2u, i % 32u)) - 8) * half_at(off);`, NIBBLE32),
  // 20-byte blocks: f16 d, f16 m, nibbles; q * d + m.
  q4_1: loader(`  let off = (i / 32u) * 20u;
  return f32(nibble32(off + 4u, i % 32u)) * half_at(off) + half_at(off + 2u);`, NIBBLE32),
  // 22-byte blocks: f16 d, u32 qh (bit j: fifth bit of value j), nibbles; (q - 16) * d.
  q5_0: loader(`  let off = (i / 32u) * 22u;
  let j = i % 32u;
  let q = nibble32(off + 6u, j) | (((u32_at(off + 2u) >> j) & 1u) << 4u);
  return f32(i32(q) - 16) * half_at(off);`, NIBBLE32),
  // 24-byte blocks: f16 d, f16 m, u32 qh, nibbles; q * d + m.
  q5_1: loader(`  let off = (i / 32u) * 24u;
  let j = i % 32u;
  let q = nibble32(off + 8u, j) | (((w[(off + 4u) >> 2u] >> j) & 1u) << 4u);
  return f32(q) * half_at(off) + half_at(off + 2u);`, NIBBLE32),
  // 18-byte blocks: f16 d, nibbles as Q4_0's; d * level.
  iq4_nl: loader(`  let off = (i / 32u) * 18u;
  return half_at(off) * iq4_level(nibble32(off + 2u, i % 32u));`, NIBBLE32 + codebookFn()),
  // 136-byte super-blocks: f16 d, u16 scales_h, scales_l[4], qs[128]; sub-block ib (32 values)
  // has the 6-bit scale ls = nibble ib of scales_l | bits 2ib, 2ib + 1 of scales_h << 4; its 16
  // bytes at 8 + 16 ib as IQ4_NL's; (d * (ls - 32)) * level.
  iq4_xs: loader(`  let off = (i / 256u) * 136u;
  let v = i % 256u;
  let ib = v / 32u;
  let ls = ((ubyte(off + 4u + ib / 2u) >> (4u * (ib & 1u))) & 15u) | (((word((off + 2u) >> 1u) >> (2u * ib)) & 3u) << 4u);
  return (half_at(off) * f32(i32(ls) - 32)) * iq4_level(nibble32(off + 8u + 16u * ib, v % 32u));`, NIBBLE32 + codebookFn()),
  // 84-byte super-blocks: scales[16] (4-bit scale | 4-bit min << 4, one per 16 values), qs[64]
  // 2-bit (value 128h + 32g + l in bits 2g of byte 32h + l), f16 d, f16 dmin; d sc q - dmin m.
  q2_k: loader(`  let off = (i / 256u) * 84u;
  let v = i % 256u;
  let r = v % 128u;
  let sc = ubyte(off + v / 16u);
  let q = (ubyte(off + 16u + 32u * (v / 128u) + r % 32u) >> (2u * (r / 32u))) & 3u;
  return (half_at(off + 80u) * f32(sc & 15u)) * f32(q) - half_at(off + 82u) * f32(sc >> 4u);`),
  // 110-byte super-blocks: hmask[32] (bit 4h + g of byte l: high bit of value 128h + 32g + l),
  // qs[64] low 2 bits as Q2_K's, scales[12] (16 6-bit scales, offset 32), f16 d;
  // value (d * scale) * (low - (high ? 0 : 4)).
  q3_k: loader(`  let off = (i / 256u) * 110u;
  let v = i % 256u;
  let r = v % 128u;
  let g = r / 32u;
  let l = r % 32u;
  let s = v / 16u;
  let lo4 = select(ubyte(off + 96u + s) & 15u, ubyte(off + 96u + s - 8u) >> 4u, s >= 8u);
  let hi2 = (ubyte(off + 104u + s % 4u) >> (2u * (s / 4u))) & 3u;
  let sc = i32(lo4 | (hi2 << 4u)) - 32;
  let low = i32((ubyte(off + 32u + 32u * (v / 128u) + l) >> (2u * g)) & 3u);
  let high = (ubyte(off + l) >> (4u * (v / 128u) + g)) & 1u;
  return (half_at(off + 108u) * f32(sc)) * f32(low - select(4, 0, high != 0u));`),
  // 144-byte super-blocks: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 of nibbles.
  q4_k: loader(`  let off = (i / 256u) * 144u;
  let v = i % 256u;
  let sm = scale_min_k4(off + 4u, v / 32u);
  let b = ubyte(off + 16u + (v / 64u) * 32u + v % 32u);
  let q = select(b >> 4u, b & 15u, v % 64u < 32u);
  return (half_at(off) * sm.x) * f32(q) - half_at(off + 2u) * sm.y;`, SCALE_MIN_K4),
  // 176-byte super-blocks: as Q4_K plus qh[32] (bit j of byte l: fifth bit of value 32j + l)
  // before the nibbles.
  q5_k: loader(`  let off = (i / 256u) * 176u;
  let v = i % 256u;
  let j = v / 32u;
  let sm = scale_min_k4(off + 4u, j);
  let b = ubyte(off + 48u + (v / 64u) * 32u + v % 32u);
  let q = select(b >> 4u, b & 15u, v % 64u < 32u) | (((ubyte(off + 16u + v % 32u) >> j) & 1u) << 4u);
  return (half_at(off) * sm.x) * f32(q) - half_at(off + 2u) * sm.y;`, SCALE_MIN_K4),
  // 210-byte super-blocks: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 int8 scales, f16 d.
  q6_k: loader(`  let off = (i / 256u) * 210u;
  let v = i % 256u;
  let h = v / 128u;
  let g = (v % 128u) / 32u;
  let l = v % 32u;
  let b = ubyte(off + 64u * h + l + (g & 1u) * 32u);
  let lo = select(b >> 4u, b & 15u, g < 2u);
  let hi = (ubyte(off + 128u + 32u * h + l) >> (2u * g)) & 3u;
  let q = i32(lo | (hi << 4u)) - 32;
  let sc = sbyte(off + 192u + 8u * h + l / 16u + 2u * g);
  return (half_at(off + 208u) * f32(sc)) * f32(q);`),
} as const;
