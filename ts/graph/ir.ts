// The graph IR models are written in once: op nodes over values whose shapes may use the
// symbolic sequence length, plus parameters, packed weights and KV-cache slices as operands.
// Not an optimizer and not an executor: see planner.ts and executor.ts.

import type { OpName } from '../backend/backend.js';

/** A dimension: a constant, 'T' (tokens in this pass) or 'S' (cached + new tokens). */
export type SymDim = number | 'T' | 'S';

export interface ValueInfo {
  readonly id: number;
  readonly name: string;
  readonly dtype: 'f32' | 'i32';
  readonly shape: readonly SymDim[];
  /** Values that are views of another value's storage (reshape, last row) name their base. */
  readonly base?: number;
  /** For views: the element offset in the base, 'lastRow' = (T - 1) * row length. */
  readonly offset?: 'lastRow';
  readonly input?: boolean;
}

/** A slice of one layer's K or V cache (Tmax, Hkv, D): 'new' rows [P, P+T) or 'all' rows [0, P+T). */
export interface CacheOperand {
  readonly kind: 'cache';
  readonly layer: number;
  readonly which: 'k' | 'v';
  readonly rows: 'new' | 'all';
  /** Shape of the view handed to the op (rows first). */
  readonly shape: readonly SymDim[];
}

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
}

export interface Graph {
  readonly values: readonly ValueInfo[];
  readonly nodes: readonly GraphNode[];
  readonly inputs: readonly number[];
  readonly output: number;
}

export type ValueRef = { readonly kind: 'value'; readonly id: number };

function isOperand(a: unknown): a is Operand {
  return typeof a === 'object' && a !== null && 'kind' in a;
}

/** Builds a Graph node by node; each op's output shape is stated by the model that adds it. */
export class GraphBuilder {
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

  cache(layer: number, which: 'k' | 'v', rows: 'new' | 'all', shape: SymDim[]): CacheOperand {
    return { kind: 'cache', layer, which, rows, shape };
  }

  /** Adds `op` writing a new f32 value of `shape`. */
  op(op: OpName, args: Record<string, Operand | Attr | undefined>, shape: SymDim[], name: string = op): ValueRef {
    const out = this.add({ name, dtype: 'f32', shape });
    this.nodes.push({ op, args: clean(args), out });
    return out;
  }

  /** Adds `op` writing into a KV-cache slice. */
  opInto(op: OpName, args: Record<string, Operand | Attr | undefined>, out: CacheOperand): void {
    this.nodes.push({ op, args: clean(args), out });
  }

  /** The same storage seen with another shape (same element count). */
  view(v: ValueRef, shape: SymDim[]): ValueRef {
    const base = this.values[v.id]!;
    return this.add({ name: `${base.name}.view`, dtype: base.dtype, shape, base: base.base ?? v.id });
  }

  /** The last row of a (T, C) value as (1, C). */
  lastRow(v: ValueRef): ValueRef {
    const base = this.values[v.id]!;
    if (base.base !== undefined || base.shape.length !== 2 || base.shape[0] !== 'T') throw new Error('lastRow needs a (T, C) value that is not a view');
    return this.add({ name: `${base.name}.last`, dtype: base.dtype, shape: [1, base.shape[1]!], base: v.id, offset: 'lastRow' });
  }

  build(output: ValueRef): Graph {
    return { values: [...this.values], nodes: [...this.nodes], inputs: [...this.inputs], output: output.id };
  }
}

function clean(args: Record<string, Operand | Attr | undefined>): Record<string, Operand | Attr> {
  const out: Record<string, Operand | Attr> = {};
  for (const [k, v] of Object.entries(args)) if (v !== undefined) out[k] = v;
  return out;
}

export function operandsOf(n: GraphNode): Operand[] {
  return Object.values(n.args).filter(isOperand);
}

/** Evaluates a symbolic shape for T new tokens after P cached ones. */
export function evalShape(shape: readonly SymDim[], t: number, p: number): number[] {
  return shape.map((d) => (d === 'T' ? t : d === 'S' ? p + t : d));
}
