// Runs a Plan on a Backend. A pass holds one or more segments (sequences, each on its own
// sequence state): values with T rows hold every segment's rows back to back, and nodes that
// touch the state run once per segment on its rows. Backends that compile (native) get the plan once
// and run each pass in one call; others get the pass's ops resolved to tensor views, in one
// runBatch trip where they have it (WebGPU: one command buffer on device copies of the slots, on
// the backend's own pages of sequence state, told which inputs the host wrote and which output it
// reads), else op by op.

import type { Backend, BatchOp, CompiledPass, MappedWeightSource, OpArgs, OpName, PassSegment, ProgramStep, StateRowsArg, Weight } from '../backend/backend.js';
import { HostSequenceState } from '../backend/host-state.js';
import { Tensor } from '../tensor/tensor.js';
import { evalShape, type Operand } from './ir.js';
import type { Plan } from './planner.js';

export type Segment = PassSegment;

export class PlanExecutor {
  private readonly slots: Tensor[];
  private readonly compiled: CompiledPass | undefined;
  /** The plan appends rows to its segments' static state part (an encoder's plan), not the self part. */
  private readonly writesStatic: boolean;

  constructor(
    readonly plan: Plan,
    private readonly backend: Backend,
    private readonly params: ReadonlyMap<string, Tensor | Weight | MappedWeightSource>,
    layers: number,
  ) {
    // The only allocation: every slot once, at tMax. A backend that compiles runs passes off the
    // main thread on the slots, so they are SharedArrayBuffers (they cannot be detached).
    const shared = backend.compile !== undefined;
    this.slots = plan.slots.map((s) => Tensor.zeros(s.dtype, [s.elements], { shared }));
    for (const node of plan.graph.nodes)
      for (const a of Object.values(node.args))
        if (typeof a === 'object' && a.kind === 'param' && !params.has(a.name)) throw new Error(`plan needs parameter '${a.name}', which was not bound`);
    this.writesStatic = plan.graph.nodes.some((n) => n.out.kind === 'cache' && n.out.part === 'static');
    const slotOf = (id: number) => ({ kind: 'slot' as const, slot: plan.slotOf[id]!, shape: plan.graph.values[id]!.shape });
    this.compiled = backend.compile?.({
      slots: this.slots,
      layers,
      steps: this.steps(),
      inputs: plan.graph.inputs.map(slotOf),
      outputs: Object.values(plan.graph.outputs).map(slotOf),
    });
  }

  /** The plan's nodes with values as slot operands and parameters bound, for compile(). */
  private steps(): ProgramStep[] {
    const g = this.plan.graph;
    const operand = (a: Operand) => {
      if (a.kind === 'value') return { kind: 'slot' as const, slot: this.plan.slotOf[a.id]!, shape: g.values[a.id]!.shape };
      if (a.kind === 'param') return this.params.get(a.name)!;
      return { kind: 'cache' as const, part: a.part, layer: a.layer, which: a.which, rows: a.rows, shape: a.shape, dtype: a.dtype };
    };
    return g.nodes.map((node) => {
      const args: Record<string, unknown> = {};
      for (const [k, a] of Object.entries(node.args)) args[k] = typeof a === 'object' ? operand(a) : a;
      return { op: node.op, perSegment: node.perSegment, args: { ...args, out: operand(node.out) as ProgramStep['args']['out'] } };
    });
  }

  /** A value's view for `t` rows from row `row` (T-row values), in a pass of `b` segments. */
  private valueTensor(id: number, t: number, b: number, row = 0): Tensor {
    const v = this.plan.graph.values[id]!;
    const shape = evalShape(v.shape, t, 0, b);
    const numel = shape.reduce((x, y) => x * y, 1);
    const offset = v.shape[0] === 'T' ? row * (numel / Math.max(1, t)) : 0;
    const slot = this.slots[this.plan.slotOf[id]!]!;
    return new Tensor(v.dtype, shape, slot.storage.subarray(offset, offset + numel));
  }

  /**
   * One segment's rows of a cache operand: a view of host state, or (a state the backend's own
   * pool made, on a backend with runBatch: WebGPU) the rows by reference, bound by the backend.
   */
  private cacheTensor(o: Extract<Operand, { kind: 'cache' }>, s: Segment): Tensor | StateRowsArg {
    if (!s.state) throw new RangeError('forward: this graph reads sequence state, and a sequence of the pass has none');
    // Static rows after this pass: what the state holds, plus this pass's when it appends them.
    const e = s.state.staticLength + (this.writesStatic ? s.t : 0);
    const all = o.part === 'static' ? e : s.p + s.t;
    if (!(s.state instanceof HostSequenceState)) {
      if (!this.backend.runBatch || !this.backend.createStatePool)
        throw new TypeError(`forward: the ${this.backend.name} backend runs on host sequence state; this state belongs to another backend`);
      const shape = evalShape(o.shape, s.t, s.p, 1, e);
      const [from, to] = o.rows === 'new' ? [s.p, s.p + s.t] : [0, all];
      return { kind: 'stateRows', state: s.state, part: o.part, layer: o.layer, which: o.which, from, to, dtype: o.dtype, shape, rank: shape.length };
    }
    const part = o.part === 'static' ? s.state.staticBuffers() : s.state;
    const buf = (o.which === 'k' ? part.k : part.v)[o.layer];
    if (!buf) throw new RangeError(`cache has no layer ${o.layer}`);
    const rows = o.rows === 'new' ? buf.slice(0, s.p, s.p + s.t) : buf.slice(0, 0, all);
    return rows.reshape(evalShape(o.shape, s.t, s.p, 1, e));
  }

  /**
   * One pass over `segments` (their new tokens back to back). `inputs` fill the graph's input
   * values in order (Int32Array for i32 values, Float32Array for f32 ones); returns the first
   * output's tensor (a view of a slot: valid until the next run).
   */
  async run(inputs: readonly (Int32Array | Float32Array)[], segments: readonly Segment[]): Promise<Tensor> {
    const out = await this.runOutputs(inputs, segments);
    return out[Object.keys(this.plan.graph.outputs)[0]!]!;
  }

  /** One pass, as run(); returns every named output (views of slots, valid until the next run). */
  async runOutputs(inputs: readonly (Int32Array | Float32Array)[], segments: readonly Segment[]): Promise<Record<string, Tensor>> {
    const g = this.plan.graph;
    const b = segments.length;
    if (b < 1 || b > this.plan.bMax) throw new RangeError(`forward: a pass holds 1 to ${this.plan.bMax} sequences, got ${b}`);
    let t = 0;
    for (const s of segments) {
      if (!Number.isInteger(s.t) || s.t < 1) throw new RangeError('forward: every sequence in a pass needs at least one new token');
      if (!Number.isInteger(s.p) || s.p < 0) throw new RangeError(`forward: cached rows must be an integer >= 0, got ${s.p}`);
      if (s.state?.disposed) throw new Error('forward: a sequence state of the pass was disposed');
      const held = this.writesStatic ? s.state?.staticLength : s.state?.length;
      if (s.state && s.p !== held) throw new RangeError(`forward: the state holds ${held}${this.writesStatic ? ' static' : ''} rows, but the segment says ${s.p} are cached`);
      if (s.state instanceof HostSequenceState && s.p + s.t > s.state.capacity)
        throw new RangeError(`forward: ${s.p} cached + ${s.t} new tokens exceed the state's capacity ${s.state.capacity}`);
      if (!s.state && s.p !== 0) throw new RangeError(`forward: a sequence without a cache has no cached rows, got ${s.p}`);
      t += s.t;
    }
    if (t > this.plan.tMax) throw new RangeError(`forward: ${t} tokens do not fit the plan (1 to ${this.plan.tMax})`);
    const written = g.inputs.map((id, i) => {
      const view = this.valueTensor(id, t, b);
      const src = inputs[i];
      const name = g.values[id]!.name;
      const want = view.dtype === 'i32' ? Int32Array : Float32Array;
      if (!(src instanceof want)) throw new TypeError(`forward: input '${name}' must be a ${want.name}`);
      if (src.length !== view.numel) throw new RangeError(`forward: input '${name}' must have ${view.numel} values, got ${src.length}`);
      (view.data as Int32Array | Float32Array).set(src);
      return view;
    });
    const outputs: Record<string, Tensor> = {};
    for (const [name, id] of Object.entries(g.outputs)) outputs[name] = this.valueTensor(id, t, b);
    if (this.compiled) await this.compiled.run(segments);
    else {
      await this.runOps(t, segments, written, Object.values(outputs));
      // Host state has no native side to count its rows: they are filled now.
      const grows = this.plan.graph.nodes.some((n) => n.out.kind === 'cache');
      for (const s of segments) if (grows && s.state instanceof HostSequenceState) s.state.grow(s.p + s.t, this.writesStatic ? 'static' : 'self');
    }
    return outputs;
  }

  private async runOps(t: number, segments: readonly Segment[], written: Tensor[], outputs: Tensor[]): Promise<void> {
    const b = segments.length;
    const ops: BatchOp[] = [];
    for (const node of this.plan.graph.nodes) {
      const add = (n: number, row: number, s?: Segment) => {
        const resolve = (a: Operand): Tensor | StateRowsArg | Weight | MappedWeightSource =>
          a.kind === 'value' ? this.valueTensor(a.id, n, b, row) : a.kind === 'param' ? this.params.get(a.name)! : this.cacheTensor(a, s!);
        const args: Record<string, unknown> = {};
        for (const [k, a] of Object.entries(node.args)) args[k] = typeof a === 'object' ? resolve(a) : a;
        ops.push({ op: node.op, args: { ...args, out: resolve(node.out) as Tensor | StateRowsArg } });
      };
      if (!node.perSegment) add(t, 0);
      else {
        let row = 0;
        for (const s of segments) {
          add(s.t, row, s);
          row += s.t;
        }
      }
    }
    // Backends that take a whole batch run the pass in one trip; others op by op (on host state
    // only: cacheTensor gives state rows by reference to runBatch backends alone).
    if (this.backend.runBatch) await this.backend.runBatch(ops, { inputs: written, outputs });
    else for (const o of ops) await this.backend.run(o.op, o.args as OpArgs[OpName] & { out: Tensor });
  }

  /** Bytes the plan's slots hold. */
  get bytes(): number {
    return this.slots.reduce((a, s) => a + s.storage.byteLength, 0);
  }

  /** Lets the backend drop its compiled pass and any device copies of the slots and parameters. */
  dispose(): void {
    this.compiled?.dispose();
    this.backend.release?.([...this.slots, ...[...this.params.values()].filter((p): p is Tensor => p instanceof Tensor)]);
  }
}
