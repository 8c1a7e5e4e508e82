// WGSL kernel for matmul: C = alpha * A . op(B) + beta * C, plain or batched, B as (K, N) or
// (N, K) with transB; the tile loop is tiled.ts's. Batches ride on the workgroup grid's y axis.

import '../../ops/matmul.js';
import { fail } from '../../ops/check.js';
import type { KernelContext, KernelTable } from './context.js';
import type { GPUTensor } from '../buffers.js';
import { TILE, tiledMain } from './tiled.js';

function matmulCode(transB: boolean, accumulate: boolean): string {
  return `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
struct P { m: u32, n: u32, k: u32, tiles_m: u32, a_batch: u32, b_batch: u32, alpha: f32, beta: f32 }
@group(0) @binding(3) var<uniform> p: P;
${tiledMain({
  prologue: `let bi = wg.y / p.tiles_m;
  let ao = bi * p.a_batch;
  let bo = bi * p.b_batch;
  let co = bi * p.m * p.n;`,
  rowTile: `(wg.y % p.tiles_m) * ${TILE}u`,
  a: (m, k) => `a[ao + ${m} * p.k + ${k}]`,
  b: (n, k) => (transB ? `b[bo + ${n} * p.k + ${k}]` : `b[bo + ${k} * p.n + ${n}]`),
  // C is read only when beta != 0 and the caller gave it, so garbage never leaks through.
  store: (m, n, acc) =>
    accumulate
      ? `let ci = co + ${m} * p.n + ${n}; o[ci] = p.alpha * ${acc} + p.beta * o[ci];`
      : `o[co + ${m} * p.n + ${n}] = p.alpha * ${acc};`,
})}`;
}

/** C (batch, m, n) = alpha * A (batch, m, k) . op(B) [+ beta * C]; a zero batch stride broadcasts. */
export interface MatmulDims {
  batch: number;
  m: number;
  n: number;
  k: number;
  transB: boolean;
  /** Elements between batch entries of A and of B (0: shared). */
  aBatch: number;
  bBatch: number;
  alpha: number;
  /** With `accumulate`, C's current values are scaled by beta and added. */
  beta: number;
  accumulate: boolean;
}

/** Records the tiled matmul (also the input projection of rnn and lstm). */
export function recordMatmul(ctx: KernelContext, a: GPUTensor, b: GPUTensor, out: GPUTensor, d: MatmulDims): void {
  const tilesM = Math.ceil(d.m / TILE);
  const gx = Math.ceil(d.n / TILE);
  if (gx > 65535 || tilesM * d.batch > 65535) fail('matmul', `output ${out} is too large for one WebGPU dispatch`);
  const pipe = ctx.pipeline(`matmul_${d.transB ? 't' : 'n'}_${d.accumulate ? 'acc' : 'set'}`, () => matmulCode(d.transB, d.accumulate));
  ctx.dispatch(pipe, [a, b, out], [d.m, d.n, d.k, tilesM, d.aBatch, d.bBatch, { f32: d.alpha }, { f32: d.beta }], [gx, tilesM * d.batch]);
}

export const matmulKernels: KernelTable = {
  matmul: (ctx, { a, b, transB, alpha, beta }, out, _host, given) => {
    if (out.numel === 0) return;
    const batched = out.rank === 3;
    const m = out.shape[out.rank - 2]!;
    const n = out.shape[out.rank - 1]!;
    const k = a.shape[a.rank - 1]!;
    recordMatmul(ctx, a, b, out, {
      batch: batched ? out.shape[0]! : 1, m, n, k, transB: transB ?? false,
      aBatch: a.rank === 3 ? m * k : 0, bBatch: b.rank === 3 ? k * n : 0,
      alpha: alpha ?? 1, beta: beta ?? 0, accumulate: given && (beta ?? 0) !== 0,
    });
  },
};
