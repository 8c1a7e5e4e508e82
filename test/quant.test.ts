// The int8 formats: native quantize/dequantize bit-equal to the TypeScript ones on large random
// data, malformed quantized data rejected with clear errors, and the int8 kernels checked exactly
// against an emulation of their activation quantization (so the harness budgets are not hiding bugs).
import { describe, expect, it } from 'vitest';
import { Tensor } from '../ts/tensor/tensor.js';
import { NativeBackend, NativeWeight } from '../ts/backend/native.js';
import { loadAddon } from '../ts/native.js';
import { dequantizeQ8_0, quantizeQ8_0 } from '../ts/tensor/q8.js';
import { dequantizeI8, quantizeI8, quantizeI8WithScales, rowScalesI8 } from '../ts/tensor/i8.js';
import { f16ToF32 } from '../ts/tensor/half.js';
import { ints, mulberry32, normals } from './harness/rng.js';

const isas = loadAddon().cpuInfo().available;
const backends = isas.map((isa) => new NativeBackend({ isa }));

/** Random f32 values over many magnitudes (random exponents), both signs. */
function wideValues(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() - 0.5) * 2 ** Math.floor(r() * 40 - 20);
  return v;
}

function bytesOf(a: ArrayBufferView | Tensor): Uint8Array {
  const d = a instanceof Tensor ? a.data : a;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Byte equality of two arrays, reporting the first differing byte (fast on large arrays). */
function expectSameBits(got: ArrayBufferView | Tensor, want: ArrayBufferView): void {
  const g = bytesOf(got);
  const w = bytesOf(want);
  expect(g.length).toBe(w.length);
  if (!Buffer.from(g.buffer, g.byteOffset, g.length).equals(Buffer.from(w.buffer, w.byteOffset, w.length))) {
    const i = g.findIndex((v, j) => v !== w[j]);
    expect(`byte ${i}: ${g[i]}`).toBe(`byte ${i}: ${w[i]}`);
  }
}

describe('int8 formats: native and TypeScript agree bit for bit', () => {
  const x = Tensor.fromValues(wideValues(256 * 1024, 1), [1024, 256]);
  it.each(backends.map((b) => [b.name, b] as const))('q8_0 quantize and dequantize (%s)', async (_n, b) => {
    const q = await b.run('quantize', { x, dtype: 'q8_0' });
    expectSameBits(q, quantizeQ8_0(x.toFloat32()));
    const d = await b.run('dequantize', { x: q });
    expectSameBits(d, dequantizeQ8_0(q.data as Uint8Array));
  });
  it.each(backends.map((b) => [b.name, b] as const))('per-row i8 scales, quantize and dequantize (%s)', async (_n, b) => {
    const s = await b.run('rowScales', { x });
    expectSameBits(s, rowScalesI8(x.toFloat32(), 1024, 256));
    const q = await b.run('quantize', { x, dtype: 'i8', scales: s });
    expectSameBits(q, quantizeI8WithScales(x.toFloat32(), s.data as Float32Array, 256));
    const d = await b.run('dequantize', { x: q, scales: s });
    expectSameBits(d, dequantizeI8(q.data as Int8Array, s.data as Float32Array, 256));
  });
  it('rounds exact ties to even in both', () => {
    const v = new Float32Array(32);
    v[0] = 127; // step exactly 1
    v[1] = 2.5;
    v[2] = 3.5;
    v[3] = -2.5;
    const q = new Int8Array(quantizeQ8_0(v).buffer, 2, 4);
    expect([...q]).toEqual([127, 2, 4, -2]);
  });
  it('q8_0 block layout is GGUF Q8_0: little-endian f16 scale, then 32 int8', () => {
    const v = Float32Array.from({ length: 32 }, (_, i) => i - 16);
    const b = quantizeQ8_0(v);
    expect(b.length).toBe(34);
    expect(f16ToF32(b[0]! | (b[1]! << 8))).toBeCloseTo(16 / 127, 4);
    expect(new Int8Array(b.buffer, 2, 32)[0]).toBe(-127);
  });
});

describe('malformed quantized data is rejected', () => {
  const b = backends[0]!;
  const good = Tensor.fromValues(normals(4 * 64, 3), [4, 64], 'q8_0');
  const withScale = (bits: number) => {
    const bytes = (good.data as Uint8Array).slice();
    bytes[34 * 5] = bits & 0xff;
    bytes[34 * 5 + 1] = bits >>> 8;
    return Tensor.fromArray('q8_0', [4, 64], bytes);
  };
  for (const [what, bits] of [['NaN', 0x7e00], ['+Inf', 0x7c00], ['-Inf', 0xfc00]] as const) {
    it(`a ${what} q8_0 scale in packWeight, dequantize and the reference`, async () => {
      const bad = withScale(bits);
      expect(() => b.packWeight(bad)).toThrow(/packWeight: 'weight' \(q8_0\) block 1 of row 2 has a non-finite scale/);
      await expect(b.run('dequantize', { x: bad })).rejects.toThrow(/dequantize: 'x' \(q8_0\) block 5 has a non-finite scale/);
      expect(() => dequantizeQ8_0(bad.data as Uint8Array)).toThrow(/block 5 has a non-finite scale/);
    });
  }
  it('a q8_0 block count that does not match the shape', () => {
    const addon = loadAddon() as unknown as { packWeight(a: unknown): unknown };
    expect(() => addon.packWeight({ weight: { dtype: 'q8_0', shape: [4, 64], data: new Uint8Array(34 * 7) } })).toThrow(
      /'weight'.data has 238 elements but shape \[4, 64\] \(q8_0\) needs 272/,
    );
    expect(() => addon.packWeight({ weight: { dtype: 'q8_0', shape: [4, 48], data: new Uint8Array(34 * 6) } })).toThrow(
      /last dimension must be a multiple of 32/,
    );
    expect(() => Tensor.fromArray('q8_0', [4, 64], new Uint8Array(34 * 7))).toThrow(RangeError);
  });
  it('non-finite or missing i8 scales', () => {
    const { q } = quantizeI8(normals(3 * 5, 4), 3, 5);
    const w = Tensor.fromArray('i8', [3, 5], q);
    for (const s of [NaN, Infinity, -Infinity]) {
      const scales = Tensor.fromValues([1, s, 1], [3]);
      expect(() => b.packWeight(w, { scales })).toThrow(/'scales'\[1\] is not finite/);
    }
    expect(() => b.packWeight(w)).toThrow(/i8 weights need 'scales'/);
    expect(() => b.packWeight(w, { scales: Tensor.fromValues([1, 1], [2]) })).toThrow(/'scales' must have shape \[3\]/);
  });
  it('values q8_0 cannot represent', async () => {
    const v = normals(64, 5);
    v[3] = NaN;
    await expect(b.run('quantize', { x: Tensor.fromValues(v, [64]), dtype: 'q8_0' })).rejects.toThrow(/'x' holds a non-finite value at flat index 3/);
    expect(() => quantizeQ8_0(v)).toThrow(/not finite/);
    v[3] = 1e10;
    await expect(b.run('quantize', { x: Tensor.fromValues(v, [64]), dtype: 'q8_0' })).rejects.toThrow(/beyond q8_0's f16 scale/);
    expect(() => quantizeQ8_0(v)).toThrow(/f16 scale/);
  });
});

describe('int8 kernels against an exact emulation of on-the-fly activation quantization', () => {
  // Per-row i8: integer dot products are exact, so every kernel must give exactly
  // f32(sum) * (w_scale * x_scale), the same float operations the emulation performs.
  const m = 9, k = 771, n = 37;
  const xv = normals(m * k, 11);
  const { q: wq, scales: ws } = quantizeI8(normals(n * k, 12, 0.05), n, k);
  const { q: xq, scales: xs } = quantizeI8(xv, m, k);
  const want = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += xq[i * k + p]! * wq[j * k + p]!;
      want[i * n + j] = Math.fround(s * Math.fround(ws[j]! * xs[i]!));
    }
  it.each(backends.map((b) => [b.name, b] as const))('per-row i8 is exact (%s)', async (_n, b) => {
    const w = b.packWeight(Tensor.fromArray('i8', [n, k], wq), { scales: Tensor.fromArray('f32', [n], ws) });
    const out = await b.run('linear', { x: Tensor.fromValues(xv, [m, k]), weight: w });
    w.dispose();
    expectSameBits(out, want);
  });

  // q8_0: per-block integer dots scaled in f32; only the order of the f32 sum differs.
  const k8 = 800 - 800 % 32;
  const w8 = Tensor.fromValues(normals(n * k8, 13, 0.05), [n, k8], 'q8_0');
  const x8 = normals(m * k8, 14);
  const xb = quantizeQ8_0(x8); // the same rounding as the kernel's activation quantization
  const wb = w8.data as Uint8Array;
  const nb = k8 / 32;
  const want8 = new Float64Array(m * n);
  const scale = (bytes: Uint8Array, blk: number) => f16ToF32(bytes[blk * 34]! | (bytes[blk * 34 + 1]! << 8));
  const xScale = (i: number, b: number) => {
    let amax = 0;
    for (let p = 0; p < 32; p++) amax = Math.max(amax, Math.abs(x8[i * k8 + b * 32 + p]!));
    return Math.fround(amax / 127); // the kernel keeps the activation scale in f32, not f16
  };
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let b = 0; b < nb; b++) {
        let s = 0;
        for (let p = 0; p < 32; p++) s += ((xb[(i * nb + b) * 34 + 2 + p]! << 24) >> 24) * ((wb[(j * nb + b) * 34 + 2 + p]! << 24) >> 24);
        acc += s * scale(wb, j * nb + b) * xScale(i, b);
      }
      want8[i * n + j] = acc;
    }
  it.each(backends.map((b) => [b.name, b] as const))('q8_0 matches to f32 rounding (%s)', async (_n, b) => {
    const w = b.packWeight(w8);
    const out = await b.run('linear', { x: Tensor.fromValues(x8, [m, k8]), weight: w });
    w.dispose();
    const o = out.data as Float32Array;
    for (let i = 0; i < o.length; i++) expect(Math.abs(o[i]! - want8[i]!)).toBeLessThan(1e-5 + 1e-5 * Math.abs(want8[i]!));
  });

  it('random int8 weights including -128 (GGUF files may hold it)', async () => {
    const q = new Int8Array(ints(n * 64, 15, -128, 128));
    q[0] = -128;
    const scales = Tensor.fromValues(normals(n, 16, 0.01), [n]);
    const x = Tensor.fromValues(normals(3 * 64, 17), [3, 64]);
    const outs: Float32Array[] = [];
    for (const b of backends) {
      const w = b.packWeight(Tensor.fromArray('i8', [n, 64], q), { scales });
      outs.push((await b.run('linear', { x, weight: w })).data as Float32Array);
      w.dispose();
    }
    for (const o of outs) expectSameBits(o, outs[outs.length - 1]!);
  });
});

describe('kernel selection', () => {
  const features = loadAddon().cpuInfo().features;
  const expected: Record<string, string> = {
    avx512: 'avx512_vnni',
    avx2: features.avxvnni ? 'avx_vnni' : 'avx2_maddubs',
    neon: features.neonDotprod ? 'neon_dot' : 'scalar',
    scalar: 'scalar',
  };
  it.each(isas.map((isa) => [isa] as const))('cpuInfo and every quantized weight report the %s variant', async (isa) => {
    const addon = loadAddon();
    const before = addon.cpuInfo().isa;
    addon.setIsa(isa);
    try {
      expect(addon.cpuInfo().kernels.quant).toBe(expected[isa]);
      const b = new NativeBackend({ isa });
      const v = normals(8 * 64, 18);
      const { q, scales } = quantizeI8(v, 8, 64);
      const weights = [
        b.packWeight(Tensor.fromValues(v, [8, 64], 'f16')),
        b.packWeight(Tensor.fromValues(v, [8, 64], 'bf16')),
        b.packWeight(Tensor.fromValues(v, [8, 64], 'q8_0')),
        b.packWeight(Tensor.fromArray('i8', [8, 64], q), { scales: Tensor.fromArray('f32', [8], scales) }),
      ];
      for (const w of weights) {
        expect((w as NativeWeight).variant).toBe(expected[isa]);
        w.dispose();
      }
    } finally {
      addon.setIsa(before);
    }
  });
});

describe('concurrent linear calls with quantized weights', () => {
  it('give the same results as one at a time (activation scratch is per calling thread)', async () => {
    const b = new NativeBackend();
    const [m, k, n] = [5, 96, 40];
    const w = b.packWeight(Tensor.fromValues(normals(n * k, 19, 0.1), [n, k], 'q8_0'));
    const xs = Array.from({ length: 8 }, (_, i) => Tensor.fromValues(normals(m * (i + 1) * k, 20 + i), [m * (i + 1), k]));
    const alone: Tensor[] = [];
    for (const x of xs) alone.push(await b.run('linear', { x, weight: w }));
    const together = await Promise.all(xs.map((x) => b.run('linear', { x, weight: w })));
    together.forEach((t, i) => expectSameBits(t, alone[i]!.data));
    w.dispose();
  });
});
