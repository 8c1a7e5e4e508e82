// Output shapes and argument checks shared by every backend, so that a backend in TypeScript
// fails on bad input with the same message as the native one.

import type { Tensor } from '../tensor/tensor.js';
import type { OpArgs, OpName, OutputSpec } from './backend.js';

function fail(op: string, msg: string, type: 'type' | 'range' = 'range'): never {
  throw type === 'type' ? new TypeError(`${op}: ${msg}`) : new RangeError(`${op}: ${msg}`);
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function expectDType(op: string, name: string, t: Tensor | undefined, allowed: readonly string[]): Tensor {
  if (t === undefined || t === null || typeof t !== 'object' || !('dtype' in t)) fail(op, `'${name}' must be a tensor`, 'type');
  if (!allowed.includes(t.dtype)) fail(op, `'${name}'.dtype must be one of ${allowed.join(', ')}, got '${t.dtype}'`, 'type');
  return t;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function isSuffix(suffix: readonly number[], shape: readonly number[]): boolean {
  if (suffix.length > shape.length) return false;
  return suffix.every((d, i) => d === shape[shape.length - suffix.length + i]);
}

function checkNumber(op: string, name: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number') fail(op, `'${name}' must be a number`, 'type');
  if (!(v >= min && v <= max)) fail(op, `'${name}' must be a finite number in [${min}, ${max}], got ${v}`);
}

export function outputSpec<K extends OpName>(op: K, args: OpArgs[K]): OutputSpec {
  const a = args as OpArgs[OpName] & Record<string, unknown>;
  switch (op) {
    case 'add':
    case 'mul': {
      const { a: x, b } = a as OpArgs['add'];
      expectDType(op, 'a', x, ['f32']);
      expectDType(op, 'b', b, ['f32']);
      if (!isSuffix(b.shape, x.shape))
        fail(op, `'b' shape ${shapeStr(b.shape)} must equal 'a' shape ${shapeStr(x.shape)} or a suffix of it (broadcast over leading dimensions)`);
      return { dtype: 'f32', shape: [...x.shape] };
    }
    case 'scale':
      expectDType(op, 'x', (a as OpArgs['scale']).x, ['f32']);
      checkNumber(op, 's', (a as OpArgs['scale']).s, -3.4e38, 3.4e38);
      return { dtype: 'f32', shape: [...(a as OpArgs['scale']).x.shape] };
    case 'gelu': {
      const g = a as OpArgs['gelu'];
      expectDType(op, 'x', g.x, ['f32']);
      if (g.approximate !== undefined && g.approximate !== 'none' && g.approximate !== 'tanh')
        fail(op, `'approximate' must be one of 'none', 'tanh', got '${String(g.approximate)}'`);
      return { dtype: 'f32', shape: [...g.x.shape] };
    }
    case 'silu':
    case 'softmax': {
      const x = expectDType(op, 'x', (a as OpArgs['silu']).x, ['f32']);
      if (op === 'softmax' && x.rank < 1) fail(op, `'x' must have rank >= 1, got shape ${shapeStr(x.shape)}`);
      return { dtype: 'f32', shape: [...x.shape] };
    }
    case 'layerNorm':
    case 'rmsNorm': {
      const n = a as OpArgs['layerNorm'];
      const x = expectDType(op, 'x', n.x, ['f32']);
      if (x.rank < 1) fail(op, `'x' must have rank >= 1, got shape ${shapeStr(x.shape)}`);
      const c = x.shape[x.rank - 1]!;
      expectDType(op, 'weight', n.weight, ['f32']);
      if (!sameShape(n.weight.shape, [c])) fail(op, `'weight' must have shape [${c}], got ${shapeStr(n.weight.shape)}`);
      if (op === 'layerNorm' && n.bias !== undefined) {
        expectDType(op, 'bias', n.bias, ['f32']);
        if (!sameShape(n.bias.shape, [c])) fail(op, `'bias' must have shape [${c}], got ${shapeStr(n.bias.shape)}`);
      }
      checkNumber(op, 'eps', n.eps, 0, 1);
      return { dtype: 'f32', shape: [...x.shape] };
    }
    case 'embedding': {
      const e = a as OpArgs['embedding'];
      const table = expectDType(op, 'table', e.table, ['f32', 'f16', 'bf16']);
      const ids = expectDType(op, 'ids', e.ids, ['i32']);
      if (table.rank !== 2) fail(op, `'table' must have shape [vocab, dim], got ${shapeStr(table.shape)}`);
      const vocab = table.shape[0]!;
      const flat = ids.contiguous().data as Int32Array;
      flat.forEach((id, i) => {
        if (id < 0 || id >= vocab) fail(op, `'ids[${i}]' = ${id} is outside [0, ${vocab})`);
      });
      return { dtype: 'f32', shape: [...ids.shape, table.shape[1]!] };
    }
    case 'rope': {
      const r = a as OpArgs['rope'];
      const x = expectDType(op, 'x', r.x, ['f32']);
      if (x.rank !== 3) fail(op, `'x' must have shape [tokens, heads, headDim], got ${shapeStr(x.shape)}`);
      const pos = expectDType(op, 'positions', r.positions, ['i32']);
      if (!sameShape(pos.shape, [x.shape[0]!])) fail(op, `'positions' must have shape [${x.shape[0]}], got ${shapeStr(pos.shape)}`);
      checkNumber(op, 'theta', r.theta, 1, 1e12);
      const d = x.shape[2]!;
      if (r.rotaryDim !== undefined && (!Number.isInteger(r.rotaryDim) || r.rotaryDim < 0 || r.rotaryDim > d))
        fail(op, `'rotaryDim' must be an integer in [0, ${d}], got ${r.rotaryDim}`);
      if ((r.rotaryDim ?? d) % 2 !== 0) fail(op, `'rotaryDim' must be even, got ${r.rotaryDim ?? d}`);
      (pos.contiguous().data as Int32Array).forEach((p, i) => {
        if (p < 0) fail(op, `'positions[${i}]' must be >= 0, got ${p}`);
      });
      return { dtype: 'f32', shape: [...x.shape] };
    }
    case 'sinusoidal': {
      const s = a as OpArgs['sinusoidal'];
      const pos = expectDType(op, 'positions', s.positions, ['i32']);
      if (pos.rank !== 1) fail(op, `'positions' must have shape [tokens], got ${shapeStr(pos.shape)}`);
      if (!Number.isSafeInteger(s.dim) || s.dim < 0) fail(op, `'dim' must be a non-negative integer, got ${s.dim}`);
      checkNumber(op, 'base', s.base, 1, 1e12);
      return { dtype: 'f32', shape: [pos.shape[0]!, s.dim] };
    }
    case 'cast': {
      const c = a as OpArgs['cast'];
      expectDType(op, 'x', c.x, ['f32', 'f16', 'bf16']);
      if (c.dtype !== 'f32' && c.dtype !== 'f16' && c.dtype !== 'bf16')
        fail(op, `'dtype' must be one of f32, f16, bf16, got '${String(c.dtype)}'`);
      return { dtype: c.dtype, shape: [...c.x.shape] };
    }
    default:
      return fail(String(op), 'unknown op');
  }
}

/** Checks that a caller's `out` tensor matches the op's output. */
export function checkOut(op: string, out: Tensor, spec: OutputSpec): void {
  if (out.dtype !== spec.dtype) fail(op, `'out'.dtype must be ${spec.dtype}, got '${out.dtype}'`, 'type');
  if (!sameShape(out.shape, spec.shape)) fail(op, `'out' must have shape ${shapeStr(spec.shape)}, got ${shapeStr(out.shape)}`);
  if (!out.isContiguous()) fail(op, `'out' must be contiguous`);
}
