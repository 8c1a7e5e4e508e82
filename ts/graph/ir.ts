// The graph IR models are written in once: op nodes over values whose shapes may use the
// symbolic sequence length, plus parameters, packed weights and KV-cache slices as operands.
// A pass may run several sequences at once (segments): values with T rows hold every
// segment's rows back to back, and nodes that touch a KV cache or mix rows (attention, with or
// without a cache, causal or bidirectional) run once per segment on its rows, so sequences
// packed into one pass never see each other. A graph has one or more named outputs. Not an
// optimizer and not an executor: see planner.ts and executor.ts.

import type { OpName } from '../backend/backend.js';
import { opSpec } from '../backend/registry.js';
import '../backend/ops/index.js';

/**
 * A dimension: a constant, 'T' (new tokens in this pass, all segments), 'S' (cached + new
 * tokens of one segment, in nodes that run per segment), 'B' (segments in this pass) or 'E' (the
 * rows of a segment's static state part: an encoder's output, for cross-attention).
 */
export type SymDim = number | 'T' | 'S' | 'B' | 'E';

export interface ValueInfo {
  readonly id: number;
  readonly name: string;
  readonly dtype: 'f32' | 'i32';
  readonly shape: readonly SymDim[];
  /** Values that are views of another value's storage (reshapes) name their base. */
  readonly base?: number;
  readonly input?: boolean;
}

/**
 * A slice of one layer's K or V rows in a segment's sequence state: 'new' rows [P, P+T) or 'all'
 * rows [0, P+T) of its 'self' part (self-attention K/V, growing by each pass's tokens), or of
 * its 'static' part (cross-attention K/V of an encoder's output: written once by the encoder's
 * plan, whose P counts static rows; 'all' static rows are [0, E)).
 */
export interface CacheOperand {
  readonly kind: 'cache';
  readonly part: 'self' | 'static';
  readonly layer: number;
  readonly which: 'k' | 'v';
  readonly rows: 'new' | 'all';
  /** Shape of the view handed to the op (rows first). */
  readonly shape: readonly SymDim[];
  /** Element type of the cache's buffers. */
  readonly dtype: KVDType;
}

/** Element type of a KV cache: f32, or f16 (half the bytes attention reads per step). */
export type KVDType = 'f32' | 'f16';

export type Operand =
  | { readonly kind: 'value'; readonly id: number }
  | { readonly kind: 'param'; readonly name: string }
  | CacheOperand;

export type Attr = number | boolean | string;

export interface GraphNode {
  readonly op: OpName;
  readonly args: Readonly<Record<string, Operand | Attr>>;
  /** Where the op writes: a planned value or a KV-cache slice. */
  readonly out: Operand;
  /**
   * Nodes with a KV-cache operand, and ops that mix rows, run once per segment: their T-row
   * values are cut to the segment's rows and 'S' is that segment's cached + new rows.
   */
  readonly perSegment: boolean;
}

export interface Graph {
  readonly values: readonly ValueInfo[];
  readonly nodes: readonly GraphNode[];
  readonly inputs: readonly number[];
  /** Named outputs (value ids), in the order build() was given them. */
  readonly outputs: Readonly<Record<string, number>>;
  /** The first output: what a single-output caller reads. */
  readonly output: number;
}

export type ValueRef = { readonly kind: 'value'; readonly id: number };

function isValueRef(a: unknown): a is ValueRef {
  return typeof a === 'object' && a !== null && (a as { kind?: unknown }).kind === 'value' && typeof (a as { id?: unknown }).id === 'number';
}

function isOperand(a: unknown): a is Operand {
  return typeof a === 'object' && a !== null && 'kind' in a;
}

/** Builds a Graph node by node; each op's output shape is stated by the model that adds it. */
export class GraphBuilder {
  /** kvDtype: the element type of the KV caches the graph's cache operands refer to. */
  constructor(readonly kvDtype: KVDType = 'f32') {}
  private readonly values: ValueInfo[] = [];
  private readonly nodes: GraphNode[] = [];
  private readonly inputs: number[] = [];

  private add(v: Omit<ValueInfo, 'id'>): ValueRef {
    const id = this.values.length;
    this.values.push({ ...v, id });
    return { kind: 'value', id };
  }

  input(name: string, dtype: 'f32' | 'i32', shape: SymDim[]): ValueRef {
    const r = this.add({ name, dtype, shape, input: true });
    this.inputs.push(r.id);
    return r;
  }

  param(name: string): Operand {
    return { kind: 'param', name };
  }

  cache(layer: number, which: 'k' | 'v', rows: 'new' | 'all', shape: SymDim[], part: 'self' | 'static' = 'self'): CacheOperand {
    return { kind: 'cache', part, layer, which, rows, shape, dtype: this.kvDtype };
  }

  /** Adds `op` writing a new f32 value of `shape`. */
  op(op: OpName, args: Record<string, Operand | Attr | undefined>, shape: SymDim[], name: string = op): ValueRef {
    const out = this.add({ name, dtype: 'f32', shape });
    this.nodes.push(node(op, args, out));
    return out;
  }

  /** Adds `op` writing into a KV-cache slice. */
  opInto(op: OpName, args: Record<string, Operand | Attr | undefined>, out: CacheOperand): void {
    this.nodes.push(node(op, args, out));
  }

  /** The same storage seen with another shape (same element count). */
  view(v: ValueRef, shape: SymDim[]): ValueRef {
    const base = this.values[v.id]!;
    return this.add({ name: `${base.name}.view`, dtype: base.dtype, shape, base: base.base ?? v.id });
  }

  /** The graph with one output (named 'output') or several named ones. */
  build(outputs: ValueRef | Readonly<Record<string, ValueRef>>): Graph {
    const named: Record<string, number> = {};
    if (isValueRef(outputs)) named.output = outputs.id;
    else for (const [name, v] of Object.entries(outputs)) named[name] = v.id;
    const ids = Object.values(named);
    if (ids.length === 0) throw new RangeError('graph: build() needs at least one output');
    return { values: [...this.values], nodes: [...this.nodes], inputs: [...this.inputs], outputs: named, output: ids[0]! };
  }
}

function node(op: OpName, args: Record<string, Operand | Attr | undefined>, out: Operand): GraphNode {
  const clean: Record<string, Operand | Attr> = {};
  for (const [k, v] of Object.entries(args)) if (v !== undefined) clean[k] = v;
  const mixes = opSpec(op).mixesRows;
  const perSegment = out.kind === 'cache' || (typeof mixes === 'function' ? mixes(clean) : mixes === true) || Object.values(clean).some((a) => isOperand(a) && a.kind === 'cache');
  return { op, args: clean, out, perSegment };
}

export function operandsOf(n: GraphNode): Operand[] {
  return Object.values(n.args).filter(isOperand);
}

/** Evaluates a symbolic shape for T new tokens after P cached ones, in a pass of B segments with E static rows. */
export function evalShape(shape: readonly SymDim[], t: number, p: number, b = 1, e = 0): number[] {
  return shape.map((d) => (d === 'T' ? t : d === 'S' ? p + t : d === 'B' ? b : d === 'E' ? e : d));
}
