// The benchmark helpers in the addon: calibrate (FMA peak, read bandwidth) gives sane positive
// rates and checks its arguments; openblas matches matmul when a system OpenBLAS is present and
// otherwise fails with a message that says so. Rates are printed, never asserted as speeds.
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../ts/native.js';
import { NativeBackend, NativeWeight } from '../ts/backend/native.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { normals } from './harness/rng.js';

const addon = loadAddon();
const nt = (shape: number[], data?: Float32Array) => ({ dtype: 'f32', shape, data: data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)) });

describe('calibrate', () => {
  it('reports a positive FMA rate and read bandwidth on either clock', () => {
    for (const clock of ['wall', 'cpu'] as const) {
      const out = nt([1]);
      addon.op('calibrate', { kind: 'fma', iterations: 100_000, passes: 1, clock, out });
      expect(out.data[0]).toBeGreaterThan(0);
      expect(Number.isFinite(out.data[0])).toBe(true);
      addon.op('calibrate', { kind: 'read', bytes: 1 << 20, passes: 1, clock, out });
      expect(out.data[0]).toBeGreaterThan(0);
      expect(Number.isFinite(out.data[0])).toBe(true);
    }
  });

  it('names bad arguments', () => {
    expect(() => addon.op('calibrate', { kind: 'flops', out: nt([1]) })).toThrow(/'kind'/);
    expect(() => addon.op('calibrate', { kind: 'read', bytes: 16, out: nt([1]) })).toThrow(/'bytes'/);
    expect(() => addon.op('calibrate', { kind: 'fma', iterations: 0, out: nt([1]) })).toThrow(/'iterations'/);
    expect(() => addon.op('calibrate', { kind: 'fma', clock: 'tsc', out: nt([1]) })).toThrow(/'clock'/);
    expect(() => addon.op('calibrate', { kind: 'fma', out: nt([2]) })).toThrow(/'out'/);
  });
});

describe('openblas (side-by-side baseline)', () => {
  it('matches matmul when present, or says it is absent', () => {
    const [m, k, n] = [5, 37, 19];
    const a = nt([m, k], normals(m * k, 1));
    const b = nt([n, k], normals(n * k, 2));
    const want = nt([m, n]);
    addon.op('matmul', { a, b, transB: true, out: want });
    const got = nt([m, n]);
    let present = true;
    try {
      addon.op('openblas', { a, b, transB: true, out: got, threads: 1 });
    } catch (e) {
      present = false;
      expect((e as Error).message).toMatch(/OpenBLAS/);
    }
    if (present) for (let i = 0; i < m * n; i++) expect(Math.abs(got.data[i]! - want.data[i]!)).toBeLessThan(1e-4);
    console.log(`openblas: ${present ? 'present, results match matmul' : 'absent (the benchmark skips its column)'}`);
  });

  it('checks shapes before looking for the library', () => {
    expect(() => addon.op('openblas', { a: nt([2, 3]), b: nt([4, 5]), out: nt([2, 5]) })).toThrow(/'b'/);
    expect(() => addon.op('openblas', { a: nt([2, 3]), b: nt([3, 5]), out: nt([2, 5]), threads: 0 })).toThrow(/'threads'/);
  });
});

describe('f32 packed weights', () => {
  it('report the GEMM kernel as their variant, and the reference layout its own', () => {
    const be = new NativeBackend();
    const t = Tensor.fromValues(normals(6, 3), [2, 3]);
    const packed = be.packWeight(t) as NativeWeight;
    const ref = be.packWeight(t, { layout: 'reference' }) as NativeWeight;
    expect(packed.variant).toBe(addon.cpuInfo().kernels.gemm);
    expect(ref.variant).toBe('reference');
    // Panels are padded to the kernel's width, never smaller than the weight itself.
    expect(packed.bytes).toBeGreaterThanOrEqual(6 * 4);
    packed.dispose();
    ref.dispose();
    expect(packed.disposed).toBe(true);
  });
});
