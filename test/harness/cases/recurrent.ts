// Harness cases for rnn and lstm: awkward batch, length and widths, optional bias and states.
import { Tensor } from '../../../ts/tensor/tensor.js';
import type { OpCase } from '../ops-harness.js';
import { normals } from '../rng.js';
import { TOL_RECURRENT_F32 } from '../tolerance.js';
import { AWKWARD, CaseList } from './util.js';

export function recurrentCases(): OpCase[] {
  const l = new CaseList(5000);
  // Weights scaled by 1/sqrt(fan-in) keep the pre-activations of order 1, as trained layers do.
  const w = (rows: number, cols: number) => Tensor.fromValues(normals(rows * cols, l.seed(), 1 / Math.sqrt(Math.max(cols, 1))), [rows, cols]);
  const shapes: Array<[number, number, number, number]> = [
    ...AWKWARD.map((t, k) => [1 + (k % 3), t, AWKWARD[(k + 3) % AWKWARD.length]!, AWKWARD[(k + 7) % AWKWARD.length]!] as [number, number, number, number]),
    [2, 64, 33, 130], [1, 300, 16, 64], [3, 5, 64, 257],
  ];
  for (const [b, t, i, h] of shapes) {
    const label = `B=${b} T=${t} I=${i} H=${h}`;
    const full = b % 2 === 1;  // alternate: all optional arguments, or none
    l.add('rnn', label, {
      x: l.f32([b, t, i]), wIh: w(h, i), wHh: w(h, h),
      ...(full ? { bias: l.f32([h], 0.1), h0: l.f32([b, h], 0.5) } : {}),
    }, TOL_RECURRENT_F32);
    l.add('lstm', label, {
      x: l.f32([b, t, i]), wIh: w(4 * h, i), wHh: w(4 * h, h),
      ...(full ? { bias: l.f32([4 * h], 0.1), h0: l.f32([b, h], 0.5), c0: l.f32([b, h], 0.5) } : {}),
    }, TOL_RECURRENT_F32);
  }
  return l.cases;
}
