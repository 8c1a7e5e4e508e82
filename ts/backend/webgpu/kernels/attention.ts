// WGSL kernels for fused attention with an online softmax (running max and sum), so no (Tq, Tk)
// score matrix exists: one workgroup per (query, head) over key tiles of 64 for GPUs, one
// invocation per (query, head) for CPU-backed adapters. Prefill and decode (Tq = 1 on a cache
// prefix) are the same kernel; K/V are f32 or f16.

import '../../ops/attention.js';
import { checkAttention } from '../../ops/attention.js';
import { PRELUDE, halfWordLoader } from '../wgsl.js';
import { grid, type KernelTable } from './context.js';

/** Keys per tile = invocations per workgroup. */
const BK = 64;

/** `dims` = output columns each invocation owns (ceil(D / 64)), fixed per pipeline. */
function attentionCode(kv: 'f32' | 'f16', hasMask: boolean, dims: number): string {
  const load = kv === 'f32' ? (arr: string, i: string) => `${arr}[${i}]` : (arr: string, i: string) => `bitcast<f32>(f16_to_f32_bits(${arr}_word(${i})))`;
  const elem = kv === 'f32' ? 'f32' : 'u32';
  return `${PRELUDE}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kk: array<${elem}>;
@group(0) @binding(2) var<storage, read> vv: array<${elem}>;
${hasMask ? '@group(0) @binding(3) var<storage, read> mask: array<f32>;' : ''}
@group(0) @binding(${hasMask ? 4 : 3}) var<storage, read_write> o: array<f32>;
struct P { tq: u32, tk: u32, hq: u32, hkv: u32, d: u32, causal: u32, q_offset: i32, scale: f32, gx: u32 }
@group(0) @binding(${hasMask ? 5 : 4}) var<uniform> p: P;
${kv === 'f16' ? halfWordLoader('kk_word', 'kk') + halfWordLoader('vv_word', 'vv') : ''}
var<workgroup> red: array<f32, ${BK}>;
var<workgroup> probs: array<f32, ${BK}>;

fn tile_max(l: u32, v: f32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = ${BK / 2}u; s > 0u; s = s >> 1u) {
    if (l < s) { red[l] = max(red[l], red[l + s]); }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red[0]);
  workgroupBarrier();
  return r;
}
fn tile_sum(l: u32, v: f32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = ${BK / 2}u; s > 0u; s = s >> 1u) {
    if (l < s) { red[l] = red[l] + red[l + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(${BK}) fn main(@builtin(workgroup_id) w: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  let row = w.y * p.gx + w.x;
  if (row >= p.tq * p.hq) { return; }
  let i = row / p.hq;
  let h = row - i * p.hq;
  let g = h / (p.hq / p.hkv);
  let qo = row * p.d;
  // Keys j < limit are visible (causal: j <= qOffset + i, clamped to [0, Tk]).
  var limit = p.tk;
  if (p.causal != 0u) { limit = u32(clamp(p.q_offset + i32(i) + 1, 0, i32(p.tk))); }
  let NEG_INF = neg_inf();
  var m = NEG_INF;
  var total = 0.0;
  var acc: array<f32, ${dims}>;
  for (var j0 = 0u; j0 < limit; j0 = j0 + ${BK}u) {
    let j = j0 + l;
    var s = NEG_INF;
    if (j < limit) {
      let ko = (j * p.hkv + g) * p.d;
      var dot = 0.0;
      for (var c = 0u; c < p.d; c = c + 1u) { dot = dot + q[qo + c] * ${load('kk', 'ko + c')}; }
      s = dot * p.scale${hasMask ? ' + mask[i * p.tk + j]' : ''};
    }
    let m_new = max(m, tile_max(l, s));
    // Nothing visible yet (all -inf so far): keep the state empty.
    if (m_new == NEG_INF) { continue; }
    var e = 0.0;
    if (s != NEG_INF) { e = exp(s - m_new); }
    probs[l] = e;
    let corr = exp(m - m_new);
    total = total * corr + tile_sum(l, e);
    let n = min(${BK}u, limit - j0);
    for (var r = 0u; r < ${dims}u; r = r + 1u) {
      let c = l + r * ${BK}u;
      if (c < p.d) {
        var a = acc[r] * corr;
        for (var t = 0u; t < n; t = t + 1u) { a = a + probs[t] * ${load('vv', '((j0 + t) * p.hkv + g) * p.d + c')}; }
        acc[r] = a;
      }
    }
    workgroupBarrier();
    m = m_new;
  }
  for (var r = 0u; r < ${dims}u; r = r + 1u) {
    let c = l + r * ${BK}u;
    if (c < p.d) {
      // A row with every key hidden gives zeros, as the reference does.
      var v = 0.0;
      if (total > 0.0) { v = acc[r] / total; } else if (m != NEG_INF) { v = nan_f32(); }
      o[qo + c] = v;
    }
  }
}`;
}

/**
 * The serial variant for CPU-backed adapters: one invocation per (query, head) walks the keys one
 * by one with the same online softmax, no workgroup memory and no barriers. D is fixed per
 * pipeline so q and the accumulator are fixed-size private arrays.
 */
function attentionSerialCode(kv: 'f32' | 'f16', hasMask: boolean, d: number): string {
  const load = kv === 'f32' ? (arr: string, i: string) => `${arr}[${i}]` : (arr: string, i: string) => `bitcast<f32>(f16_to_f32_bits(${arr}_word(${i})))`;
  const elem = kv === 'f32' ? 'f32' : 'u32';
  const dd = Math.max(d, 1);
  return `${PRELUDE}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kk: array<${elem}>;
@group(0) @binding(2) var<storage, read> vv: array<${elem}>;
${hasMask ? '@group(0) @binding(3) var<storage, read> mask: array<f32>;' : ''}
@group(0) @binding(${hasMask ? 4 : 3}) var<storage, read_write> o: array<f32>;
struct P { tq: u32, tk: u32, hq: u32, hkv: u32, d: u32, causal: u32, q_offset: i32, scale: f32, gx: u32 }
@group(0) @binding(${hasMask ? 5 : 4}) var<uniform> p: P;
${kv === 'f16' ? halfWordLoader('kk_word', 'kk') + halfWordLoader('vv_word', 'vv') : ''}
@compute @workgroup_size(${BK}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.y * p.gx * ${BK}u + gid.x;
  if (row >= p.tq * p.hq) { return; }
  let i = row / p.hq;
  let h = row - i * p.hq;
  let g = h / (p.hq / p.hkv);
  let qo = row * ${d}u;
  var limit = p.tk;
  if (p.causal != 0u) { limit = u32(clamp(p.q_offset + i32(i) + 1, 0, i32(p.tk))); }
  let NEG_INF = neg_inf();
  var qv: array<f32, ${dd}>;
  var acc: array<f32, ${dd}>;
  for (var c = 0u; c < ${d}u; c = c + 1u) { qv[c] = q[qo + c]; }
  var m = NEG_INF;
  var total = 0.0;
  for (var j = 0u; j < limit; j = j + 1u) {
    let ko = (j * p.hkv + g) * ${d}u;
    var dot = 0.0;
    for (var c = 0u; c < ${d}u; c = c + 1u) { dot = dot + qv[c] * ${load('kk', 'ko + c')}; }
    let s = dot * p.scale${hasMask ? ' + mask[i * p.tk + j]' : ''};
    if (s == NEG_INF) { continue; }
    let m_new = max(m, s);
    let corr = exp(m - m_new);
    let e = exp(s - m_new);
    total = total * corr + e;
    for (var c = 0u; c < ${d}u; c = c + 1u) { acc[c] = acc[c] * corr + e * ${load('vv', 'ko + c')}; }
    m = m_new;
  }
  for (var c = 0u; c < ${d}u; c = c + 1u) {
    // A row with every key hidden gives zeros, as the reference does.
    var v = 0.0;
    if (total > 0.0) { v = acc[c] / total; } else if (m != NEG_INF) { v = nan_f32(); }
    o[qo + c] = v;
  }
}`;
}

export const attentionKernels: KernelTable = {
  attention: (ctx, args, out, host) => {
    if (out.numel === 0) return;
    const s = checkAttention('attention', host);
    if (host.q.rank === 4)
      throw new TypeError('attention: the webgpu backend does not support a leading batch dimension yet; run each batch entry as its own call');
    const kv = args.k.dtype as 'f32' | 'f16';
    const dims = Math.max(1, Math.ceil(s.d / BK));
    const hasMask = args.mask !== undefined;
    const serial = ctx.cpuBacked;
    const pipe = serial
      ? ctx.pipeline(`attention_serial_${kv}_${hasMask ? 'mask' : 'nomask'}_${s.d}`, () => attentionSerialCode(kv, hasMask, s.d))
      : ctx.pipeline(`attention_${kv}_${hasMask ? 'mask' : 'nomask'}_${dims}`, () => attentionCode(kv, hasMask, dims));
    const { groups } = grid(s.tq * s.hq, serial ? BK : 1);
    // Any offset past these bounds shows every key or none, so clamping keeps it within i32.
    const qOffset = Math.max(-s.tq - 1, Math.min(s.tk, s.qOffset));
    const buffers = hasMask ? [args.q, args.k, args.v, args.mask!, out] : [args.q, args.k, args.v, out];
    ctx.dispatch(pipe, buffers, [s.tq, s.tk, s.hq, s.hkv, s.d, s.causal ? 1 : 0, { i32: qOffset }, { f32: s.scale }, groups[0]], groups);
  },
};
