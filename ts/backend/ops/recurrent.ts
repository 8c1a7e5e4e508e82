// Recurrent layers: Elman RNN and LSTM over a batch of independent sequences.
// Specs (checks, output shape) and the f64 TypeScript reference; kernels live in the addon.

import type { Tensor } from '../../tensor/tensor.js';
import { defineOp } from '../registry.js';
import { expectShape, expectTensor, fail, shapeStr } from './check.js';

/** Arguments shared by rnn and lstm; G is 1 for rnn and 4 for lstm (gate rows i, f, g, o). */
export interface RecurrentArgs {
  /** x: (B, T, I) f32, B independent sequences of T steps. */
  x: Tensor;
  /** wIh: (G*H, I) f32, as PyTorch's weight_ih_l0. */
  wIh: Tensor;
  /** wHh: (G*H, H) f32, as PyTorch's weight_hh_l0. */
  wHh: Tensor;
  /** bias: (G*H) f32, PyTorch's bias_ih_l0 + bias_hh_l0 (absent: zero). */
  bias?: Tensor;
  /** h0: (B, H) f32, the initial hidden state (absent: zero). */
  h0?: Tensor;
}

declare module '../backend.js' {
  interface OpArgs {
    /** Elman RNN, h_t = tanh(wIh x_t + wHh h_{t-1} + bias) -> (B, T, H) f32, every h_t. */
    rnn: RecurrentArgs;
    /**
     * LSTM with PyTorch's gate order (i, f, g, o): c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t);
     * c0: (B, H) f32 (absent: zero) -> (B, T, H) f32, every h_t.
     */
    lstm: RecurrentArgs & { c0?: Tensor };
  }
}

export interface RecurrentShape {
  b: number;
  t: number;
  i: number;
  h: number;
}

export function checkRecurrent(op: string, a: RecurrentArgs & { c0?: Tensor }, gates: number): RecurrentShape {
  expectTensor(op, 'x', a.x, ['f32']);
  expectTensor(op, 'wIh', a.wIh, ['f32']);
  expectTensor(op, 'wHh', a.wHh, ['f32']);
  if (a.x.rank !== 3) fail(op, `'x' must have shape [B, T, I], got ${shapeStr(a.x.shape)}`);
  const [b, t, i] = a.x.shape as [number, number, number];
  if (a.wHh.rank !== 2 || a.wHh.shape[0] !== gates * a.wHh.shape[1]!)
    fail(op, `'wHh' must have shape [${gates === 1 ? '' : `${gates}*`}H, H], got ${shapeStr(a.wHh.shape)}`);
  const h = a.wHh.shape[1]!;
  expectShape(op, 'wIh', a.wIh, [gates * h, i]);
  if (a.bias !== undefined) expectShape(op, 'bias', expectTensor(op, 'bias', a.bias, ['f32']), [gates * h]);
  if (a.h0 !== undefined) expectShape(op, 'h0', expectTensor(op, 'h0', a.h0, ['f32']), [b, h]);
  if (a.c0 !== undefined) {
    if (gates === 1) fail(op, "'c0' is an LSTM argument", 'type');
    expectShape(op, 'c0', expectTensor(op, 'c0', a.c0, ['f32']), [b, h]);
  }
  return { b, t, i, h };
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Plain reference: the recurrence as written, in f64, one sequence at a time. */
function recurrentReference(a: RecurrentArgs & { c0?: Tensor }, s: RecurrentShape, gates: number, o: Float32Array): void {
  const x = a.x.toFloat32();
  const wi = a.wIh.toFloat32();
  const wh = a.wHh.toFloat32();
  const bias = a.bias?.toFloat32();
  const h0 = a.h0?.toFloat32();
  const c0 = a.c0?.toFloat32();
  const { b, t, i: ni, h: nh } = s;
  const z = new Float64Array(gates * nh);
  for (let bb = 0; bb < b; bb++) {
    const h = Float64Array.from({ length: nh }, (_, j) => h0?.[bb * nh + j] ?? 0);
    const c = Float64Array.from({ length: nh }, (_, j) => c0?.[bb * nh + j] ?? 0);
    for (let tt = 0; tt < t; tt++) {
      const xo = (bb * t + tt) * ni;
      for (let r = 0; r < gates * nh; r++) {
        let acc = bias?.[r] ?? 0;
        for (let k = 0; k < ni; k++) acc += wi[r * ni + k]! * x[xo + k]!;
        for (let k = 0; k < nh; k++) acc += wh[r * nh + k]! * h[k]!;
        z[r] = acc;
      }
      for (let j = 0; j < nh; j++) {
        if (gates === 1) h[j] = Math.tanh(z[j]!);
        else {
          const ig = sigmoid(z[j]!);
          const fg = sigmoid(z[nh + j]!);
          const gg = Math.tanh(z[2 * nh + j]!);
          const og = sigmoid(z[3 * nh + j]!);
          c[j] = fg * c[j]! + ig * gg;
          h[j] = og * Math.tanh(c[j]!);
        }
      }
      o.set(h, (bb * t + tt) * nh);
    }
  }
}

for (const [name, gates] of [['rnn', 1], ['lstm', 4]] as const) {
  defineOp({
    name,
    output(args) {
      const s = checkRecurrent(name, args, gates);
      return { dtype: 'f32', shape: [s.b, s.t, s.h] };
    },
    reference(args, out) {
      recurrentReference(args, checkRecurrent(name, args, gates), gates, out.data as Float32Array);
    },
  });
}
