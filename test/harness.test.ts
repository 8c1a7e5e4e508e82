// Tests of the op harness itself: a deliberately broken kernel must be caught.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../ts/tensor/tensor.js';
import { NativeBackend } from '../ts/backend/native.js';
import type { Backend, OpArgs, OpName, OutArg, PackWeightOptions, Weight } from '../ts/backend/backend.js';
import { checkCase, type OpCase } from './harness/ops-harness.js';
import { opCases } from './harness/cases/index.js';

/** Wraps the native backend and corrupts what one op writes. */
class BrokenBackend implements Backend {
  readonly name = 'broken';
  readonly ops;
  constructor(
    private readonly inner: Backend,
    private readonly fault: 'overrun' | 'underrun' | 'value' | 'nan' | 'input',
  ) {
    this.ops = inner.ops;
  }
  async run<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Promise<Tensor> {
    const out = await this.inner.run(op, args);
    const d = out.data as Float32Array;
    if (this.fault === 'overrun') new Float32Array(d.buffer, d.byteOffset, d.length + 1)[d.length] = 0;
    if (this.fault === 'underrun') new Float32Array(d.buffer, d.byteOffset - 4, 1)[0] = 0;
    if (this.fault === 'value') d[d.length >> 1] = d[d.length >> 1]! * 1.01 + 0.01;
    if (this.fault === 'nan') d[d.length - 1] = NaN;
    if (this.fault === 'input') ((args as OpArgs['silu']).x.data as Float32Array)[0] = 123;
    return out;
  }
  packWeight(weight: Tensor, options?: PackWeightOptions): Weight {
    return this.inner.packWeight(weight, options);
  }
  dispose(): void {}
}

const silu = opCases().find((c) => c.op === 'silu' && c.label === '[33]') as OpCase<'silu'>;

describe('op harness', () => {
  it('passes a correct kernel', async () => {
    expect((await checkCase(new NativeBackend(), silu)).ok).toBe(true);
  });
  it.each([
    ['overrun', /guard bytes after/],
    ['underrun', /guard bytes before/],
    ['value', /value at 16/],
    ['nan', /NaN parity at 32/],
    ['input', /input tensor .* was modified/],
  ] as const)('catches a kernel with a fault: %s', async (fault, message) => {
    const c = { ...silu, args: { x: Tensor.fromValues(silu.args.x.toFloat32(), [33]) } };
    const r = await checkCase(new BrokenBackend(new NativeBackend(), fault), c);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(message);
  });
});
