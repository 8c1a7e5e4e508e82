// The reference backend: plain TypeScript, one obvious loop per op, f64 arithmetic rounded to
// f32 on store. Slow on purpose and never deleted: every other backend is judged against it.

import { Tensor } from '../tensor/tensor.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../tensor/half.js';
import type { Backend, OpArgs, OpName, OutArg } from './backend.js';
import { OP_NAMES } from './backend.js';
import { checkOut, outputSpec } from './ops.js';

function erf(x: number): number {
  // erf by its Maclaurin series for |x| < 3 and a continued fraction beyond: |error| < 1e-15,
  // far below f32 resolution, with no dependence on any platform's libm.
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz), x >= 3.
  let f = ax;
  let c = ax;
  let d = 0;
  for (let k = 1; k < 200; k++) {
    const an = k / 2;
    d = ax + an * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = ax + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return x > 0 ? 1 - erfc : erfc - 1;
}

function values(t: Tensor): Float32Array {
  return t.toFloat32();
}

function softmaxRow(x: Float32Array, o: Float32Array, off: number, n: number): void {
  let m = -Infinity;
  let nan = false;
  for (let i = 0; i < n; i++) {
    const v = x[off + i]!;
    if (Number.isNaN(v)) nan = true;
    if (v > m) m = v;
  }
  if (nan || m === -Infinity) {
    o.fill(nan ? NaN : 0, off, off + n);
    return;
  }
  let sum = 0;
  const e = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    e[i] = Math.exp(x[off + i]! - m);
    sum += e[i]!;
  }
  for (let i = 0; i < n; i++) o[off + i] = e[i]! / sum;
}

/** Computes one op into a new Float32Array (or f16/bf16 storage for cast). */
function compute<K extends OpName>(op: K, args: OpArgs[K], out: Tensor): void {
  const o = out.data;
  switch (op) {
    case 'add':
    case 'mul': {
      const { a, b } = args as OpArgs['add'];
      const av = values(a);
      const bv = values(b);
      const inner = bv.length;
      for (let i = 0; i < av.length; i++) o[i] = op === 'add' ? av[i]! + bv[i % inner]! : av[i]! * bv[i % inner]!;
      return;
    }
    case 'scale': {
      const { x, s } = args as OpArgs['scale'];
      const xv = values(x);
      for (let i = 0; i < xv.length; i++) o[i] = xv[i]! * Math.fround(s);
      return;
    }
    case 'gelu': {
      const { x, approximate } = args as OpArgs['gelu'];
      const xv = values(x);
      const k = Math.sqrt(2 / Math.PI);
      for (let i = 0; i < xv.length; i++) {
        const v = xv[i]!;
        o[i] = approximate === 'tanh' ? 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v * v * v))) : 0.5 * v * (1 + erf(v / Math.SQRT2));
      }
      return;
    }
    case 'silu': {
      const xv = values((args as OpArgs['silu']).x);
      for (let i = 0; i < xv.length; i++) o[i] = xv[i]! / (1 + Math.exp(-xv[i]!));
      return;
    }
    case 'softmax': {
      const { x } = args as OpArgs['softmax'];
      const xv = values(x);
      const c = x.shape[x.rank - 1]!;
      for (let r = 0; c > 0 && r < xv.length / c; r++) softmaxRow(xv, o as Float32Array, r * c, c);
      return;
    }
    case 'layerNorm':
    case 'rmsNorm': {
      const { x, weight, bias, eps } = args as OpArgs['layerNorm'];
      const xv = values(x);
      const w = values(weight);
      const b = bias ? values(bias) : undefined;
      const c = x.shape[x.rank - 1]!;
      const e = Math.fround(eps ?? (op === 'layerNorm' ? 1e-5 : 1e-6));
      for (let r = 0; c > 0 && r < xv.length / c; r++) {
        const off = r * c;
        if (op === 'layerNorm') {
          let mean = 0;
          for (let i = 0; i < c; i++) mean += xv[off + i]!;
          mean /= c;
          let v = 0;
          for (let i = 0; i < c; i++) v += (xv[off + i]! - mean) ** 2;
          const inv = 1 / Math.sqrt(v / c + e);
          for (let i = 0; i < c; i++) o[off + i] = (xv[off + i]! - mean) * inv * w[i]! + (b ? b[i]! : 0);
        } else {
          let ss = 0;
          for (let i = 0; i < c; i++) ss += xv[off + i]! ** 2;
          const inv = 1 / Math.sqrt(ss / c + e);
          for (let i = 0; i < c; i++) o[off + i] = xv[off + i]! * inv * w[i]!;
        }
      }
      return;
    }
    case 'embedding': {
      const { table, ids } = args as OpArgs['embedding'];
      const tv = values(table);
      const iv = ids.contiguous().data as Int32Array;
      const c = table.shape[1]!;
      for (let t = 0; t < iv.length; t++) for (let j = 0; j < c; j++) o[t * c + j] = tv[iv[t]! * c + j]!;
      return;
    }
    case 'rope': {
      const { x, positions, theta = 10000, rotaryDim, interleaved = false } = args as OpArgs['rope'];
      const xv = values(x);
      const pv = positions.contiguous().data as Int32Array;
      const [n, h, d] = x.shape as [number, number, number];
      const rd = rotaryDim ?? d;
      const half = rd / 2;
      // f32 frequencies and angles, as Hugging Face computes them.
      const invFreq = new Float32Array(half);
      for (let i = 0; i < half; i++) invFreq[i] = Math.fround(1 / Math.fround(Math.fround(theta) ** Math.fround((2 * i) / rd)));
      for (let t = 0; t < n; t++) {
        for (let hh = 0; hh < h; hh++) {
          const base = (t * h + hh) * d;
          for (let i = 0; i < half; i++) {
            const ang = Math.fround(Math.fround(pv[t]!) * invFreq[i]!);
            const cs = Math.fround(Math.cos(ang));
            const sn = Math.fround(Math.sin(ang));
            const i0 = interleaved ? 2 * i : i;
            const i1 = interleaved ? 2 * i + 1 : i + half;
            const x0 = xv[base + i0]!;
            const x1 = xv[base + i1]!;
            o[base + i0] = x0 * cs - x1 * sn;
            o[base + i1] = x1 * cs + x0 * sn;
          }
          for (let j = rd; j < d; j++) o[base + j] = xv[base + j]!;
        }
      }
      return;
    }
    case 'sinusoidal': {
      const { positions, dim, base = 10000 } = args as OpArgs['sinusoidal'];
      const pv = positions.contiguous().data as Int32Array;
      for (let t = 0; t < pv.length; t++)
        for (let j = 0; j < dim; j++) {
          const a = pv[t]! * base ** (-(j - (j % 2)) / dim);
          o[t * dim + j] = j % 2 === 0 ? Math.sin(a) : Math.cos(a);
        }
      return;
    }
    case 'cast': {
      const { x, dtype } = args as OpArgs['cast'];
      const xv = x.dtype === 'f32' ? values(x) : x.contiguous().data;
      for (let i = 0; i < xv.length; i++) {
        const v = x.dtype === 'f16' ? f16ToF32(xv[i]!) : x.dtype === 'bf16' ? bf16ToF32(xv[i]!) : xv[i]!;
        o[i] = dtype === 'f16' ? f32ToF16(v) : dtype === 'bf16' ? f32ToBf16(v) : v;
      }
      return;
    }
  }
}

export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  readonly ops: ReadonlySet<OpName> = new Set(OP_NAMES);
  private disposed = false;

  /** Synchronous form, for tests and for building goldens in TypeScript. */
  runSync<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Tensor {
    if (this.disposed) throw new Error('reference backend is disposed');
    const spec = outputSpec(op, args);
    const out = args.out ?? Tensor.zeros(spec.dtype, spec.shape);
    checkOut(op, out, spec);
    compute(op, args, out);
    return out;
  }

  async run<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Promise<Tensor> {
    return this.runSync(op, args);
  }

  dispose(): void {
    this.disposed = true;
  }
}
