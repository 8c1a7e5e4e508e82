// Binding a batch op's state rows (StateRowsArg: rows of one layer's K or V in a WebGPU sequence
// state's pages) to a kernel: in place where the rows lie in one page at a bindable offset, else
// gathered into (or written through) a scratch tensor with one device copy per page run; and the
// paged view attention reads through the page table. Not the page bookkeeping (state.ts).

import type {} from 'webgpu';
import type { StateRowsArg } from '../backend.js';
import { fail } from '../ops/check.js';
import { GPUTensor } from './buffers.js';
import { WebGPUSequenceState, type WebGPUStatePool } from './state.js';
import type { DType } from '../../tensor/dtype.js';

export function isStateRows(v: unknown): v is StateRowsArg {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'stateRows';
}

/**
 * K or V rows [0, tk) of one layer read through a page table: row r lies at row
 * table[r / pageRows] * pageRows + r % pageRows of `buffer` (the pool's buffer of that layer).
 * Its shape is the logical (Tk, Hkv, D); attention binds the whole buffer and the table.
 */
export class PagedRows extends GPUTensor {
  constructor(
    owner: object,
    /** the pool's buffer of this layer's K or V */
    readonly pages: GPUBuffer,
    /** (ceil(capacity / pageRows)) u32 page indices */
    readonly table: GPUBuffer,
    readonly pageRows: number,
    dtype: DType,
    shape: readonly number[],
  ) {
    super(dtype, shape, pages, () => undefined, owner);
  }
}

/** The state of `a`, checked to be a live WebGPU state of the backend `owner`. */
export function stateOf(owner: object, a: StateRowsArg, op: string, name: string): WebGPUSequenceState {
  const s = a.state;
  if (a.part !== 'self' && a.part !== 'static') fail('runBatch', `'${name}' of ${op}: 'part' must be 'self' or 'static'`, 'type');
  if (!(s instanceof WebGPUSequenceState) || s.pool.device.owner !== owner)
    fail('runBatch', `'${name}' of ${op} names rows of a sequence state that is not this webgpu backend's`, 'type');
  if (s.disposed) fail('runBatch', `'${name}' of ${op} names rows of a sequence state that was disposed`, 'type');
  const { layers } = s.pool.layout;
  if (!Number.isInteger(a.layer) || a.layer < 0 || a.layer >= layers) fail('runBatch', `'${name}' of ${op}: layer ${a.layer} is not in [0, ${layers})`);
  if (!Number.isInteger(a.from) || !Number.isInteger(a.to) || a.from < 0 || a.to < a.from || a.to > s.capacity)
    fail('runBatch', `'${name}' of ${op}: rows [${a.from}, ${a.to}) are not within the state's capacity ${s.capacity}`);
  if (a.dtype !== s.pool.layout.dtype) fail('runBatch', `'${name}' of ${op} is ${a.dtype}, but the state holds ${s.pool.layout.dtype} rows`, 'type');
  const elems = a.shape.reduce((x, y) => x * y, 1);
  if (elems * (a.dtype === 'f16' ? 2 : 4) !== (a.to - a.from) * s.pool.rowBytes)
    fail('runBatch', `'${name}' of ${op}: shape [${a.shape.join(', ')}] is not ${a.to - a.from} rows of the state`);
  return s;
}

/** Runs of a part's rows [from, to) that lie in one page each: byte offset in the layer's buffer, byte count. */
function runs(pool: WebGPUStatePool, table: readonly number[], from: number, to: number): { offset: number; bytes: number; at: number }[] {
  const out: { offset: number; bytes: number; at: number }[] = [];
  for (let r = from; r < to; ) {
    const i = Math.floor(r / pool.pageRows);
    const end = Math.min(to, (i + 1) * pool.pageRows);
    const page = table[i];
    if (page === undefined) throw new Error(`webgpu state: row ${r} has no page (the batch did not reserve it; a bug)`);
    out.push({ offset: (page * pool.pageRows + (r - i * pool.pageRows)) * pool.rowBytes, bytes: (end - r) * pool.rowBytes, at: (r - from) * pool.rowBytes });
    r = end;
  }
  return out;
}

/** What a kernel binds for state rows, and what to record after it (the write-back of an out). */
export interface BoundRows {
  readonly tensor: GPUTensor;
  /** Records the copies from the scratch tensor into the pages (outs bound through scratch). */
  after(): void;
  /** Gives the scratch tensor back (after the op is recorded). */
  done(): void;
}

export interface RowsDevice {
  readonly owner: object;
  readonly offsetAlign: number;
  alloc(dtype: DType, shape: readonly number[]): GPUTensor;
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void;
}

/**
 * State rows as a kernel's input or output. Inputs are copied in when they span pages; outputs
 * that span pages are written to a scratch tensor, then copied into their pages by `after()`.
 */
export function bindRows(dev: RowsDevice, a: StateRowsArg, s: WebGPUSequenceState, output: boolean): BoundRows {
  const pool = s.pool;
  const buffer = pool.buffer(a.layer, a.which);
  const parts = runs(pool, s.table(a.part), a.from, a.to);
  if (parts.length <= 1 && (parts[0]?.offset ?? 0) % dev.offsetAlign === 0)
    return { tensor: GPUTensor.over(dev.owner, buffer, a.dtype, a.shape, parts[0]?.offset ?? 0), after: () => undefined, done: () => undefined };
  const tmp = dev.alloc(a.dtype, a.shape);
  if (!output) for (const p of parts) dev.copy(buffer, p.offset, tmp.buffer, p.at, p.bytes);
  return {
    tensor: tmp,
    after: () => {
      if (output) for (const p of parts) dev.copy(tmp.buffer, p.at, buffer, p.offset, p.bytes);
    },
    done: () => tmp.dispose(),
  };
}

/** A part's rows [0, a.to) as attention's paged K or V (a.from must be 0). */
export function pagedRows(dev: RowsDevice, a: StateRowsArg, s: WebGPUSequenceState): PagedRows {
  return new PagedRows(dev.owner, s.pool.buffer(a.layer, a.which), s.deviceTable(a.part), s.pool.pageRows, a.dtype, a.shape);
}
