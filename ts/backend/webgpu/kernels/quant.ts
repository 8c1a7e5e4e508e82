// WGSL kernels for the int8 formats, bit-exact with ts/tensor/q8.ts and i8.ts: dequantize (one
// invocation per value; q * d is one correctly rounded f32 product), quantize (q8_0: one
// invocation per pair of blocks, 68 bytes = 17 whole words; i8: one per word of 4 values) and
// rowScales (one workgroup per row, max |x| by tree reduction, which is exact in any order).
// Scales d = max / 127 and 1 / d are divided with div_rn, so they round as the reference does.

import '../../ops/quant.js';
import { Tensor } from '../../../tensor/tensor.js';
import { fail } from '../../ops/check.js';
import { f32ToF16 } from '../../../tensor/half.js';
import { PRELUDE, WG, halfWordLoader, signedByteLoader } from '../wgsl.js';
import { grid, type KernelTable } from './context.js';
import { ROW_WG, recordRows, rowKernel } from './elementwise.js';

/**
 * a / b rounded to nearest for finite a >= 0, b > 0 and a normal quotient. Vulkan lets a driver's
 * division be 2.5 ulp off, so the quotient's neighbours within 2 ulp are compared by their
 * residual a - q * b, which fma gives exactly near the true quotient. Exact ties cannot occur for
 * these operands (max / 127 and 1 / d).
 */
const DIV_RN = /* wgsl */ `
fn div_rn(a: f32, b: f32) -> f32 {
  let q0 = a / b;
  var best = q0;
  var err = abs(fma(-q0, b, a));
  for (var k = -2; k <= 2; k = k + 1) {
    let q = bitcast<f32>(bitcast<i32>(q0) + k);
    let e = abs(fma(-q, b, a));
    if (q >= 0.0 && e < err) { best = q; err = e; }
  }
  return best;
}
// The reference's int8 step: round half to even (WGSL's round), clamped to [-127, 127]; a NaN
// (only from a non-finite scale on a device-resident input) gives 0.
fn quant(x: f32, id: f32) -> i32 {
  let r = round(x * id);
  if (is_nan(r)) { return 0; }
  return i32(clamp(r, -127.0, 127.0));
}
`;

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

// Block scale d = max|x| / 127 (f32, used to quantize), stored as f16(d); a block holding a
// non-finite value (possible only for device-resident input) is stored as zeros, as native does.
const QUANTIZE_Q8_0 = /* wgsl */ `${PRELUDE}${DIV_RN}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<u32>;
struct P { blocks: u32, nx: u32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let pair = g.y * p.nx + g.x;
  if (2u * pair >= p.blocks) { return; }
  var bytes: array<u32, 68>;
  for (var half = 0u; half < 2u; half = half + 1u) {
    let blk = 2u * pair + half;
    let at = half * 34u;
    if (blk >= p.blocks) {
      for (var j = 0u; j < 34u; j = j + 1u) { bytes[at + j] = 0u; }
      continue;
    }
    var amax = 0.0;
    var finite = true;
    for (var j = 0u; j < 32u; j = j + 1u) {
      let a = abs(x[blk * 32u + j]);
      finite = finite && a <= 3.4028234663852886e38;
      amax = max(amax, a);
    }
    var d = 0.0;
    var id = 0.0;
    if (finite) { d = div_rn(amax, 127.0); }
    if (d != 0.0) { id = div_rn(1.0, d); }
    let h = f32_bits_to_f16(bitcast<u32>(d));
    bytes[at] = h & 0xffu;
    bytes[at + 1u] = h >> 8u;
    for (var j = 0u; j < 32u; j = j + 1u) {
      var qv = 0;
      if (finite) { qv = quant(x[blk * 32u + j], id); }
      bytes[at + 2u + j] = u32(qv) & 0xffu;
    }
  }
  for (var w = 0u; w < 17u; w = w + 1u) {
    o[pair * 17u + w] = bytes[4u * w] | (bytes[4u * w + 1u] << 8u) | (bytes[4u * w + 2u] << 16u) | (bytes[4u * w + 3u] << 24u);
  }
}`;

// Value e of row e / cols, scaled by that row's 1 / d; four values per output word.
const QUANTIZE_I8 = /* wgsl */ `${PRELUDE}${DIV_RN}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scales: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<u32>;
struct P { n: u32, nx: u32, cols: u32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let w = g.y * p.nx + g.x;
  if (4u * w >= p.n) { return; }
  var word = 0u;
  for (var b = 0u; b < 4u; b = b + 1u) {
    let e = 4u * w + b;
    if (e < p.n) {
      let d = scales[e / p.cols];
      var id = 0.0;
      if (d != 0.0) { id = div_rn(1.0, d); }
      word = word | ((u32(quant(x[e], id)) & 0xffu) << (8u * b));
    }
  }
  o[w] = word;
}`;

// max |x| / 127 per row; NaN for a row holding NaN or Inf.
const ROW_SCALES = rowKernel(/* wgsl */ `
  var m = 0.0;
  var bad = 0u;
  for (var i = l; i < p.c; i = i + ${ROW_WG}u) {
    let a = abs(x[base + i]);
    if (a <= 3.4028234663852886e38) { m = max(m, a); } else { bad = 1u; }
  }
  reduce_max_or(l, m, bad);
  if (l == 0u) { o[row] = select(div_rn(red[0], 127.0), nan_f32(), flag[0] != 0u); }
`, ['x'], DIV_RN);

/** The reference's value checks, for inputs given from the host (device-resident ones cannot be read). */
function checkQuantizeHost(x: Tensor, dtype: 'q8_0' | 'i8', scales: unknown): void {
  const v = x.toFloat32();
  const why = dtype === 'q8_0' ? 'q8_0 cannot represent it' : 'int8 cannot represent it';
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) fail('quantize', `'x' holds a non-finite value at flat index ${i}; ${why}`);
  if (dtype === 'q8_0') {
    for (let b = 0; b < v.length / 32; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(v[b * 32 + j]!));
      if ((f32ToF16(Math.fround(amax / 127)) & 0x7c00) === 0x7c00) fail('quantize', `'x' block ${b} has max |x| above 65504 * 127, beyond q8_0's f16 scale`);
    }
  } else if (scales instanceof Tensor) {
    const s = scales.toFloat32();
    const bad = s.findIndex((d) => !Number.isFinite(d));
    if (bad >= 0) fail('quantize', `'scales'[${bad}] is not finite; a row scale must be a finite number`);
  }
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
  quantize: (ctx, { x, dtype, scales }, out, host) => {
    if (host.x instanceof Tensor) checkQuantizeHost(host.x, dtype, host.scales);
    if (out.numel === 0) return;
    if (dtype === 'q8_0') {
      const blocks = out.numel / 32;
      const { groups, nx } = grid(Math.ceil(blocks / 2), WG);
      ctx.dispatch(ctx.pipeline('quantize_q8_0', () => QUANTIZE_Q8_0), [x, out], [blocks, nx], groups);
      return;
    }
    const { groups, nx } = grid(Math.ceil(out.numel / 4), WG);
    ctx.dispatch(ctx.pipeline('quantize_i8', () => QUANTIZE_I8), [x, scales!, out], [out.numel, nx, x.shape[x.rank - 1]!], groups);
  },
  rowScales: (ctx, { x }, out) => {
    if (out.numel === 0) return;
    recordRows(ctx, 'row_scales', () => ROW_SCALES, [x], out, out.numel, x.shape[x.rank - 1]!);
  },
};
