// WGSL kernels for linear: out = act(x . W^T + bias): tiled.ts's shared-tile matmul for M > 4, a
// matrix-vector kernel for decode (M <= 4). W is read in its own dtype (f32, f16 as WGSL
// f16 when the device has shader-f16, bf16, i8 with row scales, q8_0 and the other GGUF block
// formats dequantized in the kernel).

import '../../ops/linear.js';
import type { Activation } from '../../ops/linear.js';
import { fail } from '../../ops/check.js';
import { ACTIVATIONS_WGSL } from './elementwise.js';
import { PRELUDE, halfWordLoader, signedByteLoader } from '../wgsl.js';
import { grid, type KernelContext, type KernelTable } from './context.js';
import { WebGPUWeight } from '../weight.js';
import { WEIGHT_FORMATS } from '../../../tensor/formats.js';
import type { DType } from '../../../tensor/dtype.js';
import { TILE, tiledMain } from './tiled.js';
import { BLOCK_LOADERS } from './block-loaders.js';
import type { GPUTensor } from '../buffers.js';

/** Largest M that takes the matrix-vector kernel (it keeps M accumulators per invocation). */
const GEMV_MAX_M = 4;
const GEMV_WG = 64;

interface WeightLoader {
  readonly decl: string;
  readonly fn: string;
  readonly enable: string;
}

const IDX = 'let i = n * p.k + k;';
// The q8_0 block geometry from the weight-format table (a block is Q8_BYTES bytes: f16 d, then
// Q8_BLOCK int8 q), written into the WGSL below.
const Q8 = WEIGHT_FORMATS.q8_0;
const Q8_BLOCK = `${Q8.blockSize}u`;
const Q8_BYTES = `${Q8.blockBytes}u`;

/**
 * The WebGPU kernels of each weight dtype: the binding declaration of W and `fn wload(n, k) -> f32`
 * (q8_0 adds block-at-a-time loaders). A dtype with no entry has no WebGPU kernel.
 */
const WEIGHT_LOADERS: Readonly<Partial<Record<DType, (nativeF16: boolean) => WeightLoader>>> = {
  f32: () => ({ enable: '', decl: 'array<f32>', fn: `fn wload(n: u32, k: u32) -> f32 { return w[n * p.k + k]; }` }),
  f16: (nativeF16) =>
    nativeF16
      ? { enable: 'enable f16;', decl: 'array<f16>', fn: `fn wload(n: u32, k: u32) -> f32 { return f32(w[n * p.k + k]); }` }
      : // Without shader-f16: the f16 pair builtin (every f16 value is exact in f32).
        { enable: '', decl: 'array<u32>', fn: `fn wload(n: u32, k: u32) -> f32 { ${IDX} return unpack2x16float(w[i >> 1u])[i & 1u]; }` },
  bf16: () => ({ enable: '', decl: 'array<u32>', fn: `${halfWordLoader('word', 'w')}fn wload(n: u32, k: u32) -> f32 { return bitcast<f32>(bf16_to_f32_bits(word(n * p.k + k))); }` }),
  i8: () => ({ enable: '', decl: 'array<u32>', fn: `${signedByteLoader('sbyte', 'w')}fn wload(n: u32, k: u32) -> f32 { ${IDX} return f32(sbyte(i)) * scales[n]; }` }),
  // GGUF Q8_0: per block, an f16 scale d then the int8 q; value = q * d.
  q8_0: () => ({
    enable: '',
    decl: 'array<u32>',
    fn: `${halfWordLoader('word', 'w')}${signedByteLoader('sbyte', 'w')}
fn wload(n: u32, k: u32) -> f32 {
  ${IDX}
  let blk = i / ${Q8_BLOCK};
  let off = blk * ${Q8_BYTES};
  let d = bitcast<f32>(f16_to_f32_bits(word(off >> 1u)));
  return f32(sbyte(off + 2u + (i % ${Q8_BLOCK}))) * d;
}
// A block at a time (the CPU-adapter kernels): the scale d of block b of row n, and its quants
// 4j..4j+3 from one whole word (blocks are ${Q8.blockBytes} bytes, so half of them start mid-word: then two
// words are spliced).
fn q8_scale(n: u32, b: u32) -> f32 {
  return bitcast<f32>(f16_to_f32_bits(word((n * (p.k / ${Q8_BLOCK}) + b) * ${Q8.blockBytes / 2}u)));
}
fn q8_quad(n: u32, b: u32, j: u32) -> vec4<f32> {
  let at = (n * (p.k / ${Q8_BLOCK}) + b) * ${Q8_BYTES} + 2u + 4u * j;
  let shift = (at & 3u) * 8u;
  var qw = w[at >> 2u];
  if (shift != 0u) { qw = (qw >> shift) | (w[(at >> 2u) + 1u] << (32u - shift)); }
  return vec4<f32>(f32(bitcast<i32>(qw << 24u) >> 24u), f32(bitcast<i32>(qw << 16u) >> 24u), f32(bitcast<i32>(qw << 8u) >> 24u), f32(bitcast<i32>(qw) >> 24u));
}`,
  }),
  // The other GGUF block formats (legacy, k-quants, IQ4): dequantized one value at a time in the
  // shader (block-loaders.ts).
  ...BLOCK_LOADERS,
};

/** Whether linear has a WebGPU kernel that reads weights of `dtype` as stored. */
export function hasWebGPULinear(dtype: DType): boolean {
  return WEIGHT_LOADERS[dtype] !== undefined;
}

/** Binding declaration of W and `fn wload(n, k) -> f32` for a weight dtype. */
function weightLoader(dtype: string, nativeF16: boolean): WeightLoader {
  const loader = WEIGHT_LOADERS[dtype as DType];
  return loader ? loader(nativeF16) : fail('linear', `'weight' dtype ${dtype} has no WebGPU kernel`, 'type');
}

const ACT_FN: Record<Activation, string> = { none: '', gelu: 'gelu_erf', gelu_tanh: 'gelu_tanh', silu: 'silu', relu: 'relu_f32', tanh: 'tanh_f32' };

function header(dtype: string, nativeF16: boolean, hasBias: boolean, act: Activation): string {
  const wl = weightLoader(dtype, nativeF16);
  const lines = [
    '@group(0) @binding(0) var<storage, read> x: array<f32>;',
    `@group(0) @binding(1) var<storage, read> w: ${wl.decl};`,
  ];
  if (dtype === 'i8') lines.push(`@group(0) @binding(${lines.length}) var<storage, read> scales: array<f32>;`);
  if (hasBias) lines.push(`@group(0) @binding(${lines.length}) var<storage, read> bias: array<f32>;`);
  lines.push(`@group(0) @binding(${lines.length}) var<storage, read_write> o: array<f32>;`);
  lines.push(`@group(0) @binding(${lines.length}) var<uniform> p: P;`);
  lines.push('struct P { m: u32, n: u32, k: u32, gx: u32 }');
  const code = `${wl.enable}
${PRELUDE}${ACTIVATIONS_WGSL}
${lines.join('\n')}
${wl.fn}
fn epilogue(v: f32, n: u32) -> f32 {
  ${hasBias ? 'let r = v + bias[n];' : 'let r = v;'}
  return ${ACT_FN[act]}(r);
}`;
  return code;
}

function tiledCode(dtype: string, nativeF16: boolean, hasBias: boolean, act: Activation): string {
  return `${header(dtype, nativeF16, hasBias, act)}
${tiledMain({
  a: (m, k) => `x[${m} * p.k + ${k}]`,
  b: (n, k) => `wload(${n}, ${k})`,
  store: (m, n, acc) => `o[${m} * p.n + ${n}] = epilogue(${acc}, ${n});`,
})}`;
}

/** WGSL vec4 of x[i], x[i + 1], x[i + 2], x[i + 3] for an index expression i. */
function xQuad(i: string): string {
  return `vec4<f32>(x[${i}], x[${i} + 1u], x[${i} + 2u], x[${i} + 3u])`;
}

const BLOCKED_LOOP = /* wgsl */ `for (var k = 0u; k < p.k; k = k + 1u) {
    let wv = vec4<f32>(wload(n0, k), wload(c1, k), wload(c2, k), wload(c3, k));
    acc[0] = acc[0] + x[r0 + k] * wv;
    acc[1] = acc[1] + x[r1 + k] * wv;
    acc[2] = acc[2] + x[r2 + k] * wv;
    acc[3] = acc[3] + x[r3 + k] * wv;
  }`;

// q8_0 a block at a time: 4 scales and 8 words per column per block instead of a scale and a
// byte per value; each row's dot products with the 4 columns are scaled once per block.
const BLOCKED_Q8_0_LOOP = /* wgsl */ `for (var b = 0u; b < p.k / ${Q8_BLOCK}; b = b + 1u) {
    ${[0, 1, 2, 3].map((i) => `var s${i} = vec4<f32>(0.0);`).join(' ')}
    for (var j = 0u; j < ${Q8.blockSize / 4}u; j = j + 1u) {
      let q0 = q8_quad(n0, b, j);
      let q1 = q8_quad(c1, b, j);
      let q2 = q8_quad(c2, b, j);
      let q3 = q8_quad(c3, b, j);
      let k = b * ${Q8_BLOCK} + j * 4u;
      ${[0, 1, 2, 3].map((i) => `let x${i} = ${xQuad(`r${i} + k`)};
      s${i} = s${i} + vec4<f32>(dot(q0, x${i}), dot(q1, x${i}), dot(q2, x${i}), dot(q3, x${i}));`).join('\n      ')}
    }
    let d = vec4<f32>(q8_scale(n0, b), q8_scale(c1, b), q8_scale(c2, b), q8_scale(c3, b));
    ${[0, 1, 2, 3].map((i) => `acc[${i}] = acc[${i}] + d * s${i};`).join(' ')}
  }`;

function blockedCode(dtype: string, nativeF16: boolean, hasBias: boolean, act: Activation): string {
  // Barrier-free: each invocation owns a 4x4 output block and reads x and W straight from memory.
  // For CPU-backed adapters, where workgroup memory is ordinary memory and barriers are the cost.
  // Loop bounds are constants (edge rows and columns are clamped on load, skipped on store) so the
  // accumulators stay in registers instead of per-lane memory.
  return `${header(dtype, nativeF16, hasBias, act)}
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= p.m || n0 >= p.n) { return; }
  var acc: array<vec4<f32>, 4>;
  let r0 = m0 * p.k;
  let r1 = min(m0 + 1u, p.m - 1u) * p.k;
  let r2 = min(m0 + 2u, p.m - 1u) * p.k;
  let r3 = min(m0 + 3u, p.m - 1u) * p.k;
  let c1 = min(n0 + 1u, p.n - 1u);
  let c2 = min(n0 + 2u, p.n - 1u);
  let c3 = min(n0 + 3u, p.n - 1u);
  ${dtype === 'q8_0' ? BLOCKED_Q8_0_LOOP : BLOCKED_LOOP}
  for (var i = 0u; i < 4u; i = i + 1u) {
    for (var j = 0u; j < 4u; j = j + 1u) {
      if (m0 + i < p.m && n0 + j < p.n) { o[(m0 + i) * p.n + n0 + j] = epilogue(acc[i][j], n0 + j); }
    }
  }
}`;
}

function gemvCode(dtype: string, nativeF16: boolean, hasBias: boolean, act: Activation, m: number): string {
  // One invocation per output column, each walking all of K: no shared memory and no barriers,
  // which CPU-backed drivers (lavapipe) run far faster than a split-K tree reduction. M is fixed
  // per pipeline so the M accumulators are plain registers.
  const rows = Array.from({ length: m }, (_, i) => i);
  const body =
    dtype === 'q8_0'
      ? // q8_0 a block at a time; the block's dot product is scaled once, d * sum(q x).
        `for (var b = 0u; b < p.k / ${Q8_BLOCK}; b = b + 1u) {
    ${rows.map((i) => `var s${i} = 0.0;`).join(' ')}
    for (var j = 0u; j < ${Q8.blockSize / 4}u; j = j + 1u) {
      let q = q8_quad(n, b, j);
      let k = b * ${Q8_BLOCK} + j * 4u;
      ${rows.map((i) => `s${i} = s${i} + dot(q, ${xQuad(`${i}u * p.k + k`)});`).join('\n      ')}
    }
    let d = q8_scale(n, b);
    ${rows.map((i) => `a${i} = a${i} + d * s${i};`).join(' ')}
  }`
      : `for (var k = 0u; k < p.k; k = k + 1u) {
    let wv = wload(n, k);
    ${rows.map((i) => `a${i} = a${i} + x[${i}u * p.k + k] * wv;`).join(' ')}
  }`;
  return `${header(dtype, nativeF16, hasBias, act)}
@compute @workgroup_size(${GEMV_WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.y * p.gx * ${GEMV_WG}u + gid.x;
  if (n >= p.n) { return; }
  ${rows.map((i) => `var a${i} = 0.0;`).join(' ')}
  ${body}
  ${rows.map((i) => `o[${i}u * p.n + n] = epilogue(a${i}, n);`).join(' ')}
}`;
}

function recordLinear(ctx: KernelContext, x: GPUTensor, weight: WebGPUWeight, bias: GPUTensor | undefined, act: Activation, out: GPUTensor): void {
  const [n, k] = weight.shape;
  if (out.numel === 0) return;
  const m = out.numel / n;
  const dtype = weight.dtype;
  const f16 = dtype === 'f16' && ctx.hasF16;
  const gemv = m <= GEMV_MAX_M;
  const kind = gemv ? 'gemv' : ctx.cpuBacked ? 'blocked' : 'tiled';
  const key = `linear_${kind}${gemv ? m : ''}_${dtype}${f16 ? 'h' : ''}_${bias ? 'b' : ''}_${act}`;
  const pipe = ctx.pipeline(key, () =>
    kind === 'gemv' ? gemvCode(dtype, f16, bias !== undefined, act, m) : (kind === 'blocked' ? blockedCode : tiledCode)(dtype, f16, bias !== undefined, act),
  );
  const buffers: Array<GPUTensor | GPUBuffer> = [x, weight.buffer];
  if (dtype === 'i8') buffers.push(weight.scales!);
  if (bias) buffers.push(bias);
  buffers.push(out);
  if (gemv) {
    const { groups } = grid(n, GEMV_WG);
    ctx.dispatch(pipe, buffers, [m, n, k, groups[0]], groups);
  } else if (kind === 'blocked') {
    const gx = Math.ceil(n / 32);
    const gy = Math.ceil(m / 32);
    if (gx > 65535 || gy > 65535) fail('linear', `output [${m}, ${n}] is too large for one WebGPU dispatch`);
    ctx.dispatch(pipe, buffers, [m, n, k, gx], [gx, gy]);
  } else {
    const gx = Math.ceil(n / TILE);
    const gy = Math.ceil(m / TILE);
    if (gx > 65535 || gy > 65535) fail('linear', `output [${m}, ${n}] is too large for one WebGPU dispatch`);
    ctx.dispatch(pipe, buffers, [m, n, k, gx], [gx, gy]);
  }
}

export const linearKernels: KernelTable = {
  linear: (ctx, { x, weight, bias, activation }, out) => {
    if (!(weight instanceof WebGPUWeight)) fail('linear', "'weight' was packed by another backend; pack it with this backend's packWeight()", 'type');
    recordLinear(ctx, x, weight, bias, activation ?? 'none', out);
  },
};
