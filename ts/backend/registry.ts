// The op registry: one OpSpec per op with its argument checks, output shape and the plain
// TypeScript reference. Backends are generic over it; op families register in ops/*.ts.

import type { Tensor } from '../tensor/tensor.js';
import type { OpArgs, OpName, OutputSpec } from './backend.js';

export interface OpSpec<K extends OpName = OpName> {
  readonly name: K;
  /** Checks the arguments (TypeError/RangeError naming the argument) and gives the output. */
  output(args: OpArgs[K]): OutputSpec;
  /** The reference: obvious loops in f64, writing into `out` (contiguous, from output()). */
  reference(args: OpArgs[K], out: Tensor): void;
  /** The arguments as the native op reads them; default: tensors and numbers as given. */
  nativeArgs?(args: OpArgs[K]): Record<string, unknown>;
  /**
   * Output rows depend on other rows along the sequence axis (attention). In a pass that packs
   * several sequences the graph runs such an op once per sequence, so none sees another's rows.
   * A function decides from the node's attributes (rope reads the pass's longest position only
   * when a scaling depends on it).
   */
  readonly mixesRows?: boolean | ((attrs: Readonly<Record<string, unknown>>) => boolean);
}

const specs = new Map<string, OpSpec>();

export function defineOp<K extends OpName>(spec: OpSpec<K>): void {
  if (specs.has(spec.name)) throw new Error(`op '${spec.name}' is defined twice`);
  specs.set(spec.name, spec as unknown as OpSpec);
}

export function opSpec<K extends OpName>(name: K): OpSpec<K> {
  const s = specs.get(name);
  if (!s) throw new RangeError(`unknown op '${String(name)}'; known ops: ${[...specs.keys()].join(', ')}`);
  return s as unknown as OpSpec<K>;
}

/** Names of every registered op. */
export function opNames(): OpName[] {
  return [...specs.keys()] as OpName[];
}
