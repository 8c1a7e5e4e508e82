// Attention ops: fused (flash-style) attention, the naive materializing form, linear attention.
// Specs (checks, output shape) and the f64 TypeScript reference; kernels live in the addon.

import type { Tensor } from '../../tensor/tensor.js';
import { defineOp } from '../registry.js';
import { checkInteger, checkNumber, expectShape, expectTensor, fail, shapeStr } from './check.js';
import { checkPositionBias, positionBiasAt, type PositionBias, type PositionBiasArgs } from './position-bias.js';

/**
 * Arguments shared by attention and attentionNaive. An optional leading batch dimension B runs
 * B independent problems in one call: q (B, Tq, Hq, D), k and v (B, Tk, Hkv, D), out (B, Tq, Hq, D).
 */
export interface AttentionArgs extends PositionBiasArgs {
  /** q: (Tq, Hq, D) f32, or (B, Tq, Hq, D) */
  q: Tensor;
  /** k: (Tk, Hkv, D) f32|f16, or (B, Tk, Hkv, D); Hq must be a multiple of Hkv (query head h reads kv head floor(h / (Hq/Hkv))). */
  k: Tensor;
  /** v: the same shape and dtype as k. */
  v: Tensor;
  /** Hide keys after each query's position (default false). */
  causal?: boolean;
  /** Position of query 0 among the keys (default Tk - Tq); query i sees keys j <= qOffset + i when causal. */
  qOffset?: number;
  /**
   * mask: (Tq, Tk) f32 (shared by the batch) or (B, Tq, Tk), added to the scores; -Infinity hides
   * a key; a row with every key hidden gives zeros.
   */
  mask?: Tensor;
  /** Score scale (default 1/sqrt(D)). */
  scale?: number;
  /**
   * Sliding window (Mistral, Gemma's local layers): query i sees only keys j > qOffset + i -
   * window, the last `window` positions up to its own; positive integer, default none.
   */
  window?: number;
  /**
   * Logit soft-capping (Gemma 2): each scaled score s becomes tanh(s / softcap) * softcap before
   * the mask and bias are added; positive, default none.
   */
  softcap?: number;
}

declare module '../backend.js' {
  interface OpArgs {
    /**
     * softmax(q k^T * scale + mask) v per head, computed in tiles with an online softmax: no
     * (Tq, Tk) buffer is ever allocated. -> (Tq, Hq, D) f32. A KV cache is passed as
     * `cache.slice(0, 0, len)` (contiguous, no copy). With a batch dimension, (B, Tq, Hq, D).
     */
    attention: AttentionArgs;
    /** The same result as attention, computed by materializing the (Hq, Tq, Tk) score matrix. */
    attentionNaive: AttentionArgs;
    /**
     * Causal linear attention with feature map phi(x) = elu(x) + 1:
     * out_i = sum_{j<=i} (phi(q_i).phi(k_j)) v_j / sum_{j<=i} phi(q_i).phi(k_j).
     * form 'parallel' (default) evaluates that double sum, O(T^2 D); 'recurrent' carries the
     * state S_i = S_{i-1} + phi(k_i) v_i^T and z_i = z_{i-1} + phi(k_i), O(T D^2).
     * q, k, v: (T, H, D) f32 -> (T, H, D) f32.
     */
    linearAttention: { q: Tensor; k: Tensor; v: Tensor; form?: 'parallel' | 'recurrent' };
  }
}

/** Resolved attention parameters, after the checks every backend shares. */
export interface AttentionShape {
  /** Batch size; 1 without a batch dimension. */
  b: number;
  /** Whether the mask has one (Tq, Tk) slice per batch entry. */
  maskPerBatch: boolean;
  tq: number;
  tk: number;
  hq: number;
  hkv: number;
  d: number;
  causal: boolean;
  qOffset: number;
  scale: number;
  /** A per-head bias generated from relative positions (T5, ALiBi), added after the scale. */
  bias: PositionBias | undefined;
  /** Sliding window in positions; 0 for none. */
  window: number;
  /** Logit soft-cap; 0 for none. */
  softcap: number;
}

/** The widest qOffset accepted: keeps every key index arithmetic exact in f64 and int64. */
const MAX_OFFSET = 2 ** 40;

export function checkAttention(op: string, a: AttentionArgs): AttentionShape {
  expectTensor(op, 'q', a.q, ['f32']);
  expectTensor(op, 'k', a.k, ['f32', 'f16']);
  expectTensor(op, 'v', a.v, ['f32', 'f16']);
  const batched = a.q.rank === 4;
  if (a.q.rank !== 3 && !batched) fail(op, `'q' must have shape [Tq, Hq, D] or [B, Tq, Hq, D], got ${shapeStr(a.q.shape)}`);
  if (a.k.rank !== a.q.rank)
    fail(op, `'k' must have shape ${batched ? '[B, Tk, Hkv, D]' : '[Tk, Hkv, D]'} (the rank of 'q'), got ${shapeStr(a.k.shape)}`);
  if (a.v.dtype !== a.k.dtype) fail(op, `'v'.dtype must equal 'k'.dtype (${a.k.dtype}), got '${a.v.dtype}'`, 'type');
  expectShape(op, 'v', a.v, a.k.shape);
  const b = batched ? a.q.shape[0]! : 1;
  if (batched && a.k.shape[0] !== b) fail(op, `'k' batch ${a.k.shape[0]} must equal 'q' batch ${b}`);
  const [tq, hq, d] = a.q.shape.slice(-3) as [number, number, number];
  const [tk, hkv, dk] = a.k.shape.slice(-3) as [number, number, number];
  if (dk !== d) fail(op, `'k' head size ${dk} must equal 'q' head size ${d}`);
  if (hkv === 0 || hq % hkv !== 0) fail(op, `'q' heads (${hq}) must be a multiple of 'k' heads (${hkv})`);
  if (a.causal !== undefined && typeof a.causal !== 'boolean') fail(op, "'causal' must be a boolean", 'type');
  checkInteger(op, 'qOffset', a.qOffset, -MAX_OFFSET, MAX_OFFSET);
  checkNumber(op, 'scale', a.scale, -3.4e38, 3.4e38);
  checkInteger(op, 'window', a.window, 1, MAX_OFFSET);
  checkNumber(op, 'softcap', a.softcap, 1e-6, 3.4e38);
  if (a.mask !== undefined) {
    expectTensor(op, 'mask', a.mask, ['f32']);
    const perBatch = batched && a.mask.rank === 3;
    expectShape(op, 'mask', a.mask, perBatch ? [b, tq, tk] : [tq, tk]);
    const mv = a.mask.toFloat32();
    for (let i = 0; i < mv.length; i++)
      if (!(mv[i]! < Infinity)) fail(op, `'mask' values must be finite or -Infinity, got ${mv[i]} at ${i}`);
  }
  return {
    b,
    maskPerBatch: batched && a.mask !== undefined && a.mask.rank === 3,
    tq, tk, hq, hkv, d,
    causal: a.causal ?? false,
    qOffset: a.qOffset ?? tk - tq,
    scale: a.scale ?? 1 / Math.sqrt(d),
    bias: checkPositionBias(op, a, hq, a.causal ?? false),
    window: a.window ?? 0,
    softcap: a.softcap ?? 0,
  };
}

/** Plain reference: per (batch, head, query) scores, max-subtracted softmax in f64, weighted sum of v. */
export function attentionReference(a: AttentionArgs, s: AttentionShape, o: Float32Array | Float64Array): void {
  const qv = a.q.toFloat32();
  const kv = a.k.toFloat32();
  const vv = a.v.toFloat32();
  const mv = a.mask?.toFloat32();
  const { tq, tk, hq, hkv, d } = s;
  const group = hq / hkv;
  const scale = Math.fround(s.scale);
  const cap = Math.fround(s.softcap);
  const scores = new Float64Array(tk);
  const acc = new Float64Array(d);
  for (let b = 0; b < s.b; b++) {
    const qb = b * tq * hq * d;
    const kb = b * tk * hkv * d;
    const mb = s.maskPerBatch ? b * tq * tk : 0;
    for (let h = 0; h < hq; h++) {
      const g = Math.floor(h / group);
      for (let i = 0; i < tq; i++) {
        const qo = qb + (i * hq + h) * d;
        const limit = s.causal ? Math.min(tk, Math.max(0, s.qOffset + i + 1)) : tk;
        const start = s.window > 0 ? Math.max(0, s.qOffset + i - s.window + 1) : 0;
        let m = -Infinity;
        for (let j = 0; j < tk; j++) {
          let sc = -Infinity;
          if (j < limit && j >= start) {
            let dot = 0;
            const ko = kb + (j * hkv + g) * d;
            for (let c = 0; c < d; c++) dot += qv[qo + c]! * kv[ko + c]!;
            sc = dot * scale;
            if (cap > 0) sc = Math.tanh(sc / cap) * cap;
            sc += (mv ? mv[mb + i * tk + j]! : 0) + (s.bias ? positionBiasAt(s.bias, h, hq, j - (s.qOffset + i)) : 0);
          }
          scores[j] = sc;
          if (sc > m) m = sc;
        }
        acc.fill(0);
        let sum = 0;
        if (m !== -Infinity) {
          for (let j = 0; j < tk; j++) {
            if (scores[j] === -Infinity) continue;
            const p = Math.exp(scores[j]! - m);
            sum += p;
            const vo = kb + (j * hkv + g) * d;
            for (let c = 0; c < d; c++) acc[c] = acc[c]! + p * vv[vo + c]!;
          }
        }
        for (let c = 0; c < d; c++) o[qo + c] = sum > 0 ? acc[c]! / sum : m === -Infinity ? 0 : NaN;
      }
    }
  }
}

for (const name of ['attention', 'attentionNaive'] as const) {
  defineOp({
    name,
    mixesRows: true,
    output(args) {
      checkAttention(name, args);
      return { dtype: 'f32', shape: [...args.q.shape] };
    },
    reference(args, out) {
      attentionReference(args, checkAttention(name, args), out.data as Float32Array);
    },
  });
}

/** phi(x) = elu(x) + 1: positive, so the linear-attention denominator never vanishes. */
export function phi(x: number): number {
  return x > 0 ? x + 1 : Math.exp(x);
}

defineOp({
  name: 'linearAttention',
  mixesRows: true,
  output({ q, k, v, form }) {
    const op = 'linearAttention';
    expectTensor(op, 'q', q, ['f32']);
    expectTensor(op, 'k', k, ['f32']);
    expectTensor(op, 'v', v, ['f32']);
    if (q.rank !== 3) fail(op, `'q' must have shape [T, H, D], got ${shapeStr(q.shape)}`);
    expectShape(op, 'k', k, q.shape);
    expectShape(op, 'v', v, q.shape);
    if (form !== undefined && form !== 'parallel' && form !== 'recurrent')
      fail(op, `'form' must be one of 'parallel', 'recurrent', got '${String(form)}'`);
    return { dtype: 'f32', shape: [...q.shape] };
  },
  // Both forms have one reference: the double sum (the recurrent form is the same numbers regrouped).
  reference({ q, k, v }, out) {
    const [t, h, d] = q.shape as [number, number, number];
    const qv = q.toFloat32().map(phi);
    const kv = k.toFloat32().map(phi);
    const vv = v.toFloat32();
    const o = out.data;
    const acc = new Float64Array(d);
    for (let hh = 0; hh < h; hh++)
      for (let i = 0; i < t; i++) {
        const qo = (i * h + hh) * d;
        acc.fill(0);
        let den = 0;
        for (let j = 0; j <= i; j++) {
          const ko = (j * h + hh) * d;
          let w = 0;
          for (let c = 0; c < d; c++) w += qv[qo + c]! * kv[ko + c]!;
          den += w;
          for (let c = 0; c < d; c++) acc[c] = acc[c]! + w * vv[ko + c]!;
        }
        for (let c = 0; c < d; c++) o[qo + c] = d > 0 ? acc[c]! / den : 0;
      }
  },
});
