// The weight-format table (ts/tensor/formats.ts, native/src/formats.h) drives these checks, one
// set per format: reference round trip within its named tolerance, TS dequantize bit for bit
// against the C++ reference, block geometry against tensor byte sizes, GGUF type id round trip.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../ts/native.js';
import { GGUFFile } from '../ts/io/gguf.js';
import { SafetensorsFile } from '../ts/io/safetensors.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { WEIGHT_DTYPES, WEIGHT_FORMATS, formatBytes, formatOfGgufType, formatOfSafetensors, type WeightDType } from '../ts/tensor/formats.js';
import { ggufBytes, safetensorsBytes } from './helpers/checkpoint-writers.js';
import { TOL_BF16, TOL_EXACT, TOL_F16, TOL_Q8_0_ROUNDTRIP, type Tolerance } from './harness/tolerance.js';
import { normals } from './harness/rng.js';

// Per-value budgets; the 4- to 6-bit formats have RMSE budgets instead (test/kquants.test.ts).
const ROUND_TRIP: Readonly<Partial<Record<WeightDType, Tolerance>>> = { f32: TOL_EXACT, f16: TOL_F16, bf16: TOL_BF16, q8_0: TOL_Q8_0_ROUNDTRIP };

const dir = mkdtempSync(join(tmpdir(), 'attnode-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

describe.each(WEIGHT_DTYPES.map((d) => [d, WEIGHT_FORMATS[d]] as const))('weight format %s', (dtype, f) => {
  // 7 blocks of (at least) 32 values, so q8_0 gets whole blocks and the rest odd counts.
  const n = 7 * Math.max(32, f.blockSize);
  const x = normals(n, 11);

  it('reference quantize -> dequantize stays within its named tolerance', () => {
    const q = f.quantize(x);
    expect(q.byteLength).toBe((n / f.blockSize) * f.blockBytes);
    const y = f.dequantize(q);
    expect(y.length).toBe(n);
    const tol = ROUND_TRIP[dtype];
    if (!tol) return;
    for (let i = 0; i < n; i++) expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(x[i]!));
  });

  it('TS reference dequantize equals the C++ reference bit for bit, and the C++ entry matches', () => {
    const addon = loadAddon();
    const entry = addon.formats().find((e) => e.name === dtype);
    expect(entry).toEqual({ name: dtype, ggufType: f.ggufType, safetensors: f.safetensors ?? null, blockSize: f.blockSize, blockBytes: f.blockBytes, align: f.align, reference: true });
    const q = f.quantize(x);
    // Odd byte offset: the C++ side must not assume an aligned view.
    const shifted = new Uint8Array(q.byteLength + 1).subarray(1);
    shifted.set(q);
    expect(bits(addon.formatDequantize(dtype, shifted))).toEqual(bits(f.dequantize(q)));
  });

  it('bytes per block x blocks is the byte size of tensors and file views', () => {
    const shape = [3, 2 * Math.max(32, f.blockSize)];
    const numel = shape[0]! * shape[1]!;
    const bytes = (numel / f.blockSize) * f.blockBytes;
    expect(formatBytes(dtype, numel)).toBe(bytes);
    expect(Tensor.zeros(dtype, shape).storage.byteLength).toBe(bytes);
    if (f.blockSize > 1) expect(() => formatBytes(dtype, f.blockSize + 1)).toThrow(RangeError);
  });

  it('GGUF type id round trips through a file, with the same bytes back', () => {
    expect(formatOfGgufType(f.ggufType)).toBe(f);
    const shape = [2, Math.max(64, f.blockSize)];
    const data = f.quantize(normals(shape[0]! * shape[1]!, 5));
    const path = join(dir, `${dtype}.gguf`);
    writeFileSync(path, ggufBytes({}, { w: { shape, type: f.ggufType, bytes: data } }));
    const g = new GGUFFile(path);
    try {
      const info = g.tensors.get('w')!;
      expect(info.type).toBe(f.ggufType);
      expect(info.typeName).toBe(f.ggufName);
      expect(info.byteLength).toBe(data.byteLength);
      const t = g.tensor('w');
      expect(t.dtype).toBe(dtype);
      expect(t.byteLength).toBe(data.byteLength);
      expect(new Uint8Array(g.file.read(t.byteOffset, t.byteLength))).toEqual(data);
    } finally {
      g.dispose();
    }
  });

  it('safetensors dtype name maps to the format (block formats have none)', () => {
    if (f.safetensors === undefined) {
      expect(f.blockSize).toBeGreaterThan(1);
      return;
    }
    expect(formatOfSafetensors(f.safetensors)).toBe(f);
    const path = join(dir, `${dtype}.safetensors`);
    writeFileSync(path, safetensorsBytes({ w: { dtype: f.safetensors, shape: [4, 8], bytes: f.quantize(normals(32, 2)) } }));
    const st = new SafetensorsFile(path);
    try {
      expect(st.tensor('w').dtype).toBe(dtype);
    } finally {
      st.dispose();
    }
  });
});

describe('weight-format table', () => {
  it('names every format once, in TS and C++ alike', () => {
    const ids = WEIGHT_DTYPES.map((d) => WEIGHT_FORMATS[d].ggufType);
    expect(new Set(ids).size).toBe(ids.length);
    const native = loadAddon().formats().filter((e) => e.reference).map((e) => e.name);
    expect(native).toEqual([...WEIGHT_DTYPES].sort((a, b) => native.indexOf(a) - native.indexOf(b)));
    expect(new Set(native)).toEqual(new Set(WEIGHT_DTYPES));
  });

  it('GGUF types outside the table are listed but not loaded', () => {
    expect(formatOfGgufType(9)).toBeUndefined(); // Q8_1
    const path = join(dir, 'q8_1.gguf');
    writeFileSync(path, ggufBytes({}, { w: { shape: [1, 32], type: 9, bytes: new Uint8Array(36) } }));
    const g = new GGUFFile(path);
    try {
      expect(() => g.tensor('w')).toThrow(/type Q8_1, which attnode does not load; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K/);
    } finally {
      g.dispose();
    }
  });
});
