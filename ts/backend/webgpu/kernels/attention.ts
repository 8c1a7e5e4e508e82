// WGSL kernels for fused attention with an online softmax (running max and sum), so no (Tq, Tk)
// score matrix exists: one workgroup per (query, head) over key tiles of 64 for GPUs, one
// invocation per (query, head) for CPU-backed adapters. Prefill and decode (Tq = 1 on a cache
// prefix) are the same kernel; K/V are f32 or f16; a leading batch dimension rides on the rows.
// K/V may be paged (sequence state in device pages, state.ts): key rows are then found through
// a page table, so attention reads the pages where they lie.
// The declarations and row indexing here are shared with attentionNaive (attention_naive.ts).

import '../../ops/attention.js';
import { checkAttention, type AttentionArgs, type AttentionShape } from '../../ops/attention.js';
import { t5Bucket, type PositionBias } from '../../ops/position-bias.js';
import { PRELUDE, halfWordLoader } from '../wgsl.js';
import { grid, type KernelContext, type KernelTable, type OnGpu, type Param } from './context.js';
import type { GPUTensor } from '../buffers.js';
import { PagedRows } from '../state-rows.js';

/** Keys per tile = invocations per workgroup. */
const BK = 64;

export type KvDType = 'f32' | 'f16';

/** WGSL expression for element `i` of K or V (`arr` is kk or vv) in their dtype, as f32. */
export function kvLoad(kv: KvDType, arr: string, i: string): string {
  return kv === 'f32' ? `${arr}[${i}]` : `bitcast<f32>(f16_to_f32_bits(${arr}_word(${i})))`;
}

/**
 * The uniform struct P every attention kernel takes (see attentionParams). bmax and boff serve
 * the relative-position bias: T5's bucket table covers rel in [-bmax, bmax] (buckets are
 * constant past maxDistance), boff is the query offset unclamped by the causal limit (also the
 * base of a sliding window's edge); window is 0 for none.
 */
export const ATTENTION_P =
  'struct P { rows: u32, tq: u32, tk: u32, hq: u32, hkv: u32, d: u32, causal: u32, q_offset: i32, scale: f32, gx: u32, mstride: u32, bmax: i32, boff: i32, window: i32, softcap: f32 }';

/** Which generated bias a pipeline adds: none, T5 buckets or ALiBi slopes. */
export type BiasKind = 'none' | 't5' | 'alibi';

export function biasKind(s: AttentionShape): BiasKind {
  return s.bias?.kind ?? 'none';
}

/**
 * WGSL fn pos_bias(h, i, j): the bias of head h, query row i and key j, from the bias table bt
 * ((buckets, Hq) for T5, read through the bucket of each relative position in bl; (Hq) slopes
 * for ALiBi). The same f32 arithmetic as the reference's and the native kernels'.
 */
function positionBiasFn(kind: BiasKind): string {
  if (kind === 'none') return '';
  const rel = 'let rel = i32(j) - (p.boff + i32(i));';
  if (kind === 'alibi') return `fn pos_bias(h: u32, i: u32, j: u32) -> f32 { ${rel} return bt[h] * f32(rel); }`;
  return `fn pos_bias(h: u32, i: u32, j: u32) -> f32 { ${rel} return bt[u32(bl[u32(clamp(rel, -p.bmax, p.bmax) + p.bmax)]) * p.hq + h]; }`;
}

/** The score expression's added terms: the mask and the generated bias, those present. */
export function scoreTerms(hasMask: boolean, kind: BiasKind): string {
  // softcap(s) (declared by attentionDecls) leaves s as it is when p.softcap is 0.
  return `${hasMask ? ' + mask[mr + j]' : ''}${kind !== 'none' ? ' + pos_bias(h, i, j)' : ''}`;
}

/** A read-only binding of K or V (`name` kk or vv) in its dtype, with its 16-bit loader for f16. */
export function kvBinding(kv: KvDType, name: 'kk' | 'vv', binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<${kv === 'f32' ? 'f32' : 'u32'}>;
${kv === 'f16' ? halfWordLoader(`${name}_word`, name) : ''}`;
}

/**
 * Bindings q, kk, [vv], [mask], [bt, [bl]], [pt] (those present, in that order), then the output
 * (read_write, named `out`) and the uniform struct P. rows = B * Tq * Hq; mstride = mask values
 * per batch entry (0 when the mask is shared); `gx` is the grid's x extent. `pt` is the page
 * table of paged K/V (see rowAddressing).
 */
export function attentionDecls(kv: KvDType, hasMask: boolean, out = 'o', withV = true, bias: BiasKind = 'none', paged = false): string {
  const names = ['q', 'kk', ...(withV ? ['vv'] : []), ...(hasMask ? ['mask'] : []), ...(bias !== 'none' ? ['bt'] : []), ...(bias === 't5' ? ['bl'] : []), ...(paged ? ['pt'] : [])];
  const binds = names.map((n, i) =>
    n === 'kk' || n === 'vv' ? kvBinding(kv, n, i) : `@group(0) @binding(${i}) var<storage, read> ${n}: array<${n === 'bl' ? 'i32' : n === 'pt' ? 'u32' : 'f32'}>;`);
  return `${PRELUDE}
${binds.join('\n')}
@group(0) @binding(${names.length}) var<storage, read_write> ${out}: array<f32>;
${ATTENTION_P}
@group(0) @binding(${names.length + 1}) var<uniform> p: P;
${positionBiasFn(bias)}
// Logit soft-capping (Gemma 2); tanh's argument is clamped where it is 1 in f32 already.
fn softcap(s: f32) -> f32 { if (p.softcap > 0.0) { return tanh(clamp(s / p.softcap, -15.0, 15.0)) * p.softcap; } return s; }`;
}

/**
 * WGSL statements that decode `row` (a (b, i, h) triple in q's row order) into: i, h, the kv head
 * g, kr (the batch entry's first key row), mr (this query's mask row offset), limit and start
 * (keys start <= j < limit are visible: causal means j <= qOffset + i, a sliding window
 * j > qOffset + i - window, both clamped to [0, Tk]).
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
  if (p.causal != 0u) { limit = u32(clamp(p.q_offset + i32(i) + 1, 0, i32(p.tk))); }
  var start = 0u;
  if (p.window > 0) { start = u32(clamp(p.boff + i32(i) - p.window + 1, 0, i32(p.tk))); }`;

/** The uniform values for attentionDecls' struct P. */
export function attentionParams(s: AttentionShape, gx: number): Param[] {
  // Any offset past these bounds shows every key or none, so clamping keeps it within i32.
  const qOffset = Math.max(-s.tq - 1, Math.min(s.tk, s.qOffset));
  const mstride = s.maskPerBatch ? s.tq * s.tk : 0;
  const bmax = s.bias?.kind === 't5' ? s.bias.maxDistance : 0;
  // Past 2^30 the offset moves every T5 relative position beyond maxDistance alike, and shifts
  // every ALiBi score of a row alike (which softmax ignores).
  const boff = Math.max(-(2 ** 30), Math.min(2 ** 30, s.qOffset));
  // The window's edge comes from boff (the offset unclamped by the causal limit, within 2^30), so
  // a window clamped to i32 still hides exactly the keys it should.
  const window = Math.min(s.window, 2 ** 31 - 1);
  return [s.b * s.tq * s.hq, s.tq, s.tk, s.hq, s.hkv, s.d, s.causal ? 1 : 0, { i32: qOffset }, { f32: s.scale }, gx, mstride, { i32: bmax }, { i32: boff }, { i32: window }, { f32: s.softcap }];
}

/**
 * T5's bucket of every relative position in [-maxDistance, maxDistance], index rel + maxDistance:
 * computed once per (buckets, maxDistance, direction) on the host with the reference's function.
 */
function bucketTable(ctx: KernelContext, b: PositionBias): GPUBuffer {
  return ctx.constant(`t5_buckets_${b.buckets}_${b.maxDistance}_${b.bidirectional ? 'bi' : 'uni'}`, () =>
    Int32Array.from({ length: 2 * b.maxDistance + 1 }, (_, x) => t5Bucket(x - b.maxDistance, b.buckets, b.maxDistance, b.bidirectional)));
}

/** q, k, [v], [mask], [bias table, [bucket table]] in attentionDecls' binding order. */
export function attentionInputs(ctx: KernelContext, args: OnGpu<AttentionArgs>, s: AttentionShape, withV = true): Array<GPUTensor | GPUBuffer> {
  const bias: Array<GPUTensor | GPUBuffer> = [];
  if (s.bias) {
    bias.push(args.biasTable!);
    if (s.bias.kind === 't5') bias.push(bucketTable(ctx, s.bias));
  }
  return [args.q, args.k, ...(withV ? [args.v] : []), ...(args.mask ? [args.mask] : []), ...bias];
}

/**
 * K/V row addressing: krow(r) is key row r's row in kk and vv. The identity for contiguous K/V;
 * for paged K/V (`pageRows` a power of two) row r lies in page pt[r / pageRows].
 */
function rowAddressing(pageRows: number | undefined): string {
  if (pageRows === undefined) return 'fn krow(r: u32) -> u32 { return r; }';
  const shift = Math.log2(pageRows);
  return `fn krow(r: u32) -> u32 { return (pt[r >> ${shift}u] << ${shift}u) | (r & ${pageRows - 1}u); }`;
}

/** `dims` = output columns each invocation owns (ceil(D / 64)), fixed per pipeline. */
function attentionCode(kv: KvDType, hasMask: boolean, dims: number, bias: BiasKind, pageRows?: number): string {
  const load = (arr: string, i: string) => kvLoad(kv, arr, i);
  return `${attentionDecls(kv, hasMask, 'o', true, bias, pageRows !== undefined)}
${rowAddressing(pageRows)}
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
  // Tiles before the window hold no visible key: start at the window's tile.
  for (var j0 = start - start % ${BK}u; j0 < limit; j0 = j0 + ${BK}u) {
    let j = j0 + l;
    var s = NEG_INF;
    if (j < limit && j >= start) {
      let ko = (krow(kr + j) * p.hkv + g) * p.d;
      var dot = 0.0;
      for (var c = 0u; c < p.d; c = c + 1u) { dot = dot + q[qo + c] * ${load('kk', 'ko + c')}; }
      s = softcap(dot * p.scale)${scoreTerms(hasMask, bias)};
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
        for (var t = 0u; t < n; t = t + 1u) { a = a + probs[t] * ${load('vv', '(krow(kr + j0 + t) * p.hkv + g) * p.d + c')}; }
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
function attentionSerialCode(kv: KvDType, hasMask: boolean, d: number, bias: BiasKind, pageRows?: number): string {
  const load = (arr: string, i: string) => kvLoad(kv, arr, i);
  const dd = Math.max(d, 1);
  return `${attentionDecls(kv, hasMask, 'o', true, bias, pageRows !== undefined)}
${rowAddressing(pageRows)}
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
  for (var j = start; j < limit; j = j + 1u) {
    let ko = (krow(kr + j) * p.hkv + g) * ${d}u;
    var dot = 0.0;
    for (var c = 0u; c < ${d}u; c = c + 1u) { dot = dot + qv[c] * ${load('kk', 'ko + c')}; }
    let s = softcap(dot * p.scale)${scoreTerms(hasMask, bias)};
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
    const bias = biasKind(s);
    const serial = ctx.cpuBacked;
    // Sequence state in device pages: K and V are read where they lie, through the page table.
    const pk = args.k instanceof PagedRows ? args.k : undefined;
    const pv = args.v instanceof PagedRows ? args.v : undefined;
    if ((pk === undefined) !== (pv === undefined) || (pk && (s.b !== 1 || pk.pageRows !== pv!.pageRows || pk.table !== pv!.table)))
      throw new RangeError("attention: paged 'k' and 'v' must be rows of one sequence state");
    const paged = pk?.pageRows;
    const variant = `${kv}_${hasMask ? 'mask' : 'nomask'}_${bias}${paged === undefined ? '' : `_paged${paged}`}`;
    const pipe = serial
      ? ctx.pipeline(`attention_serial_${variant}_${s.d}`, () => attentionSerialCode(kv, hasMask, s.d, bias, paged))
      : ctx.pipeline(`attention_${variant}_${dims}`, () => attentionCode(kv, hasMask, dims, bias, paged));
    const { groups } = grid(s.b * s.tq * s.hq, serial ? BK : 1);
    const inputs = attentionInputs(ctx, args, s);
    if (pk && pv) {
      // Whole buffers: a sequence's pages may lie anywhere in them.
      inputs[1] = pk.pages;
      inputs[2] = pv.pages;
      inputs.push(pk.table);
    }
    ctx.dispatch(pipe, [...inputs, out], attentionParams(s, groups[0]), groups);
  },
};
