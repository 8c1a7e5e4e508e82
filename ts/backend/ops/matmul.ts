// matmul: C = alpha * A . op(B) + beta * C in f32, plain or batched, B as (K, N) or as (N, K).
// The spec (checks, output shape) and the f64 TypeScript reference; no fast code lives here.

import type { Tensor } from '../../tensor/tensor.js';
import { defineOp } from '../registry.js';
import { checkNumber, expectTensor, fail, shapeStr } from './check.js';

declare module '../backend.js' {
  interface OpArgs {
    /**
     * a: (M, K) or (B, M, K) f32; b: (K, N) f32, or (N, K) with transB (how checkpoints store
     * weights), or batched (B, K, N) / (B, N, K). A rank-2 operand is shared by every batch.
     * -> (M, N), or (B, M, N) when either operand is batched.
     * alpha (default 1) scales the product; beta (default 0) scales the existing `out`, which is
     * read as C only when beta != 0 (so NaN in an uninitialized `out` never leaks through).
     * Strided views (Tensor.transpose / slice) are accepted for a and b.
     */
    matmul: { a: Tensor; b: Tensor; transB?: boolean; alpha?: number; beta?: number };
  }
}

interface Dims {
  batch: number;
  m: number;
  k: number;
  n: number;
  batchedA: boolean;
  batchedB: boolean;
}

function dims(a: Tensor, b: Tensor, transB: boolean): Dims {
  if (a.rank !== 2 && a.rank !== 3) fail('matmul', `'a' must have shape [M, K] or [batch, M, K], got ${shapeStr(a.shape)}`);
  if (b.rank !== 2 && b.rank !== 3)
    fail('matmul', `'b' must have shape ${transB ? '[N, K] or [batch, N, K]' : '[K, N] or [batch, K, N]'}, got ${shapeStr(b.shape)}`);
  const batchedA = a.rank === 3;
  const batchedB = b.rank === 3;
  const m = a.shape[a.rank - 2]!;
  const k = a.shape[a.rank - 1]!;
  const bk = transB ? b.shape[b.rank - 1]! : b.shape[b.rank - 2]!;
  const n = transB ? b.shape[b.rank - 2]! : b.shape[b.rank - 1]!;
  if (bk !== k)
    fail('matmul', `'a' has K = ${k} but 'b' ${shapeStr(b.shape)}${transB ? ' (transB: [N, K])' : ' ([K, N])'} has K = ${bk}`);
  const ba = batchedA ? a.shape[0]! : 1;
  const bb = batchedB ? b.shape[0]! : 1;
  if (batchedA && batchedB && ba !== bb) fail('matmul', `'a' has batch ${ba} but 'b' has batch ${bb}`);
  return { batch: batchedA ? ba : bb, m, k, n, batchedA, batchedB };
}

defineOp({
  name: 'matmul',
  output({ a, b, transB, alpha, beta }) {
    expectTensor('matmul', 'a', a, ['f32']);
    expectTensor('matmul', 'b', b, ['f32']);
    if (transB !== undefined && typeof transB !== 'boolean') fail('matmul', `'transB' must be a boolean, got ${typeof transB}`, 'type');
    checkNumber('matmul', 'alpha', alpha, -3.4e38, 3.4e38);
    checkNumber('matmul', 'beta', beta, -3.4e38, 3.4e38);
    const d = dims(a, b, transB ?? false);
    return { dtype: 'f32', shape: d.batchedA || d.batchedB ? [d.batch, d.m, d.n] : [d.m, d.n] };
  },
  reference({ a, b, transB = false, alpha = 1, beta = 0 }, out) {
    const d = dims(a, b, transB);
    const av = a.toFloat32();
    const bv = b.toFloat32();
    const o = out.data;
    const al = Math.fround(alpha);
    const be = Math.fround(beta);
    for (let bi = 0; bi < d.batch; bi++) {
      const ao = d.batchedA ? bi * d.m * d.k : 0;
      const bo = d.batchedB ? bi * d.k * d.n : 0;
      const co = bi * d.m * d.n;
      for (let i = 0; i < d.m; i++)
        for (let j = 0; j < d.n; j++) {
          let acc = 0;
          for (let p = 0; p < d.k; p++) acc += av[ao + i * d.k + p]! * bv[bo + (transB ? j * d.k + p : p * d.n + j)]!;
          const c = co + i * d.n + j;
          o[c] = al * acc + (be !== 0 ? be * o[c]! : 0);
        }
    }
  },
});
