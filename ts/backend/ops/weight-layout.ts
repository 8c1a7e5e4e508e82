// The stored layouts packWeight accepts (PackWeightOptions.transposed / columns), checked the same
// way on every backend, and the plain TS reorientation that the reference and WebGPU backends use.
// Not a packer: the native backend reads the strides in C++ (native/src/weights.h, WeightSource).

import { DTYPES } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { PackWeightOptions } from '../backend.js';
import { fail, shapeStr } from './check.js';

/** What a stored weight becomes: W (N, K) read from a (K, Nt) tensor's columns [n0, n0 + N), or as is. */
export interface WeightLayout {
  readonly transposed: boolean;
  readonly n0: number;
  readonly n: number;
  readonly k: number;
}

/** Checks the layout options against the stored shape (TypeError / RangeError naming the option). */
export function weightLayout(dtype: Tensor['dtype'], shape: readonly number[], options: PackWeightOptions): WeightLayout {
  const { transposed, columns } = options;
  if (transposed !== undefined && typeof transposed !== 'boolean') fail('packWeight', `'transposed' must be a boolean, got ${String(transposed)}`, 'type');
  if (shape.length !== 2) fail('packWeight', `'weight' must have shape [outFeatures, inFeatures], got ${shapeStr(shape)}`);
  if (!transposed) {
    if (columns !== undefined) fail('packWeight', "'columns' needs 'transposed': true (row ranges of an (N, K) weight are views of it)", 'type');
    return { transposed: false, n0: 0, n: shape[0]!, k: shape[1]! };
  }
  if (DTYPES[dtype].blockSize > 1) fail('packWeight', `'transposed' needs an element dtype; ${dtype} stores blocks along K`, 'type');
  const [k, nt] = shape as [number, number];
  const [c0, c1] = columns ?? [0, nt];
  if (!Number.isInteger(c0) || !Number.isInteger(c1) || c0 < 0 || c1 > nt || c0 >= c1)
    fail('packWeight', `'columns' must be [start, end) with 0 <= start < end <= ${nt}, got [${String(c0)}, ${String(c1)}]`);
  return { transposed: true, n0: c0, n: c1 - c0, k };
}

/** The weight as a contiguous (N, K) tensor: a copy when it was stored transposed. */
export function orientWeight(tensor: Tensor, options: PackWeightOptions): Tensor {
  // Without layout options the backend's own checks speak (their messages are tested).
  if (options.transposed === undefined && options.columns === undefined) return tensor;
  const l = weightLayout(tensor.dtype, tensor.shape, options);
  if (!l.transposed) return tensor;
  return tensor.transpose(0, 1).slice(0, l.n0, l.n0 + l.n).contiguous();
}
