// WGSL kernels for embedding (gather, bit-exact for f32/f16/bf16 tables), rope and sinusoidal.
// Frequency tables (one value per rotated pair) come from the host, computed exactly as the
// reference does; angles, sin/cos and the rotations run on the device.

import { longestPosition, ropeInvFreq } from '../../ops/position.js';
import { PRELUDE, WG, halfToF32Bits, halfWordLoader, signedByteLoader } from '../wgsl.js';
import { grid, type KernelTable } from './context.js';

function embeddingCode(dtype: 'f32' | 'f16' | 'bf16' | 'q8_0'): string {
  // q8_0 rows hold whole blocks (34 bytes: f16 d, 32 int8), so flat value src is in block src / 32;
  // q * d is one correctly rounded f32 product, as the reference computes it.
  const load =
    dtype === 'f32' ? 'let bits = table[src];'
    : dtype === 'q8_0' ? `let off = (src >> 5u) * 34u;
  let bits = bitcast<u32>(f32(sbyte(off + 2u + (src & 31u))) * bitcast<f32>(f16_to_f32_bits(word(off >> 1u))));`
    : `let bits = ${halfToF32Bits(dtype, 'word(src)')};`;
  return `${PRELUDE}
@group(0) @binding(0) var<storage, read> table: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> o: array<u32>;
struct P { n: u32, nx: u32, c: u32 }
@group(0) @binding(3) var<uniform> p: P;
${dtype === 'f32' ? '' : halfWordLoader('word', 'table')}${dtype === 'q8_0' ? signedByteLoader('sbyte', 'table') : ''}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.nx + g.x;
  if (i >= p.n) { return; }
  let t = i / p.c;
  let src = u32(ids[t]) * p.c + (i - t * p.c);
  ${load}
  o[i] = bits;
}`;
}

// One invocation per (token, head, pair): copies the pass-through tail when the pair index
// runs past the rotated half.
const ROPE = `${PRELUDE}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> pos: array<i32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
struct P { n: u32, nx: u32, h: u32, d: u32, half: u32, interleaved: u32, work: u32, scale: f32, dyn_base: f32 }
@group(0) @binding(4) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.nx + g.x;
  if (i >= p.n) { return; }
  // work = half + (d - 2 * half): rotated pairs then pass-through columns, per (token, head).
  let th = i / p.work;
  let j = i - th * p.work;
  let t = th / p.h;
  let base = th * p.d;
  if (j >= p.half) {
    let col = 2u * p.half + (j - p.half);
    o[base + col] = x[base + col];
    return;
  }
  // The angle is one f32 product, as the reference rounds it.
  // Dynamic NTK's base changes with every pass's length: its frequencies are computed here
  // (WGSL's pow, within a few ulp of the host's) rather than kept as one table per length.
  let f = select(inv_freq[j], 1.0 / pow(p.dyn_base, f32(2u * j) / f32(2u * p.half)), p.dyn_base > 0.0);
  let ang = f32(pos[t]) * f;
  let cs = cos_sin(ang, 0.0) * p.scale;
  let i0 = select(j, 2u * j, p.interleaved != 0u);
  let i1 = select(j + p.half, 2u * j + 1u, p.interleaved != 0u);
  let x0 = x[base + i0];
  let x1 = x[base + i1];
  o[base + i0] = x0 * cs.x - x1 * cs.y;
  o[base + i1] = x1 * cs.x + x0 * cs.y;
}`;

// The reference angle p * base^(-2i/dim) is an f64: the frequency arrives as an f32 pair
// (hi + lo) and the product's rounding error is recovered with fma, so the reduced angle is
// accurate to f32 precision even at positions in the thousands.
const SINUSOIDAL = `${PRELUDE}
@group(0) @binding(0) var<storage, read> pos: array<i32>;
@group(0) @binding(1) var<storage, read> freq: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
struct P { n: u32, nx: u32, dim: u32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.nx + g.x;
  if (i >= p.n) { return; }
  let t = i / p.dim;
  let j = i - t * p.dim;
  let f = freq[j >> 1u];
  let pf = f32(pos[t]);
  let a = pf * f.x;
  let err = fma(pf, f.x, -a) + pf * f.y;
  let cs = cos_sin(a, err);
  o[i] = select(cs.x, cs.y, (j & 1u) == 0u);
}`;

export const positionKernels: KernelTable = {
  embedding: (ctx, { table, ids }, out) => {
    if (out.numel === 0) return;
    const dtype = table.dtype as 'f32' | 'f16' | 'bf16' | 'q8_0';
    const { groups, nx } = grid(out.numel, WG);
    ctx.dispatch(ctx.pipeline(`embedding_${dtype}`, () => embeddingCode(dtype)), [table, ids, out], [out.numel, nx, table.shape[1]!], groups);
  },
  rope: (ctx, { x, positions, invFreq, invFreqLong }, out, host) => {
    if (out.numel === 0) return;
    const [n, h, d] = x.shape as [number, number, number];
    const rd = host.rotaryDim ?? d;
    const half = rd / 2;
    const theta = host.theta ?? 10000;
    // The positions are on the host (HOST_CHECKED): the pass's longest one picks the table, as
    // the reference's ropeInvFreq does; given tables are already on the device.
    const L = longestPosition(host.positions.contiguous().data as Int32Array);
    const long = invFreqLong !== undefined && host.longFrom !== undefined && L > host.longFrom;
    const dynamic = host.dynamicFactor !== undefined && host.dynamicOriginal !== undefined && L > host.dynamicOriginal;
    const inv = long ? invFreqLong! : invFreq ?? ctx.constant(`rope_${theta}_${rd}`, () => ropeInvFreq(theta, rd, 0, {}));
    const f = host.dynamicFactor ?? 1;
    const dynBase = dynamic ? Math.fround(theta * ((f * L) / host.dynamicOriginal! - (f - 1)) ** (rd / (rd - 2))) : 0;
    const work = half + (d - rd);
    const items = n * h * work;
    if (items === 0) return;
    const { groups, nx } = grid(items, WG);
    ctx.dispatch(ctx.pipeline('rope', () => ROPE), [x, positions, inv, out], [items, nx, h, d, half, host.interleaved ? 1 : 0, work, { f32: host.scale ?? 1 }, { f32: dynBase }], groups);
  },
  sinusoidal: (ctx, { positions }, out, host) => {
    if (out.numel === 0) return;
    const dim = out.shape[1]!;
    const base = host.base ?? 10000;
    const freq = ctx.constant(`sinusoidal_${base}_${dim}`, () => {
      const pairs = Math.ceil(dim / 2);
      const t = new Float32Array(2 * pairs);
      for (let i = 0; i < pairs; i++) {
        const f = base ** (-(2 * i) / dim);
        t[2 * i] = f;
        t[2 * i + 1] = f - t[2 * i]!;
      }
      return t;
    });
    const { groups, nx } = grid(out.numel, WG);
    ctx.dispatch(ctx.pipeline('sinusoidal', () => SINUSOIDAL), [positions, freq, out], [out.numel, nx, dim], groups);
  },
};
