// WGSL kernels for the element-wise ops (add, mul with suffix broadcast, scale, gelu erf/tanh,
// silu) and the row ops (softmax, layerNorm, rmsNorm: one workgroup per row, tree reductions).

import '../../ops/elementwise.js';
import { PRELUDE, WG } from '../wgsl.js';
import { grid, type KernelContext, type KernelTable } from './context.js';
import type { GPUTensor } from '../buffers.js';

/** WGSL activation functions, also used by linear's fused epilogue. */
export const ACTIVATIONS_WGSL = /* wgsl */ `
// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): WGSL has no erf builtin.
fn erf_f32(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - poly * exp(-a * a);
  return select(r, -r, x < 0.0);
}
fn relu_f32(x: f32) -> f32 { return max(x, 0.0); }
// tanh from exp of a non-positive argument: never overflows, so large |x| gives exactly +-1.
fn tanh_f32(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let r = (1.0 - e) / (1.0 + e);
  return select(r, -r, x < 0.0);
}
fn gelu_erf(v: f32) -> f32 { return 0.5 * v * (1.0 + erf_f32(v * 0.7071067811865476)); }
fn gelu_tanh(v: f32) -> f32 { return 0.5 * v * (1.0 + tanh_f32(0.7978845608028654 * (v + 0.044715 * v * v * v))); }
fn silu(v: f32) -> f32 { return v / (1.0 + exp(-v)); }
`;

/**
 * A one-invocation-per-item kernel: f32 `inputs` (read-only), then `o` (read_write), then P with
 * n (items), nx (the grid's x extent in items) and `extraParams`; `body` sees the item index i.
 */
export function mapKernel(name: string, inputs: string[], body: string, extraParams = ''): string {
  const binds = inputs.map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`).join('\n');
  return `${PRELUDE}${ACTIVATIONS_WGSL}
${binds}
@group(0) @binding(${inputs.length}) var<storage, read_write> o: array<f32>;
struct P { n: u32, nx: u32, ${extraParams} }
@group(0) @binding(${inputs.length + 1}) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn ${name}(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.nx + g.x;
  if (i >= p.n) { return; }
  ${body}
}`;
}

function unary(ctx: KernelContext, key: string, body: string, x: GPUTensor, out: GPUTensor, extra: Array<number | { f32: number }> = [], extraDecl = ''): void {
  if (out.numel === 0) return;
  const pipe = ctx.pipeline(key, () => mapKernel('main', ['x'], body, extraDecl));
  const { groups, nx } = grid(out.numel, WG);
  ctx.dispatch(pipe, [x, out], [out.numel, nx, ...extra], groups);
}

function binary(ctx: KernelContext, op: '+' | '*', a: GPUTensor, b: GPUTensor, out: GPUTensor): void {
  if (out.numel === 0) return;
  const pipe = ctx.pipeline(`binary${op}`, () => mapKernel('main', ['a', 'b'], `o[i] = a[i] ${op} b[i % p.inner];`, 'inner: u32,'));
  const { groups, nx } = grid(out.numel, WG);
  ctx.dispatch(pipe, [a, b, out], [out.numel, nx, Math.max(b.numel, 1)], groups);
}

/**
 * Invocations per row for the row kernels: rows are short in transformers (one head's keys, one
 * hidden state), and CPU-backed drivers pay for every invocation that meets a barrier.
 */
export const ROW_WG = 64;

/**
 * Row kernels: one workgroup per row of `c` values; `red`/`flag` are the reduction scratch and
 * `helpers` WGSL functions the body calls.
 */
export function rowKernel(body: string, bindings: string[], helpers = ''): string {
  const binds = bindings.map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`).join('\n');
  return `${PRELUDE}
${binds}
@group(0) @binding(${bindings.length}) var<storage, read_write> o: array<f32>;
struct P { rows: u32, c: u32, gx: u32, eps: f32 }
@group(0) @binding(${bindings.length + 1}) var<uniform> p: P;
var<workgroup> red: array<f32, ${ROW_WG}>;
var<workgroup> flag: array<u32, ${ROW_WG}>;
${helpers}
// The max of v and the OR of f over the workgroup, left in red[0] and flag[0].
fn reduce_max_or(l: u32, v: f32, f: u32) {
  red[l] = v;
  flag[l] = f;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (l < s) { red[l] = max(red[l], red[l + s]); flag[l] = flag[l] | flag[l + s]; }
    workgroupBarrier();
  }
}
fn reduce_sum(l: u32, v: f32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (l < s) { red[l] = red[l] + red[l + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(${ROW_WG}) fn main(@builtin(workgroup_id) w: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  let row = w.y * p.gx + w.x;
  if (row >= p.rows) { return; }
  let base = row * p.c;
  ${body}
}`;
}

const SOFTMAX = rowKernel(/* wgsl */ `
  let NEG_INF = neg_inf();
  var m = NEG_INF;
  var nan = 0u;
  for (var i = l; i < p.c; i = i + ${ROW_WG}u) {
    let v = x[base + i];
    if (is_nan(v)) { nan = 1u; } else { m = max(m, v); }
  }
  reduce_max_or(l, m, nan);
  // Uniform loads: the branch below must be taken by the whole workgroup (it has barriers).
  let mx = workgroupUniformLoad(&red[0]);
  let anyNan = workgroupUniformLoad(&flag[0]);
  workgroupBarrier();
  // A NaN anywhere poisons the row; a fully masked row (all -inf) gives zeros, not NaN.
  if (anyNan != 0u || mx == NEG_INF) {
    let fillv = select(0.0, nan_f32(), anyNan != 0u);
    for (var i = l; i < p.c; i = i + ${ROW_WG}u) { o[base + i] = fillv; }
    return;
  }
  var sum = 0.0;
  for (var i = l; i < p.c; i = i + ${ROW_WG}u) { sum = sum + exp(x[base + i] - mx); }
  let total = reduce_sum(l, sum);
  let inv = 1.0 / total;
  for (var i = l; i < p.c; i = i + ${ROW_WG}u) { o[base + i] = exp(x[base + i] - mx) * inv; }
`, ['x']);

function normKernel(kind: 'layer' | 'layerNoBias' | 'rms'): string {
  const mean = kind === 'rms' ? 'let mean = 0.0;' : `
  var s1 = 0.0;
  for (var i = l; i < p.c; i = i + ${ROW_WG}u) { s1 = s1 + x[base + i]; }
  let mean = reduce_sum(l, s1) / f32(p.c);`;
  const shift = kind === 'layer' ? ' + bias[i]' : '';
  // Two passes (mean, then squared deviations) so rows with a large mean keep their precision.
  return rowKernel(/* wgsl */ `${mean}
  var s2 = 0.0;
  for (var i = l; i < p.c; i = i + ${ROW_WG}u) { let d = x[base + i] - mean; s2 = s2 + d * d; }
  let inv = 1.0 / sqrt(reduce_sum(l, s2) / f32(p.c) + p.eps);
  for (var i = l; i < p.c; i = i + ${ROW_WG}u) { o[base + i] = (x[base + i] - mean) * inv * weight[i]${shift}; }
`, kind === 'layer' ? ['x', 'weight', 'bias'] : ['x', 'weight']);
}

/** Records a rowKernel over `nrows` rows of `c` values each, one workgroup per row. */
export function recordRows(ctx: KernelContext, key: string, code: () => string, inputs: GPUTensor[], out: GPUTensor, nrows: number, c: number, eps = 0): void {
  if (nrows === 0) return;
  const { groups } = grid(nrows, 1);
  ctx.dispatch(ctx.pipeline(key, code), [...inputs, out], [nrows, c, groups[0], { f32: eps }], groups);
}

function rows(ctx: KernelContext, key: string, code: () => string, inputs: GPUTensor[], out: GPUTensor, eps: number): void {
  const c = out.shape[out.rank - 1]!;
  if (out.numel === 0) return;
  recordRows(ctx, key, code, inputs, out, out.numel / c, c, eps);
}

/** softmax over `nrows` rows of `c` values of x into out (also attentionNaive's middle pass). */
export function recordSoftmax(ctx: KernelContext, x: GPUTensor, out: GPUTensor, nrows: number, c: number): void {
  recordRows(ctx, 'softmax', () => SOFTMAX, [x], out, nrows, c);
}

export const elementwiseKernels: KernelTable = {
  add: (ctx, { a, b }, out) => binary(ctx, '+', a, b, out),
  mul: (ctx, { a, b }, out) => binary(ctx, '*', a, b, out),
  scale: (ctx, { x, s }, out) => unary(ctx, 'scale', 'o[i] = x[i] * p.s;', x, out, [{ f32: s }], 's: f32,'),
  gelu: (ctx, { x, approximate }, out) =>
    approximate === 'tanh' ? unary(ctx, 'gelu_tanh', 'o[i] = gelu_tanh(x[i]);', x, out) : unary(ctx, 'gelu_erf', 'o[i] = gelu_erf(x[i]);', x, out),
  silu: (ctx, { x }, out) => unary(ctx, 'silu', 'o[i] = silu(x[i]);', x, out),
  softmax: (ctx, { x }, out) => rows(ctx, 'softmax', () => SOFTMAX, [x], out, 0),
  layerNorm: (ctx, { x, weight, bias, eps }, out) =>
    bias
      ? rows(ctx, 'layerNorm', () => normKernel('layer'), [x, weight, bias], out, eps ?? 1e-5)
      : rows(ctx, 'layerNormNoBias', () => normKernel('layerNoBias'), [x, weight], out, eps ?? 1e-5),
  rmsNorm: (ctx, { x, weight, eps }, out) => rows(ctx, 'rmsNorm', () => normKernel('rms'), [x, weight], out, eps ?? 1e-6),
};
