// Tensor: storage, views (reshape, transpose, slice), conversion, SharedArrayBuffer, q8_0 blocks.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../ts/tensor/tensor.js';
import { dequantizeQ8_0, quantizeQ8_0, roundHalfEven } from '../ts/tensor/q8.js';
import { normals } from './harness/rng.js';

describe('Tensor', () => {
  it('stores values row-major with contiguous strides', () => {
    const t = Tensor.fromValues([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(t.strides).toEqual([3, 1]);
    expect(t.get(1, 2)).toBe(6);
    expect(t.numel).toBe(6);
    expect(t.isContiguous()).toBe(true);
  });

  it('transpose and slice are views; contiguous() copies them in order', () => {
    const t = Tensor.fromValues([1, 2, 3, 4, 5, 6], [2, 3]);
    const tt = t.transpose(0, 1);
    expect(tt.shape).toEqual([3, 2]);
    expect(tt.isContiguous()).toBe(false);
    expect(tt.storage).toBe(t.storage);
    expect([...tt.toFloat32()]).toEqual([1, 4, 2, 5, 3, 6]);
    expect([...tt.contiguous().data]).toEqual([1, 4, 2, 5, 3, 6]);
    const s = t.slice(1, 1, 3);
    expect([...s.toFloat32()]).toEqual([2, 3, 5, 6]);
    expect(() => s.data).toThrow(/not contiguous/);
    const rows = t.slice(0, 1, 2);
    expect(rows.isContiguous()).toBe(true);
    expect([...rows.data]).toEqual([4, 5, 6]);
  });

  it('reshape keeps the elements and infers -1', () => {
    const t = Tensor.fromValues([1, 2, 3, 4, 5, 6], [2, 3]).reshape([3, -1]);
    expect(t.shape).toEqual([3, 2]);
    expect(() => t.reshape([4, -1])).toThrow(RangeError);
    expect(() => t.reshape([-1, -1])).toThrow(/at most one/);
  });

  it('allocates SharedArrayBuffer storage on request', () => {
    const t = Tensor.zeros('f32', [4, 4], { shared: true });
    expect(t.storage.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Tensor.fromValues([1, 2], [2]).to('f16', { shared: true }).storage.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('converts between f32, f16 and bf16', () => {
    const t = Tensor.fromValues([1, -2.5, 65504, 1e-3], [4]);
    expect([...t.to('f16').toFloat32()]).toEqual([1, -2.5, 65504, Math.fround(0.0010004043579101562)]);
    expect(t.to('bf16').get(3)).toBeCloseTo(1e-3, 5);
  });

  it('rejects bad shapes, storage and indices with clear errors', () => {
    expect(() => Tensor.zeros('f32', [2, -1])).toThrow(/shape\[1\]/);
    expect(() => Tensor.zeros('f32', [1.5])).toThrow(RangeError);
    expect(() => Tensor.fromArray('f32', [3], new Float32Array(2))).toThrow(/needs 3/);
    expect(() => Tensor.fromArray('f16', [2], new Float32Array(2) as unknown as Uint16Array)).toThrow(TypeError);
    expect(() => new Tensor('f64' as 'f32', [1], new Float32Array(1))).toThrow(/unknown dtype/);
    expect(() => new Tensor('f32', [2, 2], new Float32Array(4), [2, 1], 1)).toThrow(/does not fit/);
    expect(() => Tensor.fromValues([1, 2, 3], [3]).get(3)).toThrow(/out of range/);
    expect(() => Tensor.zeros('q8_0', [2, 33])).toThrow(/multiple of 32/);
    expect(() => Tensor.zeros('f32', [2, 3]).transpose(0, 5)).toThrow(/out of range/);
  });
});

describe('q8_0', () => {
  it('round-half-to-even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
  });

  it('blocks are 34 bytes: f16 scale then 32 int8, and dequantize within half a step', () => {
    const v = normals(96, 5, 3);
    const q = quantizeQ8_0(v);
    expect(q.length).toBe(3 * 34);
    const back = dequantizeQ8_0(q);
    for (let b = 0; b < 3; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(v[b * 32 + j]!));
      const step = amax / 127;
      for (let j = 0; j < 32; j++) expect(Math.abs(back[b * 32 + j]! - v[b * 32 + j]!)).toBeLessThanOrEqual(step * 0.5 + step * 2e-3);
    }
    const t = Tensor.fromValues(v, [3, 32], 'q8_0');
    expect(t.storage.length).toBe(102);
    expect([...t.toFloat32()]).toEqual([...back]);
  });

  it('an all-zero block has scale 0 and dequantizes to zeros; non-finite input is rejected', () => {
    expect([...dequantizeQ8_0(quantizeQ8_0(new Float32Array(32)))].every((x) => x === 0)).toBe(true);
    const bad = new Float32Array(32);
    bad[3] = NaN;
    expect(() => quantizeQ8_0(bad)).toThrow(/index 3 is not finite/);
    expect(() => quantizeQ8_0(new Float32Array(31))).toThrow(/multiple of 32/);
  });
});
