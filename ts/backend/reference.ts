// The reference backend: plain TypeScript, one obvious loop per op (in ops/*.ts), f64
// arithmetic rounded on store. Slow on purpose and never deleted: every other backend is
// judged against it.

import { orientWeight } from './ops/weight-layout.js';
import { Tensor } from '../tensor/tensor.js';
import type { Backend, MappedWeightSource, OpArgs, OpName, OutArg, PackWeightOptions, Weight } from './backend.js';
import { ReferenceWeight } from './ops/linear.js';
import { checkOut } from './out.js';
import { opNames, opSpec } from './registry.js';
import './ops/index.js';

export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  readonly ops: ReadonlySet<OpName> = new Set(opNames());
  private disposed = false;

  /** Synchronous form, for tests and for goldens computed in TypeScript. */
  runSync<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Tensor {
    if (this.disposed) throw new Error('reference backend is disposed');
    const spec = opSpec(op);
    const shape = spec.output(args);
    const out = args.out ?? Tensor.zeros(shape.dtype, shape.shape);
    checkOut(op, out, shape);
    spec.reference(args, out);
    return out;
  }

  async run<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Promise<Tensor> {
    return this.runSync(op, args);
  }

  packWeight(weight: Tensor | MappedWeightSource, options: PackWeightOptions = {}): Weight {
    return new ReferenceWeight(orientWeight(weight instanceof Tensor ? weight : weight.load(), options), options);
  }

  dispose(): void {
    this.disposed = true;
  }
}
