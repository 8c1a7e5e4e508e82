// Argument checks shared by the op specs, worded like the native addon's messages.

import type { Tensor } from '../../tensor/tensor.js';

export function fail(op: string, msg: string, type: 'type' | 'range' = 'range'): never {
  throw type === 'type' ? new TypeError(`${op}: ${msg}`) : new RangeError(`${op}: ${msg}`);
}

export function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

export function expectTensor(op: string, name: string, t: Tensor | undefined, dtypes: readonly string[]): Tensor {
  if (t === undefined || t === null || typeof t !== 'object' || !('dtype' in t) || !('shape' in t))
    fail(op, `'${name}' must be a tensor`, 'type');
  if (!dtypes.includes(t.dtype)) fail(op, `'${name}'.dtype must be one of ${dtypes.join(', ')}, got '${t.dtype}'`, 'type');
  return t;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (!sameShape(t.shape, shape)) fail(op, `'${name}' must have shape ${shapeStr(shape)}, got ${shapeStr(t.shape)}`);
}

export function isSuffix(suffix: readonly number[], shape: readonly number[]): boolean {
  if (suffix.length > shape.length) return false;
  return suffix.every((d, i) => d === shape[shape.length - suffix.length + i]);
}

export function checkNumber(op: string, name: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number') fail(op, `'${name}' must be a number, got ${typeof v}`, 'type');
  if (!(v >= min && v <= max)) fail(op, `'${name}' must be a finite number in [${min}, ${max}], got ${v}`);
}

export function checkInteger(op: string, name: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number') fail(op, `'${name}' must be an integer, got ${typeof v}`, 'type');
  if (!Number.isInteger(v) || v < min || v > max) fail(op, `'${name}' must be an integer in [${min}, ${max}], got ${v}`);
}
