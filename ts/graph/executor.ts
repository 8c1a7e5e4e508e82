// Runs a Plan on a Backend op by op: binds values to views of the planned slots for this pass's
// sequence length, parameters to tensors and packed weights, and cache operands to KV-cache
// slices. Backends with runBatch run the whole pass in one trip: native off the main thread,
// WebGPU in one command buffer on device copies of the slots and caches, told which inputs the
// host wrote and which output it reads. Compiling the plan once into the addon (no per-pass
// argument checks) is the later step.

import type { Backend, BatchOp, MappedWeightSource, OpArgs, OpName, Weight } from '../backend/backend.js';
import { Tensor } from '../tensor/tensor.js';
import { evalShape, type Operand } from './ir.js';
import type { Plan } from './planner.js';

/** Per-layer K and V buffers (Tmax, Hkv, D) f32 and how many rows are filled. */
export interface CacheBuffers {
  readonly k: readonly Tensor[];
  readonly v: readonly Tensor[];
  readonly capacity: number;
}

export class PlanExecutor {
  private readonly slots: Tensor[];

  constructor(
    readonly plan: Plan,
    private readonly backend: Backend,
    private readonly params: ReadonlyMap<string, Tensor | Weight | MappedWeightSource>,
  ) {
    // The only allocation: every slot once, at tMax.
    this.slots = plan.slots.map((s) => Tensor.zeros(s.dtype, [s.elements]));
    for (const node of plan.graph.nodes)
      for (const a of Object.values(node.args))
        if (typeof a === 'object' && a.kind === 'param' && !params.has(a.name)) throw new Error(`plan needs parameter '${a.name}', which was not bound`);
  }

  private valueTensor(id: number, t: number): Tensor {
    const v = this.plan.graph.values[id]!;
    const shape = evalShape(v.shape, t, 0);
    const slot = this.slots[this.plan.slotOf[id]!]!;
    let offset = 0;
    if (v.offset === 'lastRow') offset = (t - 1) * (shape[1] ?? 0);
    const numel = shape.reduce((a, b) => a * b, 1);
    return new Tensor(v.dtype, shape, slot.storage.subarray(offset, offset + numel));
  }

  private cacheTensor(o: Extract<Operand, { kind: 'cache' }>, cache: CacheBuffers, t: number, p: number): Tensor {
    const buf = (o.which === 'k' ? cache.k : cache.v)[o.layer];
    if (!buf) throw new RangeError(`cache has no layer ${o.layer}`);
    const rows = o.rows === 'new' ? buf.slice(0, p, p + t) : buf.slice(0, 0, p + t);
    return rows.reshape(evalShape(o.shape, t, p));
  }

  /**
   * One pass over `t` new tokens after `p` cached ones. `inputs` fill the input values in
   * graph order; returns the output value's tensor (a view of a slot: valid until the next run).
   */
  async run(inputs: readonly Int32Array[], t: number, p: number, cache: CacheBuffers): Promise<Tensor> {
    const g = this.plan.graph;
    if (!Number.isInteger(t) || t < 1 || t > this.plan.tMax) throw new RangeError(`forward: ${t} tokens do not fit the plan (1 to ${this.plan.tMax})`);
    if (p + t > cache.capacity) throw new RangeError(`forward: ${p} cached + ${t} new tokens exceed the cache capacity ${cache.capacity}`);
    const written = g.inputs.map((id, i) => {
      const src = inputs[i];
      if (!src || src.length !== t) throw new RangeError(`forward: input '${g.values[id]!.name}' must have ${t} values`);
      const view = this.valueTensor(id, t);
      (view.data as Int32Array).set(src);
      return view;
    });
    const resolve = (a: Operand): Tensor | Weight | MappedWeightSource => {
      if (a.kind === 'value') return this.valueTensor(a.id, t);
      if (a.kind === 'param') return this.params.get(a.name)!;
      return this.cacheTensor(a, cache, t, p);
    };
    const ops: BatchOp[] = g.nodes.map((node) => {
      const args: Record<string, unknown> = {};
      for (const [k, a] of Object.entries(node.args)) args[k] = typeof a === 'object' ? resolve(a) : a;
      return { op: node.op, args: { ...args, out: resolve(node.out) as Tensor } };
    });
    const output = this.valueTensor(g.output, t);
    // Backends that take a whole batch run the pass in one trip; others op by op.
    if (this.backend.runBatch) await this.backend.runBatch(ops, { inputs: written, outputs: [output] });
    else for (const o of ops) await this.backend.run(o.op, o.args as OpArgs[OpName] & { out: Tensor });
    return output;
  }

  /** Lets the backend drop any device copies of the slots and parameters (no more passes follow). */
  release(): void {
    this.backend.release?.([...this.slots, ...[...this.params.values()].filter((p): p is Tensor => p instanceof Tensor)]);
  }

  /** Bytes the plan's slots hold. */
  get bytes(): number {
    return this.slots.reduce((a, s) => a + s.storage.byteLength, 0);
  }
}
