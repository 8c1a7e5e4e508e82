// The cuda backend: weights uploaded once to the CUDA device and kept there, sequence state in
// device pages (a state pool with device 'cuda'), and every planned forward pass run on the
// device by the addon's CudaProgram (native/src/cuda_js/program.cc): inputs up, one
// synchronization, outputs (the logits) back. Not the kernels (native/src/cuda/) and not device
// discovery (cudaInfo in ../native.ts).

import { loadAddon, type NativeAddon, type NativeProgram, type NativeSequenceState } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import type {
  Backend, CompiledPass, MappedWeightSource, OpArgs, OpName, OutArg, PackWeightOptions, PassProgram, PassSegment, SlotOperand, StateLayout, StatePool,
  StatePoolOptions, Weight,
} from './backend.js';
import { NativePagedStatePool } from './native.js';
import { checkOut } from './out.js';
import { orientWeight } from './ops/weight-layout.js';
import { opSpec } from './registry.js';
import { fail } from './ops/check.js';
import './ops/index.js';

/** The ops a CUDA program runs (native/src/cuda_js/ops.cc); the rest are refused by name. */
export const CUDA_OPS: readonly OpName[] = ['add', 'mul', 'scale', 'gelu', 'silu', 'softmax', 'layerNorm', 'rmsNorm', 'linear', 'embedding', 'rope', 'cast', 'attention'];

interface CudaWeightHandle {
  readonly shape: number[];
  readonly dtype: string;
  readonly bytes: number;
  readonly disposed: boolean;
  variant(): string;
  dispose(): void;
}

/** A weight held in device memory (native/src/cuda_js/weight.h). */
export class CudaWeight implements Weight {
  readonly shape: readonly [number, number];
  readonly backend = 'cuda';
  /** @internal the addon's handle */
  readonly handle: CudaWeightHandle;

  constructor(handle: CudaWeightHandle, readonly dtype: DType) {
    this.handle = handle;
    this.shape = [handle.shape[0]!, handle.shape[1]!];
  }
  get bytes(): number {
    return this.handle.bytes;
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }
  /** The kernel this weight's linear runs ('cuda_f16_mma', 'cuda_q8_0_dp4a', ...). */
  get variant(): string {
    return this.handle.variant();
  }
  dispose(): void {
    this.handle.dispose();
  }
}

function isMapped(v: unknown): v is MappedWeightSource {
  return typeof v === 'object' && v !== null && typeof (v as MappedWeightSource).native === 'function' && typeof (v as MappedWeightSource).load === 'function';
}

/** A tensor as the addon reads it (parameters are uploaded once, so any ArrayBuffer will do). */
function hostTensor(t: Tensor): { dtype: string; shape: readonly number[]; data: ArrayBufferView } {
  const c = t.contiguous();
  return { dtype: c.dtype, shape: c.shape, data: c.data };
}

type Addon = NativeAddon & Required<Pick<NativeAddon, 'cudaPackWeight' | 'cudaCompile' | 'cudaStats'>>;

export class CudaBackend implements Backend {
  readonly name = 'cuda';
  readonly ops: ReadonlySet<OpName> = new Set(CUDA_OPS);
  private readonly addon: Addon;
  private disposed = false;

  /** @internal use createBackend('cuda'), which checks that a device exists first */
  constructor() {
    const addon = loadAddon();
    if (!addon.cudaPackWeight || !addon.cudaCompile || !addon.cudaStats) throw new Error('cuda backend: this binary has no CUDA entry points; rebuild attnode');
    this.addon = addon as Addon;
  }

  private usable(): void {
    if (this.disposed) throw new Error('cuda backend is disposed');
  }

  /** Device memory the backend's allocator holds: in use, and cached for reuse. */
  memory(): { bytesLive: number; bytesCached: number; totalMemory: number } {
    return this.addon.cudaStats();
  }

  packWeight(weight: Tensor | MappedWeightSource, options: PackWeightOptions = {}): Weight {
    this.usable();
    let w: Tensor;
    if (weight instanceof Tensor) w = weight;
    else if (isMapped(weight)) w = weight.load();
    else throw new TypeError("packWeight: 'weight' must be a Tensor or a mapped tensor");
    // Conv1D (transposed) storage becomes (N, K) here, once, at load.
    w = orientWeight(w, options);
    const args: Record<string, unknown> = { weight: hostTensor(w) };
    if (options.scales !== undefined) args.scales = hostTensor(options.scales);
    if (options.layout !== undefined && options.layout !== 'packed' && options.layout !== 'reference')
      fail('packWeight', `'layout' must be 'packed' or 'reference', got '${String(options.layout)}'`);
    return new CudaWeight(this.addon.cudaPackWeight(args) as CudaWeightHandle, w.dtype);
  }

  /** Hands the plan to the addon once: slots get device memory, parameters are uploaded now. */
  compile(program: PassProgram): CompiledPass {
    this.usable();
    if (!program.inputs || !program.outputs) throw new TypeError('cuda backend: compile() needs the program\'s inputs and outputs (the slots copied per pass)');
    const handle = this.addon.cudaCompile({
      slots: program.slots.map((t) => t.data),
      layers: program.layers,
      steps: program.steps.map(({ op, perSegment, args }) => ({ op, perSegment, args: this.stepArgs(op, args) })),
      inputs: program.inputs.map((o) => ({ slot: o.slot, shape: o.shape })),
      outputs: program.outputs.map((o) => ({ slot: o.slot, shape: o.shape })),
    });
    return {
      run: (segments: readonly PassSegment[]) => this.runProgram(handle, segments),
      dispose: () => handle.dispose(),
    };
  }

  private stepArgs(op: OpName, args: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const spec = opSpec(op);
    const { out, ...rest } = args;
    const given: Record<string, unknown> = spec.nativeArgs ? spec.nativeArgs(rest as never) : rest;
    const operand = (v: unknown): unknown => {
      if (v instanceof Tensor) return hostTensor(v);
      if (v instanceof CudaWeight) return v.handle;
      if (isMapped(v)) return hostTensor(v.load());
      if (typeof v === 'object' && v !== null && 'kind' in v) {
        const o = v as { kind: string; slot?: number; shape: unknown; layer?: number; which?: string; rows?: string; dtype?: string; part?: string };
        if (o.kind === 'slot') return { slot: o.slot, shape: o.shape };
        if (o.kind === 'cache') return { cache: o.which, layer: o.layer, rows: o.rows, shape: o.shape, dtype: o.dtype ?? 'f32', part: o.part ?? 'self' };
      }
      if (typeof v === 'object' && v !== null && 'backend' in v && (v as Weight).backend !== 'cuda')
        throw new TypeError(`cuda backend: a weight packed by the ${(v as Weight).backend} backend cannot run here`);
      return v;
    };
    const nargs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(given)) nargs[k] = operand(v);
    nargs.out = operand(out);
    return nargs;
  }

  private runProgram(handle: NativeProgram, segments: readonly PassSegment[]): Promise<void> {
    this.usable();
    const seg = new Int32Array(segments.length * 2);
    segments.forEach((s, i) => {
      seg[2 * i] = s.t;
      seg[2 * i + 1] = s.p;
    });
    return handle.run(seg, segments.map((s) => (s.state ?? null) as NativeSequenceState | null));
  }

  /**
   * One op on the device: its f32 and i32 tensors go up as the inputs of a one-step program,
   * the result comes back into `out`. For tests and one-off calls; models run compiled passes.
   */
  async run<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Promise<Tensor> {
    this.usable();
    if (!this.ops.has(op)) throw new TypeError(`cuda backend: op '${op}' does not run on CUDA; it runs ${CUDA_OPS.join(', ')}`);
    const spec = opSpec(op);
    const shape = spec.output(args);
    const out = args.out ?? Tensor.zeros(shape.dtype, shape.shape);
    checkOut(op, out, shape);
    if (out.dtype !== 'f32' && out.dtype !== 'i32') throw new TypeError(`cuda backend: run('${op}') writes f32 or i32 outputs, got ${out.dtype}`);
    const slots: Tensor[] = [];
    const inputs: SlotOperand[] = [];
    const slotOf = (t: Tensor): SlotOperand => {
      const s = Tensor.zeros(t.dtype, [t.numel], { shared: true });
      (s.data as Float32Array | Int32Array).set(t.contiguous().data as Float32Array | Int32Array);
      slots.push(s);
      return { kind: 'slot', slot: slots.length - 1, shape: [...t.shape] };
    };
    const { out: _out, ...rest } = args as unknown as Record<string, unknown>;
    const stepArgs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) {
      if (v instanceof Tensor && (v.dtype === 'f32' || v.dtype === 'i32')) {
        const o = slotOf(v);
        inputs.push(o);
        stepArgs[k] = o;
      } else stepArgs[k] = v;
    }
    const outSlot = slotOf(out);
    stepArgs.out = outSlot;
    const prog = this.compile({ slots, layers: 0, steps: [{ op, perSegment: false, args: stepArgs as never }], inputs, outputs: [outSlot] });
    try {
      await prog.run([{ t: 1, p: 0 }]);
    } finally {
      prog.dispose();
    }
    (out.data as Float32Array | Int32Array).set(slots[outSlot.slot]!.data as Float32Array | Int32Array);
    return out;
  }

  /** Sequence state in device pages: forks share pages (copied on write on the device), prefixes are shared. */
  createStatePool(layout: StateLayout, options: StatePoolOptions): StatePool {
    this.usable();
    // Half the device's memory by default, as the native pool takes half the host's.
    return new NativePagedStatePool(this.addon, layout, options, 'cuda', Math.floor(this.addon.cudaStats().totalMemory / 2));
  }

  dispose(): void {
    this.disposed = true;
  }
}
