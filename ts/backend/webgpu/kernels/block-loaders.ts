// WGSL weight loaders `fn wload(n, k) -> f32` for GGUF Q4_0, Q4_K and Q6_K weights read as stored
// (dequantized in the shader, one value at a time, as ts/tensor/legacy-quants.ts and kquants.ts
// define them), for linear's generic kernels. Not the kernels themselves (linear.ts).

import { halfWordLoader, signedByteLoader } from '../wgsl.js';

export interface BlockLoader {
  readonly enable: string;
  readonly decl: string;
  readonly fn: string;
}

const IDX = 'let i = n * p.k + k;';
const BYTES = `fn ubyte(i: u32) -> u32 { return (w[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu; }
fn half_at(byte: u32) -> f32 { return bitcast<f32>(f16_to_f32_bits(word(byte >> 1u))); }
`;
const PRE = `${halfWordLoader('word', 'w')}${signedByteLoader('sbyte', 'w')}${BYTES}`;

export const BLOCK_LOADERS = {
  // 18-byte blocks of 32: f16 d, 16 bytes of nibbles (value j low, j + 16 high); (q - 8) * d.
  q4_0: (): BlockLoader => ({
    enable: '',
    decl: 'array<u32>',
    fn: `${PRE}fn wload(n: u32, k: u32) -> f32 {
  ${IDX}
  let off = (i / 32u) * 18u;
  let j = i % 32u;
  let b = ubyte(off + 2u + (j % 16u));
  let q = select(b & 15u, b >> 4u, j >= 16u);
  return f32(i32(q) - 8) * half_at(off);
}`,
  }),
  // 144-byte super-blocks: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 of nibbles.
  q4_k: (): BlockLoader => ({
    enable: '',
    decl: 'array<u32>',
    fn: `${PRE}fn wload(n: u32, k: u32) -> f32 {
  ${IDX}
  let off = (i / 256u) * 144u;
  let v = i % 256u;
  let j = v / 32u;
  let s = off + 4u;
  var sc: u32;
  var m: u32;
  if (j < 4u) {
    sc = ubyte(s + j) & 63u;
    m = ubyte(s + j + 4u) & 63u;
  } else {
    sc = (ubyte(s + j + 4u) & 15u) | ((ubyte(s + j - 4u) >> 6u) << 4u);
    m = (ubyte(s + j + 4u) >> 4u) | ((ubyte(s + j) >> 6u) << 4u);
  }
  let b = ubyte(off + 16u + (v / 64u) * 32u + v % 32u);
  let q = select(b >> 4u, b & 15u, v % 64u < 32u);
  return (half_at(off) * f32(sc)) * f32(q) - half_at(off + 2u) * f32(m);
}`,
  }),
  // 210-byte super-blocks: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 int8 scales, f16 d.
  q6_k: (): BlockLoader => ({
    enable: '',
    decl: 'array<u32>',
    fn: `${PRE}fn wload(n: u32, k: u32) -> f32 {
  ${IDX}
  let off = (i / 256u) * 210u;
  let v = i % 256u;
  let h = v / 128u;
  let g = (v % 128u) / 32u;
  let l = v % 32u;
  let b = ubyte(off + 64u * h + l + (g & 1u) * 32u);
  let lo = select(b >> 4u, b & 15u, g < 2u);
  let hi = (ubyte(off + 128u + 32u * h + l) >> (2u * g)) & 3u;
  let q = i32(lo | (hi << 4u)) - 32;
  let sc = sbyte(off + 192u + 8u * h + l / 16u + 2u * g);
  return (half_at(off + 208u) * f32(sc)) * f32(q);
}`,
  }),
} as const;
