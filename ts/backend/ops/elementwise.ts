// Element-wise and row-wise ops: add, mul, scale, gelu, silu, softmax, layerNorm, rmsNorm.
// Specs (checks, output shape) and the f64 TypeScript reference.

import type { Tensor } from '../../tensor/tensor.js';
import { defineOp } from '../registry.js';
import { checkNumber, expectShape, expectTensor, fail, isSuffix, shapeStr } from './check.js';

declare module '../backend.js' {
  interface OpArgs {
    /** a: (..., S) f32, b: (S) f32 (S any suffix of a's shape) -> (..., S) */
    add: { a: Tensor; b: Tensor };
    /** Element-wise product with the same broadcasting as add. */
    mul: { a: Tensor; b: Tensor };
    /** x: (...) f32 -> x * s */
    scale: { x: Tensor; s: number };
    /** GELU; approximate 'none' (erf, default) or 'tanh', as PyTorch names them. */
    gelu: { x: Tensor; approximate?: 'none' | 'tanh' };
    /** x * sigmoid(x) */
    silu: { x: Tensor };
    /** Row-wise over the last dimension, numerically stable; an all -inf row gives zeros, a NaN gives NaNs. */
    softmax: { x: Tensor };
    /** x: (..., C), weight: (C), bias: (C) optional; eps default 1e-5; biased variance. */
    layerNorm: { x: Tensor; weight: Tensor; bias?: Tensor; eps?: number };
    /** x: (..., C), weight: (C); eps default 1e-6. */
    rmsNorm: { x: Tensor; weight: Tensor; eps?: number };
  }
}

/** erf by its Maclaurin series (|x| < 3) or a continued fraction, |error| < 1e-15, no libm. */
export function erf(x: number): number {
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

function binary(op: 'add' | 'mul') {
  defineOp({
    name: op,
    output({ a, b }) {
      expectTensor(op, 'a', a, ['f32']);
      expectTensor(op, 'b', b, ['f32']);
      if (!isSuffix(b.shape, a.shape))
        fail(op, `'b' shape ${shapeStr(b.shape)} must equal 'a' shape ${shapeStr(a.shape)} or a suffix of it (broadcast over leading dimensions)`);
      return { dtype: 'f32', shape: [...a.shape] };
    },
    reference({ a, b }, out) {
      const av = a.toFloat32();
      const bv = b.toFloat32();
      const o = out.data;
      const inner = bv.length;
      for (let i = 0; i < av.length; i++) o[i] = op === 'add' ? av[i]! + bv[i % inner]! : av[i]! * bv[i % inner]!;
    },
  });
}
binary('add');
binary('mul');

defineOp({
  name: 'scale',
  output({ x, s }) {
    expectTensor('scale', 'x', x, ['f32']);
    if (s === undefined) fail('scale', "'s' must be a number", 'type');
    checkNumber('scale', 's', s, -3.4e38, 3.4e38);
    return { dtype: 'f32', shape: [...x.shape] };
  },
  reference({ x, s }, out) {
    const xv = x.toFloat32();
    const o = out.data;
    for (let i = 0; i < xv.length; i++) o[i] = xv[i]! * Math.fround(s);
  },
});

function unary(name: 'gelu' | 'silu', f: (v: number, args: { x: Tensor; approximate?: 'none' | 'tanh' }) => number) {
  defineOp({
    name,
    output(args) {
      expectTensor(name, 'x', args.x, ['f32']);
      const approx = (args as { approximate?: unknown }).approximate;
      if (approx !== undefined && approx !== 'none' && approx !== 'tanh')
        fail(name, `'approximate' must be one of 'none', 'tanh', got '${String(approx)}'`);
      return { dtype: 'f32', shape: [...args.x.shape] };
    },
    reference(args, out) {
      const xv = args.x.toFloat32();
      const o = out.data;
      for (let i = 0; i < xv.length; i++) o[i] = f(xv[i]!, args);
    },
  });
}
const K_GELU = Math.sqrt(2 / Math.PI);
unary('gelu', (v, { approximate }) =>
  approximate === 'tanh' ? 0.5 * v * (1 + Math.tanh(K_GELU * (v + 0.044715 * v * v * v))) : 0.5 * v * (1 + erf(v / Math.SQRT2)),
);
unary('silu', (v) => v / (1 + Math.exp(-v)));

function rowsOf(op: string, x: Tensor): number {
  if (x.rank < 1) fail(op, `'x' must have rank >= 1, got shape ${shapeStr(x.shape)}`);
  return x.shape[x.rank - 1]!;
}

defineOp({
  name: 'softmax',
  output({ x }) {
    expectTensor('softmax', 'x', x, ['f32']);
    rowsOf('softmax', x);
    return { dtype: 'f32', shape: [...x.shape] };
  },
  reference({ x }, out) {
    const xv = x.toFloat32();
    const o = out.data as Float32Array;
    const c = x.shape[x.rank - 1]!;
    for (let off = 0; c > 0 && off < xv.length; off += c) {
      let m = -Infinity;
      let nan = false;
      for (let i = 0; i < c; i++) {
        if (Number.isNaN(xv[off + i]!)) nan = true;
        m = Math.max(m, xv[off + i]!);
      }
      if (nan || m === -Infinity) {
        o.fill(nan ? NaN : 0, off, off + c);
        continue;
      }
      let sum = 0;
      for (let i = 0; i < c; i++) sum += Math.exp(xv[off + i]! - m);
      for (let i = 0; i < c; i++) o[off + i] = Math.exp(xv[off + i]! - m) / sum;
    }
  },
});

function norm(op: 'layerNorm' | 'rmsNorm') {
  defineOp({
    name: op,
    output(args) {
      const x = expectTensor(op, 'x', args.x, ['f32']);
      const c = rowsOf(op, x);
      expectShape(op, 'weight', expectTensor(op, 'weight', args.weight, ['f32']), [c]);
      const bias = (args as { bias?: Tensor }).bias;
      if (op === 'layerNorm' && bias !== undefined) expectShape(op, 'bias', expectTensor(op, 'bias', bias, ['f32']), [c]);
      checkNumber(op, 'eps', args.eps, 0, 1);
      return { dtype: 'f32', shape: [...x.shape] };
    },
    reference(args, out) {
      const xv = args.x.toFloat32();
      const w = args.weight.toFloat32();
      const bias = (args as { bias?: Tensor }).bias;
      const b = bias ? bias.toFloat32() : undefined;
      const o = out.data;
      const c = args.x.shape[args.x.rank - 1]!;
      const eps = Math.fround(args.eps ?? (op === 'layerNorm' ? 1e-5 : 1e-6));
      for (let off = 0; c > 0 && off < xv.length; off += c) {
        if (op === 'layerNorm') {
          let mean = 0;
          for (let i = 0; i < c; i++) mean += xv[off + i]!;
          mean /= c;
          let v = 0;
          for (let i = 0; i < c; i++) v += (xv[off + i]! - mean) ** 2;
          const inv = 1 / Math.sqrt(v / c + eps);
          for (let i = 0; i < c; i++) o[off + i] = (xv[off + i]! - mean) * inv * w[i]! + (b ? b[i]! : 0);
        } else {
          let ss = 0;
          for (let i = 0; i < c; i++) ss += xv[off + i]! ** 2;
          const inv = 1 / Math.sqrt(ss / c + eps);
          for (let i = 0; i < c; i++) o[off + i] = xv[off + i]! * inv * w[i]!;
        }
      }
    },
  });
}
norm('layerNorm');
norm('rmsNorm');
