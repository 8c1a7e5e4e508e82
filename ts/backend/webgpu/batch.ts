// runBatch for the WebGPU backend: a planned pass (the graph executor's ops over views of host
// slots and parameters, and rows of sequence states) recorded into one command encoder on the
// device copies of that host memory (resident.ts) and the states' device pages (state.ts),
// submitted once, with only the named outputs read back.
// Not the kernels nor the submission: BatchDevice is what the backend lends this file.

import type {} from 'webgpu';
import { Tensor } from '../../tensor/tensor.js';
import type { DType } from '../../tensor/dtype.js';
import type { BatchIO, BatchOp, OpName, StateRowsArg } from '../backend.js';
import { checkOut } from '../out.js';
import { opSpec } from '../registry.js';
import { fail, sameShape, shapeStr } from '../ops/check.js';
import { GPUTensor } from './buffers.js';
import { HOST_CHECKED, type WebGPUKernel } from './kernels/context.js';
import { regionOf, type HostMirrors, type Mirror, type Region } from './resident.js';
import { bindRows, isStateRows, pagedRows, stateOf, type BoundRows } from './state-rows.js';
import type { StatePart, WebGPUSequenceState } from './state.js';

/** Device bytes [offset, offset + size) (whole words) for the host, handed to `into`. */
export interface ReadPart {
  buffer: GPUBuffer;
  offset: number;
  size: number;
  into(bytes: Uint8Array): void;
}

/** What runBatch needs from the backend: recording in order, and one submit with read-backs. */
export interface BatchDevice {
  /** The backend, which GPUTensor views name as their owner. */
  readonly owner: object;
  readonly mirrors: HostMirrors;
  /** Offsets at which a storage buffer may be bound. */
  readonly offsetAlign: number;
  kernel(op: OpName): WebGPUKernel<OpName>;
  /** Records `kernel` writing `dst` (which holds the caller's values: matmul's beta reads them). */
  invoke(kernel: WebGPUKernel<OpName>, resolved: Record<string, unknown>, dst: GPUTensor, host: unknown): void;
  alloc(dtype: DType, shape: readonly number[]): GPUTensor;
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void;
  /** Host bytes into a buffer, after the work recorded so far. */
  write(dst: GPUBuffer, offset: number, bytes: Uint8Array): void;
  /** Opens the batch's error scopes and encoder (once). */
  begin(): void;
  /** Submits everything recorded with these copies to the host: one submit, one mapping. */
  readBack(parts: readonly ReadPart[]): Promise<void>;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
const roundDown = (n: number, m: number) => n - (n % m);

/** Ops that read their `out` as an input (matmul's C with beta). */
const readsOut = (op: BatchOp): boolean => op.op === 'matmul' && ((op.args as { beta?: number }).beta ?? 0) !== 0;

/** What a batch needs: byte ranges of host memory on the device, and rows of sequence states. */
interface BatchNeeds {
  readonly host: Map<ArrayBufferLike, { lo: number; hi: number }>;
  /** The rows each state's parts must cover: what they hold, or the end of the rows the batch writes. */
  readonly states: Map<WebGPUSequenceState, Record<StatePart, number>>;
}

/**
 * The checks, before anything is recorded: every op known, its arguments valid (the op's spec),
 * host tensors contiguous, state rows within their states, and values the host checks not
 * written on the device. Returns what the batch needs on the device.
 */
function checkBatch(dev: BatchDevice, ops: readonly BatchOp[], io: BatchIO | undefined): BatchNeeds {
  const needs = new Map<ArrayBufferLike, { lo: number; hi: number }>();
  const need = (t: Tensor, what: string) => {
    if (!t.isContiguous()) fail('runBatch', `${what} must be contiguous`);
    const r = regionOf(t);
    const n = needs.get(r.storage);
    needs.set(r.storage, n ? { lo: Math.min(n.lo, r.lo), hi: Math.max(n.hi, r.hi) } : { lo: r.lo, hi: r.hi });
  };
  const written = new Set<ArrayBufferLike>();
  const states = new Map<WebGPUSequenceState, Record<StatePart, number>>();
  const rowsOf = (s: WebGPUSequenceState) => {
    let r = states.get(s);
    if (!r) states.set(s, (r = { self: s.length, static: s.staticLength }));
    return r;
  };
  const reads: { s: WebGPUSequenceState; part: StatePart; to: number; what: string }[] = [];
  const writes = new Set<string>();
  const stateIds = new Map<WebGPUSequenceState, number>();
  ops.forEach((o, i) => {
    dev.kernel(o.op);
    const out = o.args.out;
    if (!(out instanceof Tensor) && !isStateRows(out)) fail('runBatch', `op ${i} (${o.op}) needs 'out': a host Tensor or rows of a sequence state`, 'type');
    for (const [k, v] of Object.entries(o.args)) {
      if (v instanceof GPUTensor) fail('runBatch', `'${k}' of op ${i} (${o.op}) is a GPUTensor; runBatch takes host tensors (use record() for device tensors)`, 'type');
      if (isStateRows(v)) {
        const s = stateOf(dev.owner, v, `op ${i} (${o.op})`, k);
        const rows = rowsOf(s);
        if (k === 'out') {
          // Rows are appended: a write starts where the part's filled rows end.
          const filled = v.part === 'self' ? s.length : s.staticLength;
          if (v.from !== filled) fail('runBatch', `'out' of op ${i} (${o.op}) writes ${v.part} rows from ${v.from}, but the state holds ${filled}; state rows are appended`);
          if (!stateIds.has(s)) stateIds.set(s, stateIds.size);
          const key = `${stateIds.get(s)}:${v.part}:${v.layer}:${v.which}`;
          if (writes.has(key)) fail('runBatch', `'out' of op ${i} (${o.op}) writes layer ${v.layer} ${v.which.toUpperCase()} ${v.part} rows of a state a second time in one pass (is one state in two segments?)`);
          writes.add(key);
          rows[v.part] = Math.max(rows[v.part], v.to);
        } else reads.push({ s, part: v.part, to: v.to, what: `'${k}' of op ${i} (${o.op})` });
        continue;
      }
      if (!(v instanceof Tensor)) continue;
      need(v, `'${k}' of op ${i} (${o.op})`);
      const storage = v.storage.buffer;
      if (HOST_CHECKED[o.op] === k && (written.has(storage) || (io && dev.mirrors.get(storage)?.written)))
        fail('runBatch', `'${k}' of op ${i} (${o.op}) is written on the device by an earlier op; its values are checked on the host, so it must come from the host`);
    }
    const spec = opSpec(o.op).output(o.args as never);
    if (out instanceof Tensor) {
      checkOut(o.op, out, spec);
      written.add(out.storage.buffer);
    } else if (readsOut(o)) fail('runBatch', `op ${i} (${o.op}) reads its 'out' (beta), which state rows cannot be`);
    else if (out.dtype !== spec.dtype || !sameShape(out.shape, spec.shape))
      fail(o.op, `'out' (state rows) must be ${spec.dtype} ${shapeStr(spec.shape)}, got ${out.dtype} ${shapeStr(out.shape)}`);
  });
  for (const r of reads) {
    const have = states.get(r.s)![r.part];
    if (r.to > have) fail('runBatch', `${r.what} reads ${r.part} rows up to ${r.to}, but the state holds ${have} after this pass's writes`);
  }
  for (const t of [...(io?.inputs ?? []), ...(io?.outputs ?? [])]) {
    if (!(t instanceof Tensor)) fail('runBatch', "'io' inputs and outputs must be host Tensors", 'type');
    if (!needs.has(t.storage.buffer)) fail('runBatch', `${t} in 'io' is not an argument of any op in the batch`);
    need(t, `${t} in 'io'`);
  }
  return { host: needs, states };
}

/** Byte offset of region `r` in mirror `m`, which device copies need to be a multiple of 4. */
function wordOffset(r: Region, m: Mirror, op: string, name: string): number {
  const off = r.lo - m.lo;
  if (off % 4 !== 0 || ((r.hi - r.lo) % 4 !== 0 && r.hi !== r.storage.byteLength))
    fail('runBatch', `'${name}' of ${op} lies at byte ${r.lo} of its memory with ${r.hi - r.lo} bytes; the device copies whole 4-byte words`);
  return off;
}

/** A device view of host tensor `t` in its mirror, or a copy of it when it cannot be bound in place. */
function viewOf(dev: BatchDevice, m: Mirror, t: Tensor, temps: GPUTensor[], op: string, name: string): GPUTensor {
  const r = regionOf(t);
  if (r.hi === r.lo) return GPUTensor.over(dev.owner, m.buffer, t.dtype, t.shape, 0);
  if ((r.lo - m.lo) % dev.offsetAlign === 0) return GPUTensor.over(dev.owner, m.buffer, t.dtype, t.shape, r.lo - m.lo);
  const g = dev.alloc(t.dtype, t.shape);
  temps.push(g);
  dev.copy(m.buffer, wordOffset(r, m, op, name), g.buffer, 0, roundUp(g.byteLength, 4));
  return g;
}

/** Uploads the host bytes of region `r` into its mirror, in recording order. */
function uploadRegion(dev: BatchDevice, m: Mirror, r: Region): void {
  const lo = roundDown(r.lo, 4);
  const hi = Math.min(roundUp(r.hi, 4), m.hi);
  if ((lo !== r.lo || (hi !== r.hi && r.hi !== r.storage.byteLength)) && m.written)
    fail('runBatch', `an input of ${r.hi - r.lo} bytes at byte ${r.lo} shares 4-byte words with bytes written on the device`);
  if (hi <= lo) return;
  const bytes = new Uint8Array(hi - lo);
  bytes.set(new Uint8Array(r.storage, lo, Math.min(hi, r.storage.byteLength) - lo));
  dev.write(m.buffer, lo - m.lo, bytes);
}

/** Records op `o` on the mirrors; `written` holds the host memory earlier ops wrote on the device. */
function recordOp(dev: BatchDevice, o: BatchOp, mirrorOf: ReadonlyMap<ArrayBufferLike, Mirror>, written: Set<ArrayBufferLike>, resident: boolean): void {
  const temps: GPUTensor[] = [];
  const given: Record<string, unknown> = {};
  const resolved: Record<string, unknown> = {};
  const inputs = new Set<ArrayBufferLike>();
  const bound: BoundRows[] = [];
  for (const [k, v] of Object.entries(o.args)) {
    if (k === 'out') continue;
    if (isStateRows(v)) {
      const s = stateOf(dev.owner, v, o.op, k);
      // Attention reads K and V through the page table; other readers get the rows copied together.
      const g = o.op === 'attention' && v.from === 0 ? pagedRows(dev, v, s) : (bound.push(bindRows(dev, v, s, false)), bound[bound.length - 1]!.tensor);
      given[k] = resolved[k] = g;
      continue;
    }
    if (!(v instanceof Tensor)) {
      given[k] = resolved[k] = v;
      continue;
    }
    const storage = v.storage.buffer;
    const g = viewOf(dev, mirrorOf.get(storage)!, v, temps, o.op, k);
    inputs.add(storage);
    resolved[k] = g;
    // Kernels may check host values; bytes the device wrote are only current there.
    given[k] = written.has(storage) || (resident && mirrorOf.get(storage)!.written) ? g : v;
  }
  const out = o.args.out;
  if (isStateRows(out)) {
    recordStateOut(dev, o, out, resolved, given, bound);
    return;
  }
  for (const b of bound) b.done();
  const m = mirrorOf.get(out.storage.buffer)!;
  const r = regionOf(out);
  // A dispatch may not read and write one buffer, so an out sharing one with an input, or one
  // that cannot be bound where it lies, is written to a temporary and copied into place.
  const inPlace = !inputs.has(r.storage) && (r.lo - m.lo) % dev.offsetAlign === 0;
  const dst = inPlace ? GPUTensor.over(dev.owner, m.buffer, out.dtype, out.shape, r.lo - m.lo) : dev.alloc(out.dtype, out.shape);
  try {
    const size = roundUp(dst.byteLength, 4);
    if (!inPlace && readsOut(o)) dev.copy(m.buffer, wordOffset(r, m, o.op, 'out'), dst.buffer, 0, size);
    dev.invoke(dev.kernel(o.op), resolved, dst, given);
    if (!inPlace) dev.copy(dst.buffer, 0, m.buffer, wordOffset(r, m, o.op, 'out'), size);
  } finally {
    if (!inPlace) dst.dispose();
    for (const t of temps) t.dispose();
  }
  written.add(r.storage);
  if (resident) m.written = true;
}

/** Records op `o` writing rows of a sequence state: in its page, or through scratch then copies. */
function recordStateOut(dev: BatchDevice, o: BatchOp, out: StateRowsArg, resolved: Record<string, unknown>, given: Record<string, unknown>, bound: BoundRows[]): void {
  const dst = bindRows(dev, out, stateOf(dev.owner, out, o.op, 'out'), true);
  try {
    dev.invoke(dev.kernel(o.op), resolved, dst.tensor, given);
    dst.after();
  } finally {
    dst.done();
    for (const b of bound) b.done();
  }
}

/** The read-back of host tensor `t`: whole words around its bytes, only its own bytes kept. */
function readPart(m: Mirror, t: Tensor): ReadPart {
  const r = regionOf(t);
  const lo = roundDown(r.lo - m.lo, 4);
  const skip = r.lo - m.lo - lo;
  const host = new Uint8Array(r.storage, r.lo, r.hi - r.lo);
  return { buffer: m.buffer, offset: lo, size: roundUp(skip + host.length, 4), into: (b) => host.set(b.subarray(skip, skip + host.length)) };
}

/** WebGPUBackend.runBatch: see its documentation. */
export async function runBatch(dev: BatchDevice, ops: readonly BatchOp[], io: BatchIO | undefined): Promise<void> {
  const resident = io !== undefined;
  const { host: needs, states } = checkBatch(dev, ops, io);
  // Pages for the rows the pass appends, before anything is recorded: a budget error leaves
  // every state as it was.
  const pools = new Map<WebGPUSequenceState['pool'], Map<WebGPUSequenceState, Record<StatePart, number>>>();
  for (const [s, rows] of states) pools.set(s.pool, (pools.get(s.pool) ?? new Map<WebGPUSequenceState, Record<StatePart, number>>()).set(s, rows));
  dev.begin();
  // Without io nothing stays resident: the copies this batch makes are released after it.
  const transient = resident ? [] : [...needs.keys()].filter((storage) => !dev.mirrors.get(storage));
  let done = false;
  const held: WebGPUSequenceState[] = [];
  try {
    for (const [pool, need] of pools) held.push(...pool.reserve(need));
    const mirrorOf = new Map<ArrayBufferLike, Mirror>();
    for (const [storage, r] of needs) mirrorOf.set(storage, dev.mirrors.cover(storage, r.lo, r.hi));
    const uploads = resident
      ? (io.inputs ?? [])
      : ops.flatMap((o) => [...Object.values(o.args).filter((v): v is Tensor => v instanceof Tensor && v !== o.args.out), ...(readsOut(o) && o.args.out instanceof Tensor ? [o.args.out] : [])]);
    for (const t of new Set(uploads)) uploadRegion(dev, mirrorOf.get(t.storage.buffer)!, regionOf(t));
    const written = new Set<ArrayBufferLike>();
    for (const o of ops) recordOp(dev, o, mirrorOf, written, resident);
    const back = new Set(resident ? (io.outputs ?? []) : ops.map((o) => o.args.out).filter((t): t is Tensor => t instanceof Tensor));
    await dev.readBack([...back].filter((t) => t.numel > 0).map((t) => readPart(mirrorOf.get(t.storage.buffer)!, t)));
    done = true;
  } finally {
    for (const storage of transient) dev.mirrors.release(storage);
    // The rows written are the states' now; after a failure their extra pages go back.
    for (const s of held) {
      if (s.disposed) continue;
      if (done) s.commit(states.get(s)!);
      else s.trim();
    }
  }
}
