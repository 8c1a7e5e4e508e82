// WGSL kernel for dequantize: q8_0 blocks or per-row i8 (with f32 row scales) to f32, one
// invocation per value; q * d is one correctly rounded f32 product, as the reference rounds it.

import '../../ops/quant.js';
import { PRELUDE, WG, halfWordLoader, signedByteLoader } from '../wgsl.js';
import { grid, type KernelTable } from './context.js';

function dequantizeCode(dtype: 'q8_0' | 'i8'): string {
  const value =
    dtype === 'q8_0'
      ? // Rows hold whole blocks, so flat value i is in flat block i / 32.
        `let off = (i >> 5u) * 34u;
  o[i] = f32(sbyte(off + 2u + (i & 31u))) * bitcast<f32>(f16_to_f32_bits(word(off >> 1u)));`
      : `o[i] = f32(sbyte(i)) * scales[i / p.cols];`;
  return `${PRELUDE}
@group(0) @binding(0) var<storage, read> x: array<u32>;
${dtype === 'i8' ? '@group(0) @binding(1) var<storage, read> scales: array<f32>;' : ''}
@group(0) @binding(${dtype === 'i8' ? 2 : 1}) var<storage, read_write> o: array<f32>;
struct P { n: u32, nx: u32, cols: u32 }
@group(0) @binding(${dtype === 'i8' ? 3 : 2}) var<uniform> p: P;
${halfWordLoader('word', 'x')}${signedByteLoader('sbyte', 'x')}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.nx + g.x;
  if (i >= p.n) { return; }
  ${value}
}`;
}

export const quantKernels: KernelTable = {
  dequantize: (ctx, { x, scales }, out) => {
    if (out.numel === 0) return;
    const dtype = x.dtype as 'q8_0' | 'i8';
    const { groups, nx } = grid(out.numel, WG);
    const cols = Math.max(1, x.shape[x.rank - 1]!);
    const buffers = dtype === 'i8' ? [x, scales!, out] : [x, out];
    ctx.dispatch(ctx.pipeline(`dequantize_${dtype}`, () => dequantizeCode(dtype)), buffers, [out.numel, nx, cols], groups);
  },
};
