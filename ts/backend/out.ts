// Checks a caller's `out` tensor against an op's output spec.

import type { Tensor } from '../tensor/tensor.js';
import type { OutputSpec } from './backend.js';
import { fail, sameShape, shapeStr } from './ops/check.js';

export function checkOut(op: string, out: Tensor, spec: OutputSpec): void {
  if (out.dtype !== spec.dtype) fail(op, `'out'.dtype must be ${spec.dtype}, got '${out.dtype}'`, 'type');
  if (!sameShape(out.shape, spec.shape)) fail(op, `'out' must have shape ${shapeStr(spec.shape)}, got ${shapeStr(out.shape)}`);
  if (!out.isContiguous()) fail(op, "'out' must be contiguous");
}
