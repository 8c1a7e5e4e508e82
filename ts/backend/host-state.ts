// Host sequence state: for backends without their own pool (reference, or a wrapper of another
// backend), one contiguous (capacity, Hkv, D) buffer per layer for K and for V, which the
// executor hands to ops as tensor views. Not paged: a state holds its capacity from the start,
// a fork copies rows, and there is no prefix sharing. The paged pools are native/src/state.h
// (native) and ts/backend/webgpu/state.ts (WebGPU, in device memory).

import type { Backend, KVBuffers, SequenceState, StateLayout, StatePool, StatePoolOptions, StatePoolStats } from './backend.js';
import { Tensor } from '../tensor/tensor.js';

export class HostSequenceState implements SequenceState, KVBuffers {
  readonly k: Tensor[];
  readonly v: Tensor[];
  private rows = 0;
  /** The static part (cross-attention K/V), allocated on first use: (capacity, Hkv, D) per layer. */
  private statics: { k: Tensor[]; v: Tensor[] } | undefined;
  private staticRows = 0;
  private released = false;

  constructor(
    private readonly pool: HostStatePool,
    readonly capacity: number,
  ) {
    const { layers, kvHeads, headDim, dtype } = pool.layout;
    // k, v: (capacity, Hkv, D) f32 or f16 per layer
    this.k = Array.from({ length: layers }, () => Tensor.zeros(dtype, [capacity, kvHeads, headDim]));
    this.v = Array.from({ length: layers }, () => Tensor.zeros(dtype, [capacity, kvHeads, headDim]));
    pool.taken(this.bytes);
  }
  get length(): number {
    return this.rows;
  }
  get staticLength(): number {
    return this.staticRows;
  }
  /** Set by the executor when a pass appended rows to a part (host state has no pages to take). */
  grow(rows: number, part: 'self' | 'static' = 'self'): void {
    if (part === 'static') this.staticRows = rows;
    else this.rows = rows;
  }
  /** The static part's buffers, allocated on first use. */
  staticBuffers(): { k: Tensor[]; v: Tensor[] } {
    if (!this.statics) {
      const { layers, kvHeads, headDim, dtype } = this.pool.layout;
      const make = () => Array.from({ length: layers }, () => Tensor.zeros(dtype, [this.capacity, kvHeads, headDim]));
      this.statics = { k: make(), v: make() };
      this.pool.taken(this.staticBytes);
    }
    return this.statics;
  }
  private get staticBytes(): number {
    return this.statics ? this.statics.k.reduce((a, t) => a + 2 * t.storage.byteLength, 0) : 0;
  }
  get pages(): number {
    return this.released ? 0 : 1;
  }
  get bytes(): number {
    return this.released ? 0 : this.k.reduce((a, t) => a + 2 * t.storage.byteLength, 0) + this.staticBytes;
  }
  get disposed(): boolean {
    return this.released;
  }
  fork(): SequenceState {
    this.usable('fork');
    this.pool.hostRowsOnly('fork');
    const f = new HostSequenceState(this.pool, this.capacity);
    const n = this.rows * this.pool.layout.kvHeads * this.pool.layout.headDim;
    this.k.forEach((t, l) => f.k[l]!.data.set(t.data.subarray(0, n)));
    this.v.forEach((t, l) => f.v[l]!.data.set(t.data.subarray(0, n)));
    f.rows = this.rows;
    if (this.statics) {
      const s = f.staticBuffers();
      const m = this.staticRows * this.pool.layout.kvHeads * this.pool.layout.headDim;
      this.statics.k.forEach((t, l) => s.k[l]!.data.set(t.data.subarray(0, m)));
      this.statics.v.forEach((t, l) => s.v[l]!.data.set(t.data.subarray(0, m)));
      f.staticRows = this.staticRows;
    }
    return f;
  }
  truncate(n: number): void {
    this.usable('truncate');
    if (!Number.isInteger(n) || n < 0 || n > this.rows) throw new RangeError(`SequenceState.truncate: 'length' must be an integer in [0, ${this.rows}]`);
    this.rows = n;
  }
  /** Host buffers hold the whole capacity: nothing to let go. */
  forget(rows: number): void {
    this.usable('forget');
    if (!Number.isInteger(rows) || rows < 0 || rows > this.rows) throw new RangeError(`SequenceState.forget: 'rows' must be an integer in [0, ${this.rows}]`);
  }
  get forgotten(): number {
    return 0;
  }
  /** Takes another state's rows, both parts (reorder); both are of the same pool. */
  copyFrom(src: HostSequenceState): void {
    const row = this.pool.layout.kvHeads * this.pool.layout.headDim;
    src.k.forEach((t, l) => this.k[l]!.data.set(t.data.subarray(0, src.rows * row)));
    src.v.forEach((t, l) => this.v[l]!.data.set(t.data.subarray(0, src.rows * row)));
    this.rows = src.rows;
    if (src.statics) {
      const s = this.staticBuffers();
      src.statics.k.forEach((t, l) => s.k[l]!.data.set(t.data.subarray(0, src.staticRows * row)));
      src.statics.v.forEach((t, l) => s.v[l]!.data.set(t.data.subarray(0, src.staticRows * row)));
    }
    this.staticRows = src.staticRows;
  }
  dispose(): void {
    if (this.released) return;
    this.pool.given(this.bytes);
    this.released = true;
    this.rows = 0;
    this.staticRows = 0;
    this.pool.backend?.release?.([...this.k, ...this.v, ...(this.statics ? [...this.statics.k, ...this.statics.v] : [])]);
  }
  private usable(fn: string): void {
    if (this.released) throw new Error(`SequenceState.${fn}: the state was disposed`);
  }
}

export class HostStatePool implements StatePool {
  readonly pageRows: number;
  readonly sharesPrefixes = false;
  private inUse = 0;
  private peak = 0;
  private taken_ = 0;
  private readonly budget: number;
  private disposed = false;

  constructor(
    readonly layout: StateLayout,
    private readonly options: StatePoolOptions,
    /** The backend whose device copies a disposed state releases. */
    readonly backend?: Backend,
    /** Whether the backend computes on device copies of the rows (then they cannot be copied here). */
    private readonly deviceRows = false,
  ) {
    this.pageRows = options.capacity;
    this.budget = options.budgetBytes ?? Infinity;
  }
  private get stateBytes(): number {
    const { layers, kvHeads, headDim, dtype } = this.layout;
    return 2 * layers * this.options.capacity * kvHeads * headDim * (dtype === 'f16' ? 2 : 4);
  }
  create(): SequenceState {
    if (this.disposed) throw new Error('StatePool.create: the pool was disposed');
    if (this.inUse + this.stateBytes > this.budget)
      throw new RangeError(`StatePool.create: the sequence-state budget of ${this.budget} bytes is in use (${this.inUse} bytes); dispose finished sequences or raise the state budget`);
    return new HostSequenceState(this, this.options.capacity);
  }
  taken(bytes: number): void {
    this.inUse += bytes;
    this.taken_++;
    this.peak = Math.max(this.peak, this.inUse);
  }
  given(bytes: number): void {
    this.inUse -= bytes;
  }
  hostRowsOnly(fn: string): void {
    if (this.deviceRows) throw new Error(`SequenceState.${fn}: the ${this.backend?.name ?? ''} backend keeps these rows on its device, and host state cannot copy them there; use the native backend`);
  }
  reorder(states: readonly SequenceState[], parents: readonly number[]): void {
    this.hostRowsOnly('reorder');
    if (!Array.isArray(states) || !states.every((s) => s instanceof HostSequenceState && !s.disposed))
      throw new TypeError('StatePool.reorder: states must be live states of this pool');
    if (!Array.isArray(parents) || parents.length !== states.length || !parents.every((p) => Number.isInteger(p) && p >= 0 && p < states.length))
      throw new RangeError(`StatePool.reorder: parents must hold one index in [0, ${states.length}) per state`);
    const hs = states as HostSequenceState[];
    const copies = hs.map((s) => {
      const c = new HostSequenceState(this, s.capacity);
      c.copyFrom(s);
      return c;
    });
    hs.forEach((s, i) => s.copyFrom(copies[parents[i]!]!));
    for (const c of copies) c.dispose();
  }
  attachPrefix(): number {
    return 0;
  }
  publishPrefix(): void {}
  clearPrefix(): void {}
  stats(): StatePoolStats {
    const pages = this.stateBytes > 0 ? Math.round(this.inUse / this.stateBytes) : 0;
    return {
      pageRows: this.pageRows,
      pageBytes: this.stateBytes,
      budgetPages: this.budget === Infinity ? Infinity : Math.floor(this.budget / this.stateBytes),
      pagesInUse: pages,
      bytesInUse: this.inUse,
      peakPages: this.stateBytes > 0 ? Math.round(this.peak / this.stateBytes) : 0,
      pagesTaken: this.taken_,
      pagesCopied: 0,
      fullPagesCopied: 0,
      prefixPages: 0,
      prefixTokensReused: 0,
    };
  }
  dispose(): void {
    this.disposed = true;
  }
}
