// linear: out = act(x . W^T + bias) with a packed weight of any dtype, and the reference weight.

import type { Tensor } from '../../tensor/tensor.js';
import type { DType } from '../../tensor/dtype.js';
import type { PackWeightOptions, Weight } from '../backend.js';
import { defineOp } from '../registry.js';
import { erf } from './elementwise.js';
import { expectShape, expectTensor, fail, shapeStr } from './check.js';

// 'relu' and 'tanh' are BERT's: hidden_act relu, and its pooler's tanh over [CLS].
export type Activation = 'none' | 'gelu' | 'gelu_tanh' | 'silu' | 'relu' | 'tanh';

declare module '../backend.js' {
  interface OpArgs {
    /** x: (..., K) f32, weight: W (N, K) packed by the backend, bias: (N) f32 -> (..., N) f32 */
    linear: { x: Tensor; weight: Weight; bias?: Tensor; activation?: Activation };
  }
}

/** The reference backend's weight: the tensor itself (and i8 scales), dequantized on use. */
export class ReferenceWeight implements Weight {
  readonly dtype: DType;
  readonly shape: readonly [number, number];
  readonly backend = 'reference';
  private values: Float32Array | undefined;

  constructor(tensor: Tensor, options: PackWeightOptions = {}) {
    if (tensor.rank !== 2) throw new RangeError(`packWeight: 'weight' must have shape [outFeatures, inFeatures], got ${shapeStr(tensor.shape)}`);
    this.dtype = tensor.dtype;
    this.shape = [tensor.shape[0]!, tensor.shape[1]!];
    const v = tensor.toFloat32();
    if (tensor.dtype === 'i8') {
      if (!options.scales) throw new TypeError("packWeight: i8 weights need 'scales' (one f32 per output row)");
      expectShape('packWeight', 'scales', options.scales, [this.shape[0]]);
      const s = options.scales.toFloat32();
      const bad = s.findIndex((d) => !Number.isFinite(d));
      if (bad >= 0) throw new RangeError(`packWeight: 'scales'[${bad}] is not finite; every row scale must be a finite number`);
      const k = this.shape[1];
      for (let i = 0; i < v.length; i++) v[i] = Math.fround(v[i]! * s[Math.floor(i / k)]!);
    }
    this.values = v;
  }

  get bytes(): number {
    return this.values ? this.values.byteLength : 0;
  }
  get disposed(): boolean {
    return this.values === undefined;
  }
  /** W as f32 values, (N, K) row-major. */
  f32(): Float32Array {
    if (!this.values) throw new TypeError("linear: 'weight' was disposed");
    return this.values;
  }
  dispose(): void {
    this.values = undefined;
  }
}

const ACTIVATIONS: readonly Activation[] = ['none', 'gelu', 'gelu_tanh', 'silu', 'relu', 'tanh'];
const K_GELU = Math.sqrt(2 / Math.PI);

function activate(v: number, a: Activation): number {
  switch (a) {
    case 'gelu': return 0.5 * v * (1 + erf(v / Math.SQRT2));
    case 'gelu_tanh': return 0.5 * v * (1 + Math.tanh(K_GELU * (v + 0.044715 * v * v * v)));
    case 'silu': return v / (1 + Math.exp(-v));
    case 'relu': return v > 0 ? v : 0;
    case 'tanh': return Math.tanh(v);
    default: return v;
  }
}

defineOp({
  name: 'linear',
  output({ x, weight, bias, activation }) {
    expectTensor('linear', 'x', x, ['f32']);
    if (!weight || typeof weight !== 'object' || !('shape' in weight)) fail('linear', "'weight' must be a packed Weight", 'type');
    if (weight.disposed) fail('linear', "'weight' was disposed", 'type');
    if (x.rank < 1) fail('linear', `'x' must have rank >= 1, got shape ${shapeStr(x.shape)}`);
    const [n, k] = weight.shape;
    if (x.shape[x.rank - 1] !== k) fail('linear', `'x' has ${x.shape[x.rank - 1]} features in its last dimension but 'weight' expects ${k}`);
    if (bias !== undefined) expectShape('linear', 'bias', expectTensor('linear', 'bias', bias, ['f32']), [n]);
    if (activation !== undefined && !ACTIVATIONS.includes(activation))
      fail('linear', `'activation' must be one of ${ACTIVATIONS.map((a) => `'${a}'`).join(', ')}, got '${String(activation)}'`);
    return { dtype: 'f32', shape: [...x.shape.slice(0, -1), n] };
  },
  reference({ x, weight, bias, activation = 'none' }, out) {
    if (!(weight instanceof ReferenceWeight)) fail('linear', "'weight' was packed by another backend", 'type');
    const w = weight.f32();
    const xv = x.toFloat32();
    const b = bias?.toFloat32();
    const [n, k] = weight.shape;
    const m = k === 0 ? out.numel / Math.max(n, 1) : xv.length / k;
    const o = out.data;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = b ? b[j]! : 0;
        for (let p = 0; p < k; p++) acc += xv[i * k + p]! * w[j * k + p]!;
        o[i * n + j] = activate(acc, activation);
      }
  },
});
