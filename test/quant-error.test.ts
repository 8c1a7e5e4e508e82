// Error budgets of the weight formats (named in harness/tolerance.ts): quantize-dequantize round
// trips on normal and heavy-tailed data, and linear with quantized weights against f32 weights on
// GPT-2-124M shapes. Prints the measured figures; asserts each stays within its budget.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../ts/tensor/tensor.js';
import { NativeBackend } from '../ts/backend/native.js';
import { dequantizeI8, quantizeI8 } from '../ts/tensor/i8.js';
import { mulberry32, normals } from './harness/rng.js';
import {
  ERR_LINEAR_INT8_VS_F32,
  ERR_LINEAR_INT8_VS_F32_HEAVY,
  ERR_ROUNDTRIP_HEAVY,
  ERR_ROUNDTRIP_HEAVY_ORDINARY,
  ERR_ROUNDTRIP_NORMAL,
} from './harness/tolerance.js';

type Format = 'f16' | 'bf16' | 'q8_0' | 'i8';
const FORMATS: readonly Format[] = ['f16', 'bf16', 'q8_0', 'i8'];

/** N(0, 1) rows with 1% of the columns (at least one) scaled by 30; returns the outlier columns. */
function heavyTailed(rows: number, cols: number, seed: number): { v: Float32Array; outliers: Set<number> } {
  const v = normals(rows * cols, seed);
  const r = mulberry32(seed + 1);
  const outliers = new Set<number>();
  while (outliers.size < Math.max(1, Math.round(cols * 0.01))) outliers.add(Math.floor(r() * cols));
  for (let i = 0; i < rows; i++) for (const c of outliers) v[i * cols + c]! *= 30;
  return { v, outliers };
}

function roundTrip(f: Format, v: Float32Array, rows: number, cols: number): Float32Array {
  if (f !== 'i8') return Tensor.fromValues(v, [rows, cols], f).toFloat32();
  const { q, scales } = quantizeI8(v, rows, cols);
  return dequantizeI8(q, scales, cols);
}

/** ||a - b|| / ||a|| over the entries whose column passes `keep`. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>, cols: number, keep: (c: number) => boolean = () => true): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    if (!keep(i % cols)) continue;
    num += (a[i]! - b[i]!) ** 2;
    den += a[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('round-trip error per format', () => {
  const rows = 64, cols = 768;
  const normal = normals(rows * cols, 21);
  const heavy = heavyTailed(rows, cols, 22);
  for (const f of FORMATS) {
    it(`${f}: normal and heavy-tailed data`, () => {
      const eN = relErr(normal, roundTrip(f, normal, rows, cols), cols);
      const rt = roundTrip(f, heavy.v, rows, cols);
      const eH = relErr(heavy.v, rt, cols);
      const eO = relErr(heavy.v, rt, cols, (c) => !heavy.outliers.has(c));
      console.log(`round trip ${f}: normal ${eN.toExponential(2)}, heavy ${eH.toExponential(2)}, heavy ordinary columns ${eO.toExponential(2)}`);
      expect(eN).toBeLessThan(ERR_ROUNDTRIP_NORMAL[f]);
      expect(eH).toBeLessThan(ERR_ROUNDTRIP_HEAVY[f]);
      expect(eO).toBeLessThan(ERR_ROUNDTRIP_HEAVY_ORDINARY[f]);
      expect(eN).toBeGreaterThan(0); // a lossless result would mean the format was not applied
    });
  }
  it('blocks beat per-row scales on outlier data, as the formats promise', () => {
    const q8 = relErr(heavy.v, roundTrip('q8_0', heavy.v, rows, cols), cols, (c) => !heavy.outliers.has(c));
    const i8 = relErr(heavy.v, roundTrip('i8', heavy.v, rows, cols), cols, (c) => !heavy.outliers.has(c));
    expect(q8).toBeLessThan(i8 / 2);
  });
});

describe('linear with quantized weights vs f32 weights on GPT-2-124M shapes', () => {
  const backend = new NativeBackend();
  const m = 4;
  const shapes: Array<[number, number]> = [[768, 2304], [768, 768], [768, 3072], [3072, 768]];
  for (const [k, n] of shapes) {
    it(`K=${k} N=${n}`, async () => {
      const w = normals(n * k, k + n, 1 / Math.sqrt(k));
      const f32w = backend.packWeight(Tensor.fromValues(w, [n, k]), { layout: 'reference' });
      const inputs = { normal: normals(m * k, 31), heavy: heavyTailed(m, k, 32).v };
      for (const [name, xv] of Object.entries(inputs)) {
        const x = Tensor.fromValues(xv, [m, k]);
        const want = (await backend.run('linear', { x, weight: f32w })).data as Float32Array;
        const line: string[] = [];
        for (const f of FORMATS) {
          let packed;
          if (f === 'i8') {
            const { q, scales } = quantizeI8(w, n, k);
            packed = backend.packWeight(Tensor.fromArray('i8', [n, k], q), { scales: Tensor.fromArray('f32', [n], scales) });
          } else packed = backend.packWeight(Tensor.fromValues(w, [n, k], f));
          const got = (await backend.run('linear', { x, weight: packed })).data as Float32Array;
          packed.dispose();
          const e = relErr(want, got, n);
          line.push(`${f} ${e.toExponential(2)}`);
          expect(e).toBeLessThan((name === 'normal' ? ERR_LINEAR_INT8_VS_F32 : ERR_LINEAR_INT8_VS_F32_HEAVY)[f]);
        }
        console.log(`linear K=${k} N=${n} ${name} x: ${line.join(', ')}`);
      }
      f32w.dispose();
    });
  }
});
