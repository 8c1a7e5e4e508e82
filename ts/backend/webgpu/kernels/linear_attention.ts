// WGSL kernels for linearAttention (causal, phi(x) = elu(x) + 1), both forms as the op defines
// them. First phi(q) and phi(k) into scratch; then
//   parallel:  one invocation per (i, h, 16 value columns) sums w_ij = phi(q_i).phi(k_j) over
//              j <= i: O(T^2 D) with the dot product shared by the 16 columns;
//   recurrent: one invocation per (h, column c of the state S = sum phi(k) v^T) walks t in order,
//              with c = D the column of ones that carries z = sum phi(k); no barriers, since the
//              columns never read each other. A last pass divides by the denominators.

import '../../ops/attention.js';
import { PRELUDE, WG } from '../wgsl.js';
import { grid, type KernelTable } from './context.js';
import { mapKernel } from './elementwise.js';

/** Value columns per invocation in the parallel form. */
const COLS = 16;

const FEATURES = /* wgsl */ `${PRELUDE}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read_write> fq: array<f32>;
@group(0) @binding(3) var<storage, read_write> fk: array<f32>;
struct P { n: u32, nx: u32 }
@group(0) @binding(4) var<uniform> p: P;
fn phi(x: f32) -> f32 { return select(exp(x), x + 1.0, x > 0.0); }
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.nx + g.x;
  if (i >= p.n) { return; }
  fq[i] = phi(q[i]);
  fk[i] = phi(k[i]);
}`;

/** Bindings shared by the two forms: phi(q), phi(k), v, then the output and P. */
function formDecls(out: string): string {
  return `${PRELUDE}
@group(0) @binding(0) var<storage, read> fq: array<f32>;
@group(0) @binding(1) var<storage, read> fk: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
${out}
struct P { t: u32, h: u32, d: u32, items: u32, nx: u32 }`;
}

const PARALLEL = /* wgsl */ `${formDecls('@group(0) @binding(3) var<storage, read_write> o: array<f32>;\n@group(0) @binding(4) var<uniform> p: P;')}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let it = gid.y * p.nx + gid.x;
  if (it >= p.items) { return; }
  let blocks = (p.d + ${COLS - 1}u) / ${COLS}u;
  let row = it / blocks;
  let c0 = (it - row * blocks) * ${COLS}u;
  let i = row / p.h;
  let h = row - i * p.h;
  let qo = row * p.d;
  var acc: array<f32, ${COLS}>;
  var den = 0.0;
  for (var j = 0u; j <= i; j = j + 1u) {
    let ko = (j * p.h + h) * p.d;
    var w = 0.0;
    for (var a = 0u; a < p.d; a = a + 1u) { w = w + fq[qo + a] * fk[ko + a]; }
    den = den + w;
    for (var c = 0u; c < ${COLS}u; c = c + 1u) {
      if (c0 + c < p.d) { acc[c] = acc[c] + w * v[ko + c0 + c]; }
    }
  }
  for (var c = 0u; c < ${COLS}u; c = c + 1u) {
    if (c0 + c < p.d) { o[qo + c0 + c] = acc[c] / den; }
  }
}`;

// S is (H, D, D + 1) with the column index fastest, so neighbouring invocations touch
// neighbouring words. Column c = D holds z and its outputs are the denominators.
const RECURRENT = /* wgsl */ `${formDecls(`@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read_write> den: array<f32>;
@group(0) @binding(5) var<storage, read_write> s: array<f32>;
@group(0) @binding(6) var<uniform> p: P;`)}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let it = gid.y * p.nx + gid.x;
  if (it >= p.items) { return; }
  let w = p.d + 1u;
  let h = it / w;
  let c = it - h * w;
  let so = h * p.d * w + c;
  for (var a = 0u; a < p.d; a = a + 1u) { s[so + a * w] = 0.0; }
  for (var t = 0u; t < p.t; t = t + 1u) {
    let base = (t * p.h + h) * p.d;
    var vt = 1.0;
    if (c < p.d) { vt = v[base + c]; }
    var num = 0.0;
    for (var a = 0u; a < p.d; a = a + 1u) {
      let sv = s[so + a * w] + fk[base + a] * vt;
      s[so + a * w] = sv;
      num = num + fq[base + a] * sv;
    }
    if (c < p.d) { o[base + c] = num; } else { den[t * p.h + h] = num; }
  }
}`;

const DIVIDE = mapKernel('main', ['den'], 'o[i] = o[i] / den[i / p.d];', 'd: u32,');

export const linearAttentionKernels: KernelTable = {
  linearAttention: (ctx, { q, k, v, form }, out) => {
    if (out.numel === 0) return;
    const [t, h, d] = out.shape as [number, number, number];
    const n = out.numel;
    const fq = ctx.scratch('f32', [t, h, d]);
    const fk = ctx.scratch('f32', [t, h, d]);
    const all = grid(n, WG);
    ctx.dispatch(ctx.pipeline('linear_attention_phi', () => FEATURES), [q, k, fq, fk], [n, all.nx], all.groups);
    if ((form ?? 'parallel') === 'parallel') {
      const items = t * h * Math.ceil(d / COLS);
      const g = grid(items, WG);
      ctx.dispatch(ctx.pipeline('linear_attention_parallel', () => PARALLEL), [fq, fk, v, out], [t, h, d, items, g.nx], g.groups);
      return;
    }
    const den = ctx.scratch('f32', [t, h]);
    const state = ctx.scratch('f32', [h, d, d + 1]);
    const items = h * (d + 1);
    const g = grid(items, WG);
    ctx.dispatch(ctx.pipeline('linear_attention_recurrent', () => RECURRENT), [fq, fk, v, out, den, state], [t, h, d, items, g.nx], g.groups);
    ctx.dispatch(ctx.pipeline('linear_attention_divide', () => DIVIDE), [den, out], [n, all.nx, d], all.groups);
  },
};
