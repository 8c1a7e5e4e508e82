// The op harness (after ggml's test-backend-ops): every op, on awkward shapes, on every
// backend, compared with the reference backend. It checks values within the dtype's named
// tolerance, NaN/Inf parity, guard bytes around the output that must stay untouched, and that
// inputs are not modified.

import { Tensor } from '../../ts/tensor/tensor.js';
import { DTYPES } from '../../ts/tensor/dtype.js';
import type { Backend, OpArgs, OpName } from '../../ts/backend/backend.js';
import { ReferenceBackend } from '../../ts/backend/reference.js';
import { outputSpec } from '../../ts/backend/ops.js';
import { bf16ToF32, f16ToF32 } from '../../ts/tensor/half.js';
import { ints, normals } from './rng.js';
import { TOL_BF16, TOL_EXACT, TOL_F16, TOL_F32, type Tolerance } from './tolerance.js';

/** Lengths that exercise the tails after SIMD loops. */
export const AWKWARD = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 127] as const;

export interface OpCase<K extends OpName = OpName> {
  op: K;
  label: string;
  args: OpArgs[K];
  tol: Tolerance;
}

const GUARD = 64; // guard elements on each side of every output
const GUARD_BYTE = 0xa5;

let seed = 1;
function f32(shape: number[], scale = 1, special = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = normals(n, seed++, scale);
  if (special && n > 3) {
    // NaN and large finite values: NaN must propagate to the same places on every backend.
    v[0] = NaN;
    v[Math.floor(n / 2)] = 40;
    v[n - 1] = -40;
  }
  return Tensor.fromValues(v, shape);
}

function rowShapes(): number[][] {
  return [...AWKWARD.map((c) => [3, c]), [1, 1024], [2, 5, 33], [4, 4097]];
}

/** Every op's cases: at least 12 shape sets each. */
export function opCases(): OpCase[] {
  seed = 1;
  const cases: OpCase[] = [];
  const add = <K extends OpName>(op: K, label: string, args: OpArgs[K], tol: Tolerance = TOL_F32) =>
    cases.push({ op, label, args, tol } as OpCase);

  const flat = [...AWKWARD.map((n) => [n]), [0], [7, 33], [3, 5, 127], [70001]];
  for (const s of flat) {
    add('add', `[${s}]`, { a: f32(s), b: f32(s) });
    add('mul', `[${s}]`, { a: f32(s), b: f32(s) });
    add('scale', `[${s}]`, { x: f32(s), s: -1.75 });
    add('gelu', `erf [${s}]`, { x: f32(s, 3, true) });
    add('gelu', `tanh [${s}]`, { x: f32(s, 3, true), approximate: 'tanh' });
    add('silu', `[${s}]`, { x: f32(s, 3, true) });
  }
  // Broadcast of a row (bias add) and of a trailing block.
  for (const [rows, c] of [[3, 1], [5, 17], [2, 33], [17, 127]] as const) {
    add('add', `broadcast [${rows},${c}] + [${c}]`, { a: f32([rows, c]), b: f32([c]) });
    add('mul', `broadcast [${rows},${c}] * [${c}]`, { a: f32([rows, c]), b: f32([c]) });
  }
  add('add', 'inf parity', { a: Tensor.fromValues([Infinity, -Infinity, NaN, 1, Infinity], [5]), b: Tensor.fromValues([1, 2, 3, NaN, -Infinity], [5]) });

  for (const s of rowShapes()) {
    add('softmax', `[${s}]`, { x: f32(s, 4) });
    add('layerNorm', `[${s}]`, { x: f32(s, 2), weight: f32([s.at(-1)!]), bias: f32([s.at(-1)!]), eps: 1e-5 });
    add('rmsNorm', `[${s}]`, { x: f32(s, 2), weight: f32([s.at(-1)!]), eps: 1e-6 });
  }
  add('layerNorm', 'no bias [5,33]', { x: f32([5, 33]), weight: f32([33]) });
  add('layerNorm', 'offset mean [4,100]', { x: Tensor.fromValues(normals(400, 99).map((v) => v + 50), [4, 100]), weight: f32([100]) });
  {
    // Masked rows: -inf entries, a fully masked row (zeros, never NaN), a NaN row, huge logits.
    const v = normals(4 * 17, 7, 3);
    v[2] = -Infinity;
    for (let i = 17; i < 34; i++) v[i] = -Infinity;
    v[40] = NaN;
    v[60] = 1e30;
    add('softmax', 'masked rows [4,17]', { x: Tensor.fromValues(v, [4, 17]) });
    add('softmax', 'long row [1,8192]', { x: f32([1, 8192], 30) });
  }

  for (const [v, c, n] of [[1, 1, 1], [7, 3, 5], [50, 17, 33], [127, 64, 8], [3, 127, 2], [1000, 33, 31]] as const) {
    const ids = Tensor.fromArray('i32', [n], ints(n, seed++, 0, v));
    const tbl = normals(v * c, seed++);
    add('embedding', `f32 V=${v} C=${c} N=${n}`, { table: Tensor.fromValues(tbl, [v, c]), ids }, TOL_EXACT);
    add('embedding', `f16 V=${v} C=${c} N=${n}`, { table: Tensor.fromValues(tbl, [v, c], 'f16'), ids }, TOL_EXACT);
  }
  add('embedding', 'bf16 ids [2,3]', { table: Tensor.fromValues(normals(40, 3), [10, 4], 'bf16'), ids: Tensor.fromArray('i32', [2, 3], new Int32Array([0, 9, 3, 3, 1, 8])) }, TOL_EXACT);

  for (const [n, h, d, rd, inter] of [
    [1, 1, 2, undefined, false], [3, 2, 8, undefined, false], [5, 3, 16, 8, false], [7, 4, 64, undefined, false],
    [17, 2, 128, undefined, false], [2, 12, 64, 32, false], [1, 1, 2, undefined, true], [3, 5, 8, undefined, true],
    [33, 2, 64, undefined, true], [4, 3, 10, 6, true], [31, 1, 6, 4, false], [2, 2, 4, 0, false],
  ] as const) {
    const positions = Tensor.fromArray('i32', [n], ints(n, seed++, 0, 4096));
    add('rope', `N=${n} H=${h} D=${d} rd=${rd ?? d}${inter ? ' interleaved' : ''}`, {
      x: f32([n, h, d]), positions, rotaryDim: rd, interleaved: inter, theta: 10000,
    }, { atol: 1e-4, rtol: 1e-4 });
  }
  add('rope', 'theta 500000 N=5 H=2 D=128', { x: f32([5, 2, 128]), positions: Tensor.fromArray('i32', [5], new Int32Array([0, 1, 2, 1000, 8191])), theta: 500000 }, { atol: 1e-4, rtol: 1e-4 });

  for (const [n, d] of [[1, 1], [1, 2], [3, 3], [5, 8], [7, 15], [8, 16], [2, 17], [9, 31], [4, 33], [3, 127], [16, 768], [2, 1]] as const) {
    add('sinusoidal', `N=${n} D=${d}`, { positions: Tensor.fromArray('i32', [n], ints(n, seed++, 0, 2048)), dim: d }, { atol: 2e-4, rtol: 1e-5 });
  }

  for (const s of [...AWKWARD.map((n) => [n]), [3, 33]]) {
    const v = normals(s.reduce((a, b) => a * b, 1), seed++, 100);
    if (v.length > 2) {
      v[0] = 65520; // rounds to f16 infinity
      v[1] = 1e-8; // f16 subnormal range
    }
    add('cast', `f32->f16 [${s}]`, { x: Tensor.fromValues(v, s), dtype: 'f16' }, TOL_EXACT);
    add('cast', `f32->bf16 [${s}]`, { x: Tensor.fromValues(v, s), dtype: 'bf16' }, TOL_EXACT);
    add('cast', `f16->f32 [${s}]`, { x: Tensor.fromValues(v, s, 'f16'), dtype: 'f32' }, TOL_EXACT);
  }
  return cases;
}

export interface CheckResult {
  ok: boolean;
  message: string;
  maxAbsErr: number;
}

function allocGuarded(dtype: 'f32' | 'f16' | 'bf16', shape: number[]): { out: Tensor; bytes: Uint8Array; lo: number; hi: number } {
  const n = shape.reduce((a, b) => a * b, 1);
  const Arr = DTYPES[dtype].array;
  const storage = new Arr(new ArrayBuffer((n + 2 * GUARD) * Arr.BYTES_PER_ELEMENT), 0, n + 2 * GUARD);
  const bytes = new Uint8Array(storage.buffer);
  bytes.fill(GUARD_BYTE);
  const view = storage.subarray(GUARD, GUARD + n);
  return { out: Tensor.fromArray(dtype, shape, view), bytes, lo: GUARD * Arr.BYTES_PER_ELEMENT, hi: (GUARD + n) * Arr.BYTES_PER_ELEMENT };
}

function decoded(t: Tensor): Float64Array {
  const d = t.data;
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = t.dtype === 'f16' ? f16ToF32(d[i]!) : t.dtype === 'bf16' ? bf16ToF32(d[i]!) : d[i]!;
  return out;
}

function snapshot(args: object): Array<[Tensor, Uint8Array]> {
  return Object.values(args)
    .filter((v): v is Tensor => v instanceof Tensor)
    .map((t) => [t, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice()]);
}

/** Runs one case on `backend` and compares with the reference. */
export async function checkCase(backend: Backend, c: OpCase): Promise<CheckResult> {
  const ref = new ReferenceBackend();
  const want = decoded(ref.runSync(c.op, c.args));
  const spec = outputSpec(c.op, c.args);
  const g = allocGuarded(spec.dtype as 'f32' | 'f16' | 'bf16', spec.shape);
  const inputs = snapshot(c.args);
  await backend.run(c.op, { ...c.args, out: g.out });
  for (let i = 0; i < g.lo; i++)
    if (g.bytes[i] !== GUARD_BYTE) return { ok: false, message: `guard bytes before the output were overwritten (byte ${i - g.lo})`, maxAbsErr: NaN };
  for (let i = g.hi; i < g.bytes.length; i++)
    if (g.bytes[i] !== GUARD_BYTE) return { ok: false, message: `guard bytes after the output were overwritten (byte +${i - g.hi})`, maxAbsErr: NaN };
  for (const [t, before] of inputs) {
    const now = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (now.some((b, i) => b !== before[i])) return { ok: false, message: `an input tensor ${t} was modified`, maxAbsErr: NaN };
  }
  const got = decoded(g.out);
  let maxAbsErr = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const v = got[i]!;
    if (Number.isNaN(w) || Number.isNaN(v)) {
      if (Number.isNaN(w) !== Number.isNaN(v)) return { ok: false, message: `NaN parity at ${i}: want ${w}, got ${v}`, maxAbsErr: NaN };
      continue;
    }
    if (!Number.isFinite(w) || !Number.isFinite(v)) {
      if (w !== v) return { ok: false, message: `Inf parity at ${i}: want ${w}, got ${v}`, maxAbsErr: NaN };
      continue;
    }
    const err = Math.abs(v - w);
    maxAbsErr = Math.max(maxAbsErr, err);
    if (err > c.tol.atol + c.tol.rtol * Math.abs(w))
      return { ok: false, message: `value at ${i}: want ${w}, got ${v} (|err| ${err.toExponential(3)} > ${c.tol.atol} + ${c.tol.rtol}*|want|)`, maxAbsErr: err };
  }
  return { ok: true, message: 'ok', maxAbsErr };
}

export { TOL_F16, TOL_BF16 };
