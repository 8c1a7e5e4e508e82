// Per-head additive attention bias generated from relative positions, so no (H, Tq, Tk) buffer
// exists: T5's bucketed relative-position bias and ALiBi's linear slopes. Checks, the plain
// per-score reference, and the (Hq, Tq + Tk - 1) table that kernels index by j - i.
// Not the attention op itself: see attention.ts.

import type { Tensor } from '../../tensor/tensor.js';
import { checkInteger, expectShape, expectTensor, fail } from './check.js';

/** The attention arguments that ask for a generated bias. */
export interface PositionBiasArgs {
  /**
   * 't5': bias[h] = biasTable[bucket(j - i)][h] with T5's buckets (exact below half the
   * buckets, logarithmic up to maxDistance); 'alibi': bias[h] = biasTable[h] * (j - i). Here i is
   * a query's position among the keys (qOffset + its row) and j a key's. Default: none.
   */
  positionBias?: 't5' | 'alibi';
  /** t5: (numBuckets, Hq) f32, as HF's relative_attention_bias.weight; alibi: (Hq) f32 slopes. */
  biasTable?: Tensor;
  /** t5: distance where the logarithmic buckets end; default 128. */
  maxDistance?: number;
  /** t5: keys on both sides get buckets of their own (an encoder); default: not causal. */
  bidirectional?: boolean;
}

/** A generated bias, checked. */
export interface PositionBias {
  kind: 't5' | 'alibi';
  table: Float32Array;
  buckets: number;
  maxDistance: number;
  bidirectional: boolean;
}

export function checkPositionBias(op: string, a: PositionBiasArgs, hq: number, causal: boolean): PositionBias | undefined {
  if (a.positionBias === undefined) {
    for (const k of ['biasTable', 'maxDistance', 'bidirectional'] as const)
      if (a[k] !== undefined) fail(op, `'${k}' needs 'positionBias' ('t5' or 'alibi')`, 'type');
    return undefined;
  }
  if (a.positionBias !== 't5' && a.positionBias !== 'alibi') fail(op, `'positionBias' must be 't5' or 'alibi', got '${String(a.positionBias)}'`);
  const t = expectTensor(op, 'biasTable', a.biasTable, ['f32']);
  if (a.positionBias === 'alibi') {
    expectShape(op, 'biasTable', t, [hq]);
    if (a.maxDistance !== undefined || a.bidirectional !== undefined) fail(op, "'maxDistance' and 'bidirectional' apply to positionBias 't5' only", 'type');
    return { kind: 'alibi', table: t.toFloat32(), buckets: 0, maxDistance: 0, bidirectional: false };
  }
  if (t.rank !== 2 || t.shape[1] !== hq || t.shape[0]! < 2)
    fail(op, `'biasTable' must have shape [numBuckets >= 2, ${hq}] (one column per query head), got [${t.shape.join(', ')}]`);
  checkInteger(op, 'maxDistance', a.maxDistance, 1, 2 ** 30);
  if (a.bidirectional !== undefined && typeof a.bidirectional !== 'boolean') fail(op, "'bidirectional' must be a boolean", 'type');
  const bidirectional = a.bidirectional ?? !causal;
  const buckets = t.shape[0]!;
  // Each half (bidirectional) needs an exact and a logarithmic part: at least 2 buckets.
  if (bidirectional && buckets < 4) fail(op, `'biasTable' needs at least 4 buckets when bidirectional, got ${buckets}`);
  return { kind: 't5', table: t.toFloat32(), buckets, maxDistance: a.maxDistance ?? 128, bidirectional };
}

/**
 * T5's bucket of a relative position rel = key - query (HF's _relative_position_bucket), in
 * float32 arithmetic as PyTorch computes it, so buckets agree at their boundaries.
 */
export function t5Bucket(rel: number, buckets: number, maxDistance: number, bidirectional: boolean): number {
  let n = buckets;
  let bucket = 0;
  let r: number;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (rel > 0) bucket += n;
    r = Math.abs(rel);
  } else r = -Math.min(rel, 0);
  const exact = Math.floor(n / 2);
  if (r < exact) return bucket + r;
  const f = Math.fround;
  const large = exact + Math.trunc(f(f(f(Math.log(f(f(r) / exact))) / f(Math.log(maxDistance / exact))) * f(n - exact)));
  return bucket + Math.min(large, n - 1);
}

/** The bias of query head h for relative position rel = key - query. */
export function positionBiasAt(b: PositionBias, h: number, hq: number, rel: number): number {
  if (b.kind === 'alibi') return Math.fround(b.table[h]! * rel);
  return b.table[t5Bucket(rel, b.buckets, b.maxDistance, b.bidirectional) * hq + h]!;
}

/**
 * table: (Hq, Tq + Tk - 1) f32, the bias of query row i (position qOffset + i) and key j at
 * [h][j - i + Tq - 1]: what kernels read instead of computing buckets per score.
 */
export function positionBiasTable(b: PositionBias, hq: number, tq: number, tk: number, qOffset: number): Float32Array {
  const len = tq + tk - 1;
  const out = new Float32Array(hq * len);
  for (let idx = 0; idx < len; idx++) {
    const rel = idx - (tq - 1) - qOffset;
    for (let h = 0; h < hq; h++) out[h * len + idx] = positionBiasAt(b, h, hq, rel);
  }
  return out;
}
