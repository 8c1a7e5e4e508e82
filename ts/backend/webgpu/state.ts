// WebGPU sequence state: every sequence's K/V rows in device memory, in fixed-size pages of one
// pool (per layer, one K and one V buffer of `capacity pages x pageRows` rows), a page table per
// sequence; forks share pages copy-on-write, reorder and truncate move page tables, and whole
// prompt pages are shared through a prefix cache (state-prefix.ts). No host copy of the rows
// exists. Not the binding of rows to kernels (state-rows.ts) nor op recording (batch.ts).

import type {} from 'webgpu';
import { totalmem } from 'node:os';
import type { SequenceState, StateLayout, StatePool, StatePoolOptions, StatePoolStats } from '../backend.js';
import { PrefixCache } from './state-prefix.js';

/** Default rows per page, as on the native backend (ts/backend/native.ts DEFAULT_PAGE_ROWS). */
export const DEFAULT_PAGE_ROWS = 32;

/** What the pool needs from the backend: buffers, and copies and writes in recording order. */
export interface StateDevice {
  /** The backend, which views of the pool's buffers name as their owner. */
  readonly owner: object;
  /** The most bytes one buffer may hold and one storage binding may cover. */
  readonly maxBufferBytes: number;
  /** A new zero-filled storage buffer (storage, copy source and destination). */
  create(size: number, label: string): GPUBuffer;
  /** Device copy, recorded after the work already recorded (src and dst distinct buffers). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void;
  /** Host bytes into `dst`, after the work recorded so far. */
  write(dst: GPUBuffer, offset: number, bytes: Uint8Array): void;
  /** A scratch buffer of at least `size` bytes, returned with `done` once recorded work used it. */
  scratch(size: number): { buffer: GPUBuffer; done(): void };
  /** Destroys a buffer once the work recorded or submitted so far no longer reads it. */
  retire(b: GPUBuffer): void;
  /** The pool was disposed (the backend stops counting it). */
  closed(pool: WebGPUStatePool): void;
}

/** One layer's pages: K and V, each (capacity * pageRows, Hkv, D) in the layout's dtype. */
interface LayerBuffers {
  readonly k: GPUBuffer;
  readonly v: GPUBuffer;
}

/** A state part: 'self' (self-attention K/V, growing each pass) or 'static' (cross-attention K/V). */
export type StatePart = 'self' | 'static';

/** One part's pages: table[i] holds rows [i * pageRows, (i + 1) * pageRows); rows [0, rows) are filled. */
class PartTable {
  table: number[] = [];
  rows = 0;
  /** The table on the device (u32 per entry), for kernels that read rows through it. */
  buffer: GPUBuffer | undefined;
  dirty = true;
}

export class WebGPUSequenceState implements SequenceState {
  private readonly parts: Record<StatePart, PartTable> = { self: new PartTable(), static: new PartTable() };
  private released = false;
  /** Whether a batch that writes its rows is being recorded or has not yet been submitted. */
  private pending = false;

  /** @internal made by WebGPUStatePool.create() and fork() */
  constructor(
    readonly pool: WebGPUStatePool,
    /** most rows each part may hold (the pool's capacity option) */
    readonly capacity: number,
  ) {}

  get length(): number {
    return this.parts.self.rows;
  }
  get staticLength(): number {
    return this.parts.static.rows;
  }
  get pages(): number {
    return this.parts.self.table.length + this.parts.static.table.length;
  }
  get bytes(): number {
    return this.pages * this.pool.pageBytes;
  }
  get disposed(): boolean {
    return this.released;
  }

  fork(): SequenceState {
    this.settled('fork');
    return this.pool.adopt(this);
  }

  /**
   * Keeps every page: the WebGPU pool does not release pages in the middle of a sequence yet
   * (only the native one does), so a sliding-window model holds its whole length here.
   */
  forget(rows: number): void {
    this.settled('forget');
    const self = this.parts.self;
    if (!Number.isInteger(rows) || rows < 0 || rows > self.rows) throw new RangeError(`SequenceState.forget: 'rows' must be an integer in [0, ${self.rows}]`);
  }

  get forgotten(): number {
    return 0;
  }

  truncate(n: number): void {
    this.settled('truncate');
    const self = this.parts.self;
    if (!Number.isInteger(n) || n < 0 || n > self.rows) throw new RangeError(`SequenceState.truncate: 'length' must be an integer in [0, ${self.rows}]`);
    self.rows = n;
    this.trim();
  }

  dispose(): void {
    if (this.released) return;
    this.released = true;
    for (const p of Object.values(this.parts)) {
      p.rows = 0;
      if (p.buffer) this.pool.device.retire(p.buffer);
      p.buffer = undefined;
    }
    this.trim();
    this.pool.forget(this);
  }

  /** @internal A part's page table (read-only: change it with setTable). */
  table(part: StatePart): readonly number[] {
    return this.parts[part].table;
  }

  /** @internal Filled rows of a part. */
  rows(part: StatePart): number {
    return this.parts[part].rows;
  }

  /** @internal Replaces a part's page table (reorder, copy-on-write); the caller holds the new pages' references. */
  setTable(part: StatePart, table: number[], rows: number): void {
    const p = this.parts[part];
    p.table = table;
    p.rows = rows;
    p.dirty = true;
  }

  /** @internal A batch that appends rows holds the state until it settles (commit or trim). */
  hold(): void {
    this.pending = true;
  }

  /** @internal Rows [0, rows) of each part are filled now (a batch that wrote them is done). */
  commit(rows: Readonly<Record<StatePart, number>>): void {
    this.pending = false;
    this.parts.self.rows = rows.self;
    this.parts.static.rows = rows.static;
  }

  /** @internal Returns pages past each part's filled rows (after truncate, or a batch that failed). */
  trim(): void {
    this.pending = false;
    for (const p of Object.values(this.parts)) {
      const keep = Math.ceil(p.rows / this.pool.pageRows);
      if (p.table.length <= keep) continue;
      this.pool.unref(p.table.slice(keep));
      p.table = p.table.slice(0, keep);
      p.dirty = true;
    }
  }

  /** @internal A part's page table on the device, written first if it changed since the last write. */
  deviceTable(part: StatePart): GPUBuffer {
    const p = this.parts[part];
    const entries = Math.max(1, Math.ceil(this.capacity / this.pool.pageRows));
    p.buffer ??= this.pool.device.create(entries * 4, `${part} page table`);
    if (p.dirty && p.table.length > 0) {
      this.pool.device.write(p.buffer, 0, new Uint8Array(Uint32Array.from(p.table).buffer));
      p.dirty = false;
    }
    return p.buffer;
  }

  /** @internal */
  markDirty(): void {
    for (const p of Object.values(this.parts)) p.dirty = true;
  }

  /** @internal Throws unless the state is live and no pass that writes it is in flight. */
  settled(fn: string): void {
    this.usable(fn);
    if (this.pending) throw new Error(`SequenceState.${fn}: a pass that writes this state has not settled; await it first`);
  }

  private usable(fn: string): void {
    if (this.released) throw new Error(`SequenceState.${fn}: the state was disposed`);
  }
}

const PARTS: readonly StatePart[] = ['self', 'static'];

export class WebGPUStatePool implements StatePool {
  readonly pageRows: number;
  readonly sharesPrefixes = true;
  /** Bytes of one row of one layer's K (or V): Hkv * D elements. */
  readonly rowBytes: number;
  /** Bytes of a page: pageRows rows of every layer's K and V. */
  readonly pageBytes: number;
  readonly budgetPages: number;
  private layers: LayerBuffers[] = [];
  /** Pages the buffers hold (in use or free). */
  private capacityPages = 0;
  /** Holders of each page (sequences sharing it); 0 = free. */
  private refs: number[] = [];
  private free: number[] = [];
  private readonly live = new Set<WebGPUSequenceState>();
  private inUse = 0;
  private peak = 0;
  private taken = 0;
  private copied = 0;
  private fullCopied = 0;
  private reused = 0;
  private readonly prefixes: PrefixCache;
  private disposed = false;

  constructor(
    readonly device: StateDevice,
    readonly layout: StateLayout,
    private readonly options: StatePoolOptions,
  ) {
    const { layers, kvHeads, headDim, dtype } = layout;
    for (const [name, v] of [['layers', layers], ['kvHeads', kvHeads], ['headDim', headDim]] as const)
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`createStatePool: 'layout.${name}' must be a positive integer, got ${String(v)}`);
    if (dtype !== 'f32' && dtype !== 'f16') throw new TypeError(`createStatePool: 'layout.dtype' must be 'f32' or 'f16', got ${String(dtype)}`);
    const pageRows = options.pageRows ?? DEFAULT_PAGE_ROWS;
    if (!(Number.isInteger(pageRows) && pageRows >= 1 && pageRows <= 4096 && (pageRows & (pageRows - 1)) === 0))
      throw new RangeError(`createStatePool: 'pageRows' must be a power of two in [1, 4096], got ${String(pageRows)}`);
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError(`createStatePool: 'capacity' must be a positive integer, got ${String(options.capacity)}`);
    this.pageRows = pageRows;
    this.rowBytes = kvHeads * headDim * (dtype === 'f16' ? 2 : 4);
    // Device copies move whole 4-byte words (WebGPU's copyBufferToBuffer).
    if (this.rowBytes % 4 !== 0) throw new RangeError(`createStatePool: a row of Hkv x D = ${kvHeads * headDim} f16 values is not whole 4-byte words; the webgpu backend copies rows by words`);
    this.pageBytes = 2 * layers * pageRows * this.rowBytes;
    // Each layer's K (and V) pages lie in one buffer that one storage binding covers.
    const devicePages = Math.floor(device.maxBufferBytes / (pageRows * this.rowBytes));
    if (devicePages < 1) throw new RangeError(`createStatePool: one page of ${pageRows} rows (${pageRows * this.rowBytes} bytes per layer) exceeds this device's buffer limit (${device.maxBufferBytes} bytes); use smaller 'pageRows'`);
    // WebGPU does not say how much memory a device has: by default, what one buffer holds, and
    // at most half of the machine's memory (the native default), so the budget says no before
    // the device runs out.
    const budget = options.budgetBytes ?? Math.min(devicePages * this.pageBytes, Math.max(this.pageBytes, Math.floor(totalmem() / 2)));
    if (!(Number.isFinite(budget) && budget > 0)) throw new RangeError(`createStatePool: 'budgetBytes' must be a positive number, got ${String(budget)}`);
    if (budget < this.pageBytes) throw new RangeError(`createStatePool: 'budgetBytes' (${budget}) is less than one page (${this.pageBytes} bytes)`);
    // The device's buffer limit caps the budget: more pages than one buffer holds cannot be bound.
    this.budgetPages = Math.min(Math.floor(budget / this.pageBytes), devicePages);
    this.prefixes = new PrefixCache(pageRows);
  }

  create(): SequenceState {
    this.usable('create');
    const s = new WebGPUSequenceState(this, this.options.capacity);
    this.live.add(s);
    return s;
  }

  /** @internal A new state holding `from`'s pages, both parts (a fork): no rows move. */
  adopt(from: WebGPUSequenceState): WebGPUSequenceState {
    this.usable('fork');
    const s = new WebGPUSequenceState(this, this.options.capacity);
    for (const part of PARTS) {
      for (const p of from.table(part)) this.refs[p]!++;
      s.setTable(part, [...from.table(part)], from.rows(part));
    }
    this.live.add(s);
    return s;
  }

  reorder(states: readonly SequenceState[], parents: readonly number[]): void {
    this.usable('reorder');
    if (!Array.isArray(states) || !states.every((s) => s instanceof WebGPUSequenceState && s.pool === this))
      throw new TypeError('StatePool.reorder: states must be states of this pool');
    if (states.some((s) => s.disposed)) throw new Error('StatePool.reorder: a state was disposed');
    for (const s of states as readonly WebGPUSequenceState[]) s.settled('reorder');
    if (!Array.isArray(parents) || parents.length !== states.length || !parents.every((p) => Number.isInteger(p) && p >= 0 && p < states.length))
      throw new RangeError(`StatePool.reorder: 'parents' must hold one index in [0, ${states.length}) per state`);
    const ws = states as readonly WebGPUSequenceState[];
    for (const part of PARTS) {
      const before = ws.map((s) => ({ table: [...s.table(part)], rows: s.rows(part) }));
      // Take the new references before dropping the old, so a page both keep is never freed.
      for (const p of parents) for (const page of before[p]!.table) this.refs[page]!++;
      for (const b of before) this.unref(b.table);
      ws.forEach((s, i) => s.setTable(part, [...before[parents[i]!]!.table], before[parents[i]!]!.rows));
    }
  }

  attachPrefix(state: SequenceState, ids: Int32Array): number {
    const s = this.own(state, 'attachPrefix');
    if (!(ids instanceof Int32Array)) throw new TypeError("StatePool.attachPrefix: 'ids' must be an Int32Array");
    if (s.length !== 0 || s.table('self').length !== 0) throw new RangeError(`StatePool.attachPrefix: the state must be empty, it holds ${s.length} rows`);
    // At least one id is left to run (its logits are the pass's output).
    const most = Math.floor(Math.min(ids.length - 1, s.capacity) / this.pageRows);
    const pages = this.prefixes.lookup(ids, Math.max(0, most));
    if (pages.length === 0) return 0;
    for (const p of pages) this.refs[p]!++;
    s.setTable('self', pages, pages.length * this.pageRows);
    this.reused += s.length;
    return s.length;
  }

  publishPrefix(state: SequenceState, ids: Int32Array): void {
    const s = this.own(state, 'publishPrefix');
    if (!(ids instanceof Int32Array)) throw new TypeError("StatePool.publishPrefix: 'ids' must be an Int32Array");
    // Only whole pages whose every row is filled, and only as far as ids name the rows.
    const full = Math.floor(Math.min(s.length, ids.length) / this.pageRows);
    for (const p of this.prefixes.insert(ids, s.table('self').slice(0, full))) this.refs[p]!++;
  }

  clearPrefix(): void {
    this.unref(this.prefixes.clear());
  }

  /**
   * @internal Makes each state's parts cover rows [0, rows) before a batch writes rows
   * [filled, rows): new pages for rows past a part's table, and a private copy of its last page
   * when that page is shared and partly filled (copy-on-write, recorded before the batch's ops).
   * All or nothing: when the budget lacks the pages, nothing changes and a RangeError says so.
   * Returns the states that will grow: held until the caller commits or trims each.
   */
  reserve(needs: ReadonlyMap<WebGPUSequenceState, Readonly<Record<StatePart, number>>>): WebGPUSequenceState[] {
    this.usable('forward');
    let want = 0;
    for (const [s, rows] of needs) {
      if (s.disposed) throw new Error('forward: a sequence state of the pass was disposed');
      s.settled('forward');
      for (const part of PARTS) {
        if (rows[part] > s.capacity) throw new RangeError(`forward: ${rows[part]} ${part} rows exceed the state's capacity ${s.capacity}`);
        want += Math.max(0, Math.ceil(rows[part] / this.pageRows) - s.table(part).length) + (this.sharedTail(s, part, rows[part]) ? 1 : 0);
      }
    }
    // Cached prefix pages that no sequence holds give way first.
    while (this.inUse + want > this.budgetPages) {
      const page = this.prefixes.evict((p) => this.refs[p] === 1);
      if (page === undefined) break;
      this.unref([page]);
    }
    if (this.inUse + want > this.budgetPages)
      throw new RangeError(
        `forward: the sequence-state budget of ${this.budgetPages} pages (${this.budgetPages * this.pageBytes} bytes) is in use: ${this.inUse} pages held, ${want} more needed; dispose finished sequences or raise the state budget (loadModel's 'stateBudget')`,
      );
    this.ensureCapacity(this.capacityPages - this.free.length + want);
    const held: WebGPUSequenceState[] = [];
    for (const [s, rows] of needs) {
      let grows = false;
      for (const part of PARTS) {
        const filled = s.rows(part);
        const table = [...s.table(part)];
        if (this.sharedTail(s, part, rows[part])) {
          const last = table.length - 1;
          const page = this.take();
          this.copyPage(table[last]!, page, filled - last * this.pageRows);
          this.unref([table[last]!]);
          table[last] = page;
        }
        while (table.length < Math.ceil(rows[part] / this.pageRows)) table.push(this.take());
        const old = s.table(part);
        if (table.length !== old.length || table.some((p, i) => p !== old[i])) s.setTable(part, table, filled);
        grows ||= rows[part] > filled;
      }
      if (grows) {
        s.hold();
        held.push(s);
      }
    }
    return held;
  }

  /** @internal One layer's K or V pages: the buffer every state's rows of it lie in. */
  buffer(layer: number, which: 'k' | 'v'): GPUBuffer {
    const l = this.layers[layer];
    if (!l) throw new RangeError(`webgpu state: no layer ${layer} (the layout has ${this.layout.layers}), or no page was ever taken`);
    return which === 'k' ? l.k : l.v;
  }

  /** @internal Drops one reference to each page; pages nobody holds go back to the free list. */
  unref(pages: readonly number[]): void {
    for (const p of pages) {
      const r = --this.refs[p]!;
      if (r === 0) {
        this.free.push(p);
        this.inUse--;
      }
    }
  }

  /**
   * @internal A disposed state leaves the pool. Once no page is in use the buffers go back to
   * the device (not on truncate: a model's own scratch state empties after every pass).
   */
  forget(s: WebGPUSequenceState): void {
    this.live.delete(s);
    if (this.inUse === 0) this.releaseBuffers();
  }

  /** Bytes of device memory the pool's buffers hold (pages in use and free ones). */
  get deviceBytes(): number {
    return this.capacityPages * this.pageBytes;
  }

  stats(): StatePoolStats {
    return {
      pageRows: this.pageRows,
      pageBytes: this.pageBytes,
      budgetPages: this.budgetPages,
      pagesInUse: this.inUse,
      bytesInUse: this.inUse * this.pageBytes,
      peakPages: this.peak,
      pagesTaken: this.taken,
      pagesCopied: this.copied,
      fullPagesCopied: this.fullCopied,
      prefixPages: this.prefixes.pages,
      prefixTokensReused: this.reused,
    };
  }

  /** Disposes every state and gives the device memory back. */
  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.live]) s.dispose();
    this.prefixes.clear();
    this.inUse = 0;
    this.releaseBuffers();
    this.disposed = true;
    this.device.closed(this);
  }

  private own(state: SequenceState, fn: string): WebGPUSequenceState {
    this.usable(fn);
    if (!(state instanceof WebGPUSequenceState) || state.pool !== this) throw new TypeError(`StatePool.${fn}: 'state' must be a state of this pool`);
    state.settled(fn);
    return state;
  }

  /** Whether writing rows [filled, rows) of a part of `s` would write into a page another state holds. */
  private sharedTail(s: WebGPUSequenceState, part: StatePart, rows: number): boolean {
    const filled = s.rows(part);
    if (rows <= filled || filled % this.pageRows === 0) return false;
    const table = s.table(part);
    return this.refs[table[table.length - 1]!]! > 1;
  }

  private take(): number {
    const p = this.free.pop();
    if (p === undefined) throw new Error('webgpu state: no free page after the budget check (a bug)');
    this.refs[p] = 1;
    this.inUse++;
    this.taken++;
    this.peak = Math.max(this.peak, this.inUse);
    return p;
  }

  /** Copies the first `rows` rows of page `from` into page `to`, in every layer's K and V. */
  private copyPage(from: number, to: number, rows: number): void {
    const size = rows * this.rowBytes;
    const span = this.pageRows * this.rowBytes;
    // copyBufferToBuffer may not copy within one buffer: through a scratch buffer.
    const tmp = this.device.scratch(size);
    for (const l of this.layers)
      for (const b of [l.k, l.v]) {
        this.device.copy(b, from * span, tmp.buffer, 0, size);
        this.device.copy(tmp.buffer, 0, b, to * span, size);
      }
    tmp.done();
    this.copied++;
    if (rows === this.pageRows) this.fullCopied++;
  }

  /** Grows the buffers (doubling) to hold at least `pages` pages; old pages are copied on the device. */
  private ensureCapacity(pages: number): void {
    if (pages <= this.capacityPages) return;
    const next = Math.min(this.budgetPages, Math.max(pages, 2 * this.capacityPages, 4));
    const span = this.pageRows * this.rowBytes;
    const old = this.layers;
    this.layers = old.length
      ? old.map((l, i) => ({ k: this.grown(l.k, next * span, `state K layer ${i}`), v: this.grown(l.v, next * span, `state V layer ${i}`) }))
      : Array.from({ length: this.layout.layers }, (_, i) => ({ k: this.device.create(next * span, `state K layer ${i}`), v: this.device.create(next * span, `state V layer ${i}`) }));
    for (let p = next - 1; p >= this.capacityPages; p--) {
      this.refs[p] = 0;
      this.free.push(p);
    }
    // Lowest page indices first: a small pool keeps its pages together.
    this.free.sort((a, b) => b - a);
    this.capacityPages = next;
  }

  private grown(old: GPUBuffer, size: number, label: string): GPUBuffer {
    const b = this.device.create(size, label);
    this.device.copy(old, 0, b, 0, old.size);
    this.device.retire(old);
    return b;
  }

  /** With no page in use the buffers go back to the device (the next page taken makes new ones). */
  private releaseBuffers(): void {
    for (const l of this.layers) {
      this.device.retire(l.k);
      this.device.retire(l.v);
    }
    this.layers = [];
    this.capacityPages = 0;
    this.refs = [];
    this.free = [];
    for (const s of this.live) s.markDirty();
  }

  private usable(fn: string): void {
    if (this.disposed) throw new Error(`StatePool.${fn}: the pool was disposed`);
  }
}
