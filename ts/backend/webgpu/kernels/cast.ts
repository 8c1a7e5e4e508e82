// WGSL kernel for cast between f32, f16 and bf16, in integer arithmetic so the result is
// bit-identical to the reference (round to nearest even, NaN and subnormals as ts/tensor/half.ts).

import '../../ops/cast.js';
import { PRELUDE, WG, halfToF32Bits, halfWordLoader } from '../wgsl.js';
import { grid, type KernelTable } from './context.js';

type Float = 'f32' | 'f16' | 'bf16';

/** WGSL expression: f32 bits of input element `idx`. */
function loadBits(from: Float, idx: string): string {
  return from === 'f32' ? `x[${idx}]` : halfToF32Bits(from, `word(${idx})`);
}

function castCode(from: Float, to: Float): string {
  const toHalf = (bits: string) => (to === 'f16' ? `f32_bits_to_f16(${bits})` : `f32_bits_to_bf16(${bits})`);
  // 16-bit outputs: one invocation writes one u32 (two values); the odd tail's upper half is 0.
  const body =
    to === 'f32'
      ? `if (i >= p.n) { return; }\n  o[i] = ${loadBits(from, 'i')};`
      : `if (2u * i >= p.n) { return; }
  let lo = ${toHalf(loadBits(from, '2u * i'))};
  var hi = 0u;
  if (2u * i + 1u < p.n) { hi = ${toHalf(loadBits(from, '2u * i + 1u'))}; }
  o[i] = lo | (hi << 16u);`;
  return `${PRELUDE}
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> o: array<u32>;
struct P { n: u32, nx: u32 }
@group(0) @binding(2) var<uniform> p: P;
${from === 'f32' ? '' : halfWordLoader('word', 'x')}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.nx + g.x;
  ${body}
}`;
}

export const castKernels: KernelTable = {
  cast: (ctx, { x, dtype }, out) => {
    if (out.numel === 0) return;
    const from = x.dtype as Float;
    const items = dtype === 'f32' ? out.numel : Math.ceil(out.numel / 2);
    const { groups, nx } = grid(items, WG);
    ctx.dispatch(ctx.pipeline(`cast_${from}_${dtype}`, () => castCode(from, dtype)), [x, out], [out.numel, nx], groups);
  },
};
