// The native backend: ops run in the C++ addon, off the main thread (Node-API async work), with
// intra-op threads from the addon's pool. Argument checks happen in C++ as well.

import { weightLayout } from './ops/weight-layout.js';
import { Tensor } from '../tensor/tensor.js';
import { loadAddon, type NativeAddon, type NativeSequenceState, type NativeStatePool } from '../native.js';
import type {
  Backend, BatchOp, CompiledPass, MappedWeightSource, OpArgs, OpName, OutArg, PackWeightOptions, PassProgram, PassSegment, SequenceState, StateLayout,
  StatePool, StatePoolOptions, StatePoolStats, Weight,
} from './backend.js';
import { totalmem } from 'node:os';
import type { DType } from '../tensor/dtype.js';
import { checkOut } from './out.js';
import { opNames, opSpec } from './registry.js';
import './ops/index.js';

export interface NativeBackendOptions {
  /** Kernel set to use ('avx512', 'avx2', 'neon', 'scalar'); default: the best this CPU runs. */
  isa?: string;
  /** Intra-op threads of this thread's addon pool; default: the pool's current size. */
  threads?: number;
}

/** Converts a Tensor into what the addon reads: contiguous data with dtype and shape. */
function native(t: Tensor): { dtype: string; shape: readonly number[]; data: ArrayBufferView } {
  const c = t.contiguous();
  return { dtype: c.dtype, shape: c.shape, data: c.data };
}

/** A tensor still in a mapped file (io/mapped.ts): passed to the addon as its descriptor. */
function isMapped(v: unknown): v is MappedWeightSource {
  return typeof v === 'object' && v !== null && typeof (v as MappedWeightSource).native === 'function' && typeof (v as MappedWeightSource).load === 'function';
}

interface NativeWeightHandle {
  readonly shape: number[];
  readonly dtype: string;
  readonly bytes: number;
  readonly disposed: boolean;
  variant(): string;
  dispose(): void;
}

/** A weight packed into native memory by the addon. */
export class NativeWeight implements Weight {
  readonly dtype: DType;
  readonly shape: readonly [number, number];
  readonly backend = 'native';
  /** @internal the addon's handle */
  readonly handle: NativeWeightHandle;

  constructor(handle: NativeWeightHandle, dtype: DType) {
    this.handle = handle;
    this.dtype = dtype;
    this.shape = [handle.shape[0]!, handle.shape[1]!];
  }
  get bytes(): number {
    return this.handle.bytes;
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }
  /** The kernel variant this weight's linear runs with. */
  get variant(): string {
    return this.handle.variant();
  }
  dispose(): void {
    this.handle.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

// The addon's kernel set is per thread (per addon instance); remember what was set last so a
// backend only switches it when another backend changed it.
let currentIsa: string | undefined;

export class NativeBackend implements Backend {
  readonly name: string;
  readonly ops: ReadonlySet<OpName> = new Set(opNames());
  readonly isa: string;
  readonly readsMapped = true;
  private readonly addon: NativeAddon;
  private disposed = false;

  constructor(options: NativeBackendOptions = {}) {
    this.addon = loadAddon();
    const info = this.addon.cpuInfo();
    if (options.isa !== undefined && !info.available.includes(options.isa))
      throw new RangeError(`NativeBackend: isa '${options.isa}' is not available here; available: ${info.available.join(', ')}`);
    this.isa = options.isa ?? info.available[0]!;
    this.name = options.isa === undefined ? 'native' : `native-${this.isa}`;
    if (options.threads !== undefined) this.addon.setThreads(options.threads);
  }

  /** Checks args against the op's spec and converts them to what the addon reads. */
  private prepare<K extends OpName>(op: K, args: OpArgs[K] & OutArg): { out: Tensor; nargs: Record<string, unknown> } {
    if (this.disposed) throw new Error(`${this.name} backend is disposed`);
    const spec = opSpec(op);
    const shape = spec.output(args);
    const out = args.out ?? Tensor.zeros(shape.dtype, shape.shape);
    checkOut(op, out, shape);
    const { out: _out, ...rest } = args;
    const given: Record<string, unknown> = spec.nativeArgs ? spec.nativeArgs(args) : rest;
    const nargs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(given)) nargs[k] = v instanceof Tensor ? native(v) : v instanceof NativeWeight ? v.handle : isMapped(v) ? v.native() : v;
    nargs.out = { dtype: out.dtype, shape: out.shape, data: out.data };
    return { out, nargs };
  }

  private selectIsa(): void {
    currentIsa ??= this.addon.cpuInfo().isa;
    if (currentIsa !== this.isa) {
      this.addon.setIsa(this.isa);
      currentIsa = this.isa;
    }
  }

  async run<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Promise<Tensor> {
    const { out, nargs } = this.prepare(op, args);
    this.selectIsa();
    await this.addon.opAsync(op, nargs);
    return out;
  }

  async runBatch(ops: readonly BatchOp[]): Promise<void> {
    const list = ops.map(({ op, args }) => ({ op, args: this.prepare(op, args as unknown as OpArgs[OpName] & OutArg).nargs }));
    this.selectIsa();
    await this.addon.opsAsync(list);
  }

  /**
   * Hands the plan to the addon once (parameters checked now); each run is then one call that
   * fills in this pass's views in C++ and runs every op off the main thread.
   */
  compile(program: PassProgram): CompiledPass {
    if (this.disposed) throw new Error(`${this.name} backend is disposed`);
    const operand = (v: unknown): unknown => {
      // Parameters: the program reads them off the main thread, so they must not be detachable.
      if (v instanceof Tensor) return native(v.storage.buffer instanceof SharedArrayBuffer && v.isContiguous() ? v : v.contiguous({ shared: true }));
      if (v instanceof NativeWeight) return v.handle;
      if (isMapped(v)) return v.native();
      if (typeof v === 'object' && v !== null && 'kind' in v) {
        const o = v as { kind: string; slot?: number; shape: unknown; layer?: number; which?: string; rows?: string; dtype?: string; part?: string };
        if (o.kind === 'slot') return { slot: o.slot, shape: o.shape };
        if (o.kind === 'cache') return { cache: o.which, layer: o.layer, rows: o.rows, shape: o.shape, dtype: o.dtype ?? 'f32', part: o.part ?? 'self' };
      }
      return v;
    };
    const steps = program.steps.map(({ op, perSegment, args }) => {
      const spec = opSpec(op);
      const { out, ...rest } = args;
      const given: Record<string, unknown> = spec.nativeArgs ? spec.nativeArgs(rest as never) : rest;
      const nargs: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(given)) nargs[k] = operand(v);
      nargs.out = operand(out);
      return { op, perSegment, args: nargs };
    });
    const handle = this.addon.compile({ slots: program.slots.map((t) => t.data), layers: program.layers, steps });
    return {
      run: (segments: readonly PassSegment[]) => {
        const seg = new Int32Array(segments.length * 2);
        segments.forEach((s, i) => {
          seg[2 * i] = s.t;
          seg[2 * i + 1] = s.p;
        });
        this.selectIsa();
        // A sequence without state (graphs without cache operands) passes null; the addon checks
        // that every state is one of its own.
        return handle.run(seg, segments.map((s) => (s.state ?? null) as NativeSequenceState | null));
      },
      dispose: () => handle.dispose(),
    };
  }

  /** Sequence state in native pages (native/src/state.h): forks share pages, copied on write. */
  createStatePool(layout: StateLayout, options: StatePoolOptions): StatePool {
    if (this.disposed) throw new Error(`${this.name} backend is disposed`);
    return new NativePagedStatePool(this.addon, layout, options);
  }

  packWeight(weight: Tensor | MappedWeightSource, options: PackWeightOptions = {}): Weight {
    let w: Tensor | MappedWeightSource = weight;
    if (!(w instanceof Tensor)) {
      if (w === null || typeof w !== 'object' || typeof (w as MappedWeightSource).native !== 'function')
        throw new TypeError("packWeight: 'weight' must be a Tensor or a mapped tensor");
      // Unaligned mapped bytes cannot be read in place by the kernels: copy them.
      if (!w.aligned) w = w.load();
    }
    const args: Record<string, unknown> = { weight: w instanceof Tensor ? native(w) : w.native() };
    if (options.scales !== undefined) args.scales = native(options.scales);
    if (options.layout !== undefined) args.layout = options.layout;
    // The addon reads the stored layout by strides (native/src/weights.h, WeightSource).
    const layout = options.transposed === undefined && options.columns === undefined ? undefined : weightLayout(weight.dtype, weight.shape, options);
    if (layout?.transposed) {
      args.transposed = true;
      args.columnStart = layout.n0;
      args.columnEnd = layout.n0 + layout.n;
    }
    const handle = (this.addon as unknown as { packWeight(a: Record<string, unknown>): NativeWeightHandle }).packWeight(args);
    return new NativeWeight(handle, weight.dtype);
  }

  dispose(): void {
    this.disposed = true;
  }
}

/** Default rows per page: the state suite (bench/suites/state.ts, `npm run bench -- state`) measures the trade-off. */
export const DEFAULT_PAGE_ROWS = 32;

/**
 * The addon's page pool behind the StatePool contract: pages in host memory (native backend) or,
 * with device 'cuda', in the CUDA device's memory (the cuda backend; `defaultBudget` its half).
 */
export class NativePagedStatePool implements StatePool {
  readonly pageRows: number;
  readonly sharesPrefixes = true;
  private readonly pool: NativeStatePool;

  constructor(addon: NativeAddon, readonly layout: StateLayout, options: StatePoolOptions, device: 'host' | 'cuda' = 'host', defaultBudget?: number) {
    this.pageRows = options.pageRows ?? DEFAULT_PAGE_ROWS;
    // Half the machine's memory by default: the budget says no before the system does.
    const budgetBytes = options.budgetBytes ?? defaultBudget ?? Math.floor(totalmem() / 2);
    this.pool = addon.statePool({ ...layout, pageRows: this.pageRows, budgetBytes, ...(device === 'cuda' ? { device } : {}) });
  }
  create(): SequenceState {
    return this.pool.create();
  }
  reorder(states: readonly SequenceState[], parents: readonly number[]): void {
    if (!Array.isArray(parents) || !parents.every((p) => Number.isInteger(p)))
      throw new TypeError('StatePool.reorder: parents must be an array of integers');
    this.pool.reorder(states as readonly NativeSequenceState[], Int32Array.from(parents));
  }
  attachPrefix(state: SequenceState, ids: Int32Array): number {
    return this.pool.attachPrefix(state as NativeSequenceState, ids);
  }
  publishPrefix(state: SequenceState, ids: Int32Array): void {
    this.pool.publishPrefix(state as NativeSequenceState, ids);
  }
  clearPrefix(): void {
    this.pool.clearPrefix();
  }
  stats(): StatePoolStats {
    return this.pool.stats();
  }
  dispose(): void {
    this.pool.dispose();
  }
}
