// The small vector maths of the task heads: pooling token vectors, L2 normalization, cosine
// similarity, softmax and sigmoid of a few logits. Per-text work on (T, H) rows, not kernels.

import type { PoolingMode } from './files.js';

/**
 * One vector from a sequence's token rows, the modes concatenated in the order given (each H wide).
 * Every row counts: a packed pass has no padding, so all rows are real tokens (specials included,
 * as sentence-transformers' attention mask has them).
 */
export function poolTokens(hidden: Float32Array, T: number, H: number, modes: readonly PoolingMode[]): Float32Array { // hidden: (T, H) f32
  const out = new Float32Array(H * modes.length);
  modes.forEach((mode, m) => {
    const o = m * H;
    if (mode === 'cls') {
      out.set(hidden.subarray(0, H), o);
      return;
    }
    if (mode === 'max') {
      out.set(hidden.subarray(0, H), o);
      for (let t = 1; t < T; t++) for (let h = 0; h < H; h++) if (hidden[t * H + h]! > out[o + h]!) out[o + h] = hidden[t * H + h]!;
      return;
    }
    const acc = new Float64Array(H);
    for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) acc[h]! += hidden[t * H + h]!;
    for (let h = 0; h < H; h++) out[o + h] = acc[h]! / T;
  });
  return out;
}

/** v / max(|v|, 1e-12) in place (torch.nn.functional.normalize's eps, as sentence-transformers' Normalize). */
export function normalizeL2(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

/** cos(a, b) = a.b / (|a| |b|), 0 when either is all zeros; a and b must be the same length. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`cosineSimilarity: vectors of ${a.length} and ${b.length} elements; they must be the same length`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

/** softmax of one row, in f64 after subtracting the max (so large logits do not overflow). */
export function softmax(x: ArrayLike<number>, from = 0, n = x.length - from): number[] {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, x[from + i]!);
  const e = new Array<number>(n);
  let s = 0;
  for (let i = 0; i < n; i++) s += e[i] = Math.exp(x[from + i]! - m);
  for (let i = 0; i < n; i++) e[i] = e[i]! / s;
  return e;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
