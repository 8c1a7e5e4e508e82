// The op harness (after ggml's test-backend-ops): every op, on awkward shapes, on every
// backend, compared with the reference backend. It checks values within the dtype's named
// tolerance, NaN/Inf parity, guard bytes around the output that must stay untouched, and that
// inputs are not modified. Cases live in cases/<family>.ts, one file per op family.

import { Tensor } from '../../ts/tensor/tensor.js';
import { DTYPES, storageLength } from '../../ts/tensor/dtype.js';
import type { Backend, OpArgs, OpName, PackWeightOptions, Weight } from '../../ts/backend/backend.js';
import { ReferenceBackend } from '../../ts/backend/reference.js';
import { opSpec } from '../../ts/backend/registry.js';
import { bf16ToF32, f16ToF32 } from '../../ts/tensor/half.js';
import type { Tolerance } from './tolerance.js';

export interface OpCase<K extends OpName = OpName> {
  op: K;
  label: string;
  args: OpArgs[K];
  tol: Tolerance;
  /**
   * Backends (by name) that do not implement this case yet and must refuse it with an error
   * matching the pattern, never compute something else.
   */
  refusedBy?: Readonly<Record<string, RegExp>>;
}

/**
 * Stands in for a Weight in a case's args: the harness packs the tensor on each backend
 * (packed weights belong to the backend that made them).
 */
export class WeightArg {
  constructor(
    readonly tensor: Tensor,
    readonly options: PackWeightOptions = {},
  ) {}
  /** Typed as a Weight so it can sit in OpArgs; resolved by resolveWeights(). */
  asWeight(): Weight {
    return this as unknown as Weight;
  }
}

function resolveWeights<A extends object>(backend: Backend, args: A): { args: A; packed: Weight[] } {
  const packed: Weight[] = [];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v instanceof WeightArg) {
      const w = backend.packWeight(v.tensor, v.options);
      packed.push(w);
      out[k] = w;
    } else out[k] = v;
  }
  return { args: out as A, packed };
}

const GUARD = 64; // guard elements on each side of every output
const GUARD_BYTE = 0xa5;

export interface CheckResult {
  ok: boolean;
  message: string;
  maxAbsErr: number;
}

function allocGuarded(dtype: keyof typeof DTYPES, shape: number[]): { out: Tensor; bytes: Uint8Array; lo: number; hi: number } {
  // Storage units, not values: a q8_0 output holds 34 bytes per 32 values.
  const n = storageLength(dtype, shape.reduce((a, b) => a * b, 1));
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
    // The whole storage, so strided views (transpose, slice) are covered as well.
    .map((t) => [t, new Uint8Array(t.storage.buffer, t.storage.byteOffset, t.storage.byteLength).slice()]);
}

/** Runs one case on `backend` and compares with the reference. */
export async function checkCase(backend: Backend, c: OpCase): Promise<CheckResult> {
  const ref = new ReferenceBackend();
  const refArgs = resolveWeights(ref, c.args);
  const want = decoded(ref.runSync(c.op, refArgs.args));
  const spec = opSpec(c.op).output(refArgs.args);
  const g = allocGuarded(spec.dtype, spec.shape);
  const inputs = snapshot(c.args);
  const bArgs = resolveWeights(backend, c.args);
  try {
    await backend.run(c.op, { ...bArgs.args, out: g.out });
  } finally {
    for (const w of [...refArgs.packed, ...bArgs.packed]) w.dispose();
  }
  for (let i = 0; i < g.lo; i++)
    if (g.bytes[i] !== GUARD_BYTE) return { ok: false, message: `guard bytes before the output were overwritten (byte ${i - g.lo})`, maxAbsErr: NaN };
  for (let i = g.hi; i < g.bytes.length; i++)
    if (g.bytes[i] !== GUARD_BYTE) return { ok: false, message: `guard bytes after the output were overwritten (byte +${i - g.hi})`, maxAbsErr: NaN };
  for (const [t, before] of inputs) {
    const now = new Uint8Array(t.storage.buffer, t.storage.byteOffset, t.storage.byteLength);
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

