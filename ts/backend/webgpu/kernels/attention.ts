// WGSL kernels for fused attention with an online softmax (running max and sum), so no (Tq, Tk)
// score matrix exists: one workgroup per (query, head) over key tiles of 64 for GPUs, one
// invocation per (query, head) for CPU-backed adapters. Prefill and decode (Tq = 1 on a cache
// prefix) are the same kernel; K/V are f32 or f16; a leading batch dimension rides on the rows.
// The declarations and row indexing here are shared with attentionNaive (attention_naive.ts).

import '../../ops/attention.js';
import { checkAttention, type AttentionArgs, type AttentionShape } from '../../ops/attention.js';
import { PRELUDE, halfWordLoader } from '../wgsl.js';
import { grid, type KernelTable, type OnGpu, type Param } from './context.js';
import type { GPUTensor } from '../buffers.js';

/** Keys per tile = invocations per workgroup. */
const BK = 64;

export type KvDType = 'f32' | 'f16';

/** WGSL expression for element `i` of K or V (`arr` is kk or vv) in their dtype, as f32. */
export function kvLoad(kv: KvDType, arr: string, i: string): string {
  return kv === 'f32' ? `${arr}[${i}]` : `bitcast<f32>(f16_to_f32_bits(${arr}_word(${i})))`;
}

/** The uniform struct P every attention kernel takes (see attentionParams). */
export const ATTENTION_P = 'struct P { rows: u32, tq: u32, tk: u32, hq: u32, hkv: u32, d: u32, causal: u32, q_offset: i32, scale: f32, gx: u32, mstride: u32 }';

/** A read-only binding of K or V (`name` kk or vv) in its dtype, with its 16-bit loader for f16. */
export function kvBinding(kv: KvDType, name: 'kk' | 'vv', binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<${kv === 'f32' ? 'f32' : 'u32'}>;
${kv === 'f16' ? halfWordLoader(`${name}_word`, name) : ''}`;
}

/**
 * Bindings q, kk, [vv], [mask] (those present, in that order), then the output (read_write,
 * named `out`) and the uniform struct P. rows = B * Tq * Hq; mstride = mask values per batch
 * entry (0 when the mask is shared); `gx` is the grid's x extent.
 */
export function attentionDecls(kv: KvDType, hasMask: boolean, out = 'o', withV = true): string {
  const names = ['q', 'kk', ...(withV ? ['vv'] : []), ...(hasMask ? ['mask'] : [])];
  const binds = names.map((n, i) => (n === 'kk' || n === 'vv' ? kvBinding(kv, n, i) : `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`));
  return `${PRELUDE}
${binds.join('\n')}
@group(0) @binding(${names.length}) var<storage, read_write> ${out}: array<f32>;
${ATTENTION_P}
@group(0) @binding(${names.length + 1}) var<uniform> p: P;`;
}

/**
 * WGSL statements that decode `row` (a (b, i, h) triple in q's row order) into: i, h, the kv head
 * g, kr (the batch entry's first key row), mr (this query's mask row offset) and limit (keys
 * j < limit are visible: causal means j <= qOffset + i, clamped to [0, Tk]).
 */
export const ATTENTION_ROW = /* wgsl */ `
  let bi = row / p.hq;
  let h = row - bi * p.hq;
  let b = bi / p.tq;
  let i = bi - b * p.tq;
  let g = h / (p.hq / p.hkv);
  let kr = b * p.tk;
  let mr = b * p.mstride + i * p.tk;
  var limit = p.tk;
  if (p.causal != 0u) { limit = u32(clamp(p.q_offset + i32(i) + 1, 0, i32(p.tk))); }`;

/** The uniform values for attentionDecls' struct P. */
export function attentionParams(s: AttentionShape, gx: number): Param[] {
  // Any offset past these bounds shows every key or none, so clamping keeps it within i32.
  const qOffset = Math.max(-s.tq - 1, Math.min(s.tk, s.qOffset));
  const mstride = s.maskPerBatch ? s.tq * s.tk : 0;
  return [s.b * s.tq * s.hq, s.tq, s.tk, s.hq, s.hkv, s.d, s.causal ? 1 : 0, { i32: qOffset }, { f32: s.scale }, gx, mstride];
}

/** q, k, [v], [mask] in attentionDecls' binding order. */
export function attentionInputs(args: OnGpu<AttentionArgs>, withV = true): GPUTensor[] {
  return [args.q, args.k, ...(withV ? [args.v] : []), ...(args.mask ? [args.mask] : [])];
}

/** `dims` = output columns each invocation owns (ceil(D / 64)), fixed per pipeline. */
function attentionCode(kv: KvDType, hasMask: boolean, dims: number): string {
  const load = (arr: string, i: string) => kvLoad(kv, arr, i);
  return `${attentionDecls(kv, hasMask)}
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
  if (row >= p.rows) { return; }
  ${ATTENTION_ROW}
  let qo = row * p.d;
  let NEG_INF = neg_inf();
  var m = NEG_INF;
  var total = 0.0;
  var acc: array<f32, ${dims}>;
  for (var j0 = 0u; j0 < limit; j0 = j0 + ${BK}u) {
    let j = j0 + l;
    var s = NEG_INF;
    if (j < limit) {
      let ko = ((kr + j) * p.hkv + g) * p.d;
      var dot = 0.0;
      for (var c = 0u; c < p.d; c = c + 1u) { dot = dot + q[qo + c] * ${load('kk', 'ko + c')}; }
      s = dot * p.scale${hasMask ? ' + mask[mr + j]' : ''};
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
        for (var t = 0u; t < n; t = t + 1u) { a = a + probs[t] * ${load('vv', '((kr + j0 + t) * p.hkv + g) * p.d + c')}; }
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
function attentionSerialCode(kv: KvDType, hasMask: boolean, d: number): string {
  const load = (arr: string, i: string) => kvLoad(kv, arr, i);
  const dd = Math.max(d, 1);
  return `${attentionDecls(kv, hasMask)}
@compute @workgroup_size(${BK}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.y * p.gx * ${BK}u + gid.x;
  if (row >= p.rows) { return; }
  ${ATTENTION_ROW}
  let qo = row * ${d}u;
  let NEG_INF = neg_inf();
  var qv: array<f32, ${dd}>;
  var acc: array<f32, ${dd}>;
  for (var c = 0u; c < ${d}u; c = c + 1u) { qv[c] = q[qo + c]; }
  var m = NEG_INF;
  var total = 0.0;
  for (var j = 0u; j < limit; j = j + 1u) {
    let ko = ((kr + j) * p.hkv + g) * ${d}u;
    var dot = 0.0;
    for (var c = 0u; c < ${d}u; c = c + 1u) { dot = dot + qv[c] * ${load('kk', 'ko + c')}; }
    let s = dot * p.scale${hasMask ? ' + mask[mr + j]' : ''};
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
    const kv = args.k.dtype as KvDType;
    const dims = Math.max(1, Math.ceil(s.d / BK));
    const hasMask = args.mask !== undefined;
    const serial = ctx.cpuBacked;
    const pipe = serial
      ? ctx.pipeline(`attention_serial_${kv}_${hasMask ? 'mask' : 'nomask'}_${s.d}`, () => attentionSerialCode(kv, hasMask, s.d))
      : ctx.pipeline(`attention_${kv}_${hasMask ? 'mask' : 'nomask'}_${dims}`, () => attentionCode(kv, hasMask, dims));
    const { groups } = grid(s.b * s.tq * s.hq, serial ? BK : 1);
    ctx.dispatch(pipe, [...attentionInputs(args), out], attentionParams(s, groups[0]), groups);
  },
};
