// matmul semantics the op harness cannot reach: `out` read as C when beta != 0 (and never
// read when beta == 0), threads, and argument errors that name the argument.
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../ts/tensor/tensor.js';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { loadAddon } from '../ts/native.js';
import { normals } from './harness/rng.js';
import { TOL_GEMM_F32 } from './harness/tolerance.js';

const ref = new ReferenceBackend();
const isas = loadAddon().cpuInfo().available;

function close(got: Tensor, want: Tensor): void {
  const g = got.toFloat32();
  const w = want.toFloat32();
  expect(g.length).toBe(w.length);
  for (let i = 0; i < w.length; i++) {
    const err = Math.abs(g[i]! - w[i]!);
    if (!(err <= TOL_GEMM_F32.atol + TOL_GEMM_F32.rtol * Math.abs(w[i]!))) expect.fail(`at ${i}: want ${w[i]}, got ${g[i]}`);
  }
}

const m = (shape: number[], seed: number, scale = 0.3) => Tensor.fromValues(normals(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

describe.each(isas)('matmul on native-%s', (isa) => {
  const be = new NativeBackend({ isa });

  it('reads out as C when beta != 0 (K spanning several k blocks)', async () => {
    for (const [M, K, N] of [[1, 700, 45], [20, 600, 70], [3, 5, 3]] as const) {
      const a = m([M, K], 1);
      const b = m([N, K], 2);
      const c0 = m([M, N], 3, 1);
      const want = ref.runSync('matmul', { a, b, transB: true, alpha: 0.75, beta: -1.5, out: Tensor.fromValues(c0.toFloat32(), [M, N]) });
      const got = await be.run('matmul', { a, b, transB: true, alpha: 0.75, beta: -1.5, out: Tensor.fromValues(c0.toFloat32(), [M, N]) });
      close(got, want);
    }
  });

  it('never reads out when beta is 0 (NaN in out does not leak)', async () => {
    const a = m([9, 40], 4);
    const b = m([40, 35], 5);
    const out = Tensor.fromValues(new Float32Array(9 * 35).fill(NaN), [9, 35]);
    const got = await be.run('matmul', { a, b, out });
    expect(got.toFloat32().some(Number.isNaN)).toBe(false);
    close(got, ref.runSync('matmul', { a, b }));
  });

  it('gives the same result on 1 and 2 threads for shapes that split M and N', async () => {
    const a = m([300, 96], 6);
    const b = m([96, 520], 7);
    const addon = loadAddon();
    const before = addon.getThreads();
    try {
      addon.setThreads(1);
      const one = await be.run('matmul', { a, b });
      addon.setThreads(2);
      const two = await be.run('matmul', { a, b });
      expect(Array.from(two.toFloat32())).toEqual(Array.from(one.toFloat32()));
      // N = 5 is one panel: the threads split M instead.
      const a2 = m([300, 96], 9);
      const b2 = m([96, 5], 8, 1);
      close(await be.run('matmul', { a: a2, b: b2 }), ref.runSync('matmul', { a: a2, b: b2 }));
    } finally {
      addon.setThreads(before);
    }
  });
});

describe('matmul argument errors', () => {
  const be = new NativeBackend();
  const addon = loadAddon();
  const t = (shape: number[]) => ({ dtype: 'f32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  afterAll(() => be.dispose());

  it('names the argument in the native checks', () => {
    expect(() => addon.op('matmul', { a: t([2, 3]), b: t([4, 5]), out: t([2, 5]) })).toThrow(/'a' has K = 3 but 'b'/);
    expect(() => addon.op('matmul', { a: t([2, 3]), b: t([3, 5]), out: t([2, 4]) })).toThrow(RangeError);
    expect(() => addon.op('matmul', { a: t([2, 3]), b: t([3, 5]), out: t([2, 5]), transB: 1 })).toThrow(/'transB' must be a boolean/);
    expect(() => addon.op('matmul', { a: t([2, 3]), b: t([3, 5]), out: t([2, 5]), beta: NaN })).toThrow(/'beta'/);
    expect(() => addon.op('matmul', { a: t([3]), b: t([3, 5]), out: t([5]) })).toThrow(/'a' must have shape/);
    expect(() => addon.op('matmul', { a: t([2, 2, 3]), b: t([3, 3, 5]), out: t([2, 2, 5]) })).toThrow(/batch/);
    expect(() => addon.op('matmul', { a: { dtype: 'f16', shape: [1, 1], data: new Uint16Array(1) }, b: t([1, 1]), out: t([1, 1]) })).toThrow(TypeError);
    const shared = t([4, 4]);
    expect(() => addon.op('matmul', { a: shared, b: t([4, 4]), out: shared })).toThrow(/alias/);
  });

  it('checks in TypeScript before any backend runs', async () => {
    await expect(be.run('matmul', { a: m([2, 3], 1), b: m([2, 3], 2) })).rejects.toThrow(/K = 3/);
    await expect(ref.run('matmul', { a: m([2, 3], 1), b: m([5, 3], 2), transB: true, alpha: Infinity })).rejects.toThrow(/'alpha'/);
  });
});
