// Segmented attention in the graph: sequences packed into one pass never attend to each
// other, with or without a KV cache, causal or bidirectional, on every backend. One pass of
// sequences of lengths 1, 7 and 33 must equal each sequence run alone (and the plain reference
// op on its rows), where one unsegmented pass over the same rows would not. Also named outputs.
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, type ValueRef } from '../ts/graph/ir.js';
import { plan } from '../ts/graph/planner.js';
import { PlanExecutor } from '../ts/graph/executor.js';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import type { Backend } from '../ts/backend/backend.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { normals } from './harness/rng.js';
import { TOL_ATTENTION_F32, type Tolerance } from './harness/tolerance.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';

const H = 4;
const HKV = 2;
const D = 16;
const LENGTHS = [1, 7, 33];
const T = LENGTHS.reduce((a, b) => a + b, 0);

const gpu = await openWebGPU();
afterAll(() => gpu?.dispose());
const BACKENDS: Array<{ name: string; backend: Backend | undefined }> = [
  { name: 'native', backend: new NativeBackend() },
  { name: 'reference', backend: new ReferenceBackend() },
  { name: 'webgpu', backend: gpu },
];
const reference = new ReferenceBackend();

type Variant = { name: string; build: (g: GraphBuilder, q: ValueRef, k: ValueRef, v: ValueRef) => ValueRef; alone: (q: Tensor, k: Tensor, v: Tensor) => Tensor };
const VARIANTS: Variant[] = [
  ...[true, false].map((causal) => ({
    name: `attention, ${causal ? 'causal' : 'bidirectional'}`,
    build: (g: GraphBuilder, q: ValueRef, k: ValueRef, v: ValueRef) => g.op('attention', { q, k, v, causal }, ['T', H, D]),
    alone: (q: Tensor, k: Tensor, v: Tensor) => reference.runSync('attention', { q, k, v, causal, out: Tensor.zeros('f32', q.shape) }),
  })),
  {
    name: 'linear attention',
    build: (g, q, k, v) => g.op('linearAttention', { q: g.view(q, ['T', H, D]), k, v: g.view(v, ['T', H, D]) }, ['T', H, D]),
    alone: (q, k, v) => reference.runSync('linearAttention', { q, k, v, out: Tensor.zeros('f32', q.shape) }),
  },
];

function maxErr(got: Float32Array, want: Float32Array, tol: Tolerance): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= tol.atol + tol.rtol * Math.abs(want[i]!))) throw new Error(`at ${i}: want ${want[i]}, got ${got[i]}`);
    worst = Math.max(worst, e);
  }
  return worst;
}

for (const { name, backend } of BACKENDS)
  describe.skipIf(backend === undefined || (name === 'webgpu' && !HAS_WEBGPU))(`segmented passes on ${name}`, () => {
    for (const variant of VARIANTS)
      it(`${variant.name}: one pass over lengths ${LENGTHS.join(', ')} equals each sequence alone`, async () => {
        const linear = variant.name === 'linear attention';
        const kvHeads = linear ? H : HKV;
        const g = new GraphBuilder();
        const q = g.input('q', 'f32', ['T', H, D]);
        const k = g.input('k', 'f32', ['T', kvHeads, D]);
        const v = g.input('v', 'f32', ['T', kvHeads, D]);
        const out = variant.build(g, q, k, v);
        const exec = new PlanExecutor(plan(g.build(out), T, LENGTHS.length), backend!, new Map(), 0);
        try {
          const qv = Float32Array.from(normals(T * H * D, 1));
          const kv = Float32Array.from(normals(T * kvHeads * D, 2));
          const vv = Float32Array.from(normals(T * kvHeads * D, 3));
          const packed = (await exec.run([qv, kv, vv], LENGTHS.map((t) => ({ t, p: 0 })))).toFloat32().slice();
          let row = 0;
          for (const len of LENGTHS) {
            const cut = (a: Float32Array, heads: number) => Tensor.fromValues(a.slice(row * heads * D, (row + len) * heads * D), [len, heads, D]);
            const [qs, ks, vs] = [cut(qv, H), cut(kv, kvHeads), cut(vv, kvHeads)];
            const mine = packed.slice(row * H * D, (row + len) * H * D);
            maxErr(mine, variant.alone(qs, ks, vs).toFloat32(), TOL_ATTENTION_F32);
            const alone = await exec.run([qs.toFloat32(), ks.toFloat32(), vs.toFloat32()], [{ t: len, p: 0 }]);
            maxErr(mine, alone.toFloat32(), TOL_ATTENTION_F32);
            row += len;
          }
          // The check can fail: one segment over the same rows mixes the sequences.
          const mixed = (await exec.run([qv, kv, vv], [{ t: T, p: 0 }])).toFloat32();
          expect(() => maxErr(mixed.slice((1 + 7) * H * D), packed.slice((1 + 7) * H * D), TOL_ATTENTION_F32)).toThrow();
        } finally {
          exec.dispose();
        }
      });

    it('a graph with several named outputs returns each', async () => {
      const g = new GraphBuilder();
      const x = g.input('x', 'f32', ['T', 8]);
      const doubled = g.op('scale', { x, s: 2 }, ['T', 8], 'doubled');
      const act = g.op('silu', { x: doubled }, ['T', 8], 'act');
      const exec = new PlanExecutor(plan(g.build({ hidden: doubled, act }), 12, 2), backend!, new Map(), 0);
      try {
        const xv = Float32Array.from(normals(12 * 8, 9));
        const out = await exec.runOutputs([xv], [{ t: 5, p: 0 }, { t: 7, p: 0 }]);
        expect(Object.keys(out)).toEqual(['hidden', 'act']);
        const want = xv.map((a) => 2 * a);
        maxErr(out.hidden!.toFloat32(), want, TOL_ATTENTION_F32);
        maxErr(out.act!.toFloat32(), want.map((a) => a / (1 + Math.exp(-a))), TOL_ATTENTION_F32);
        await expect(exec.run([new Int32Array(96)], [{ t: 12, p: 0 }])).rejects.toThrow(/input 'x' must be a Float32Array/);
        await expect(exec.run([xv], [{ t: 12, p: 3 }])).rejects.toThrow(/without a cache has no cached rows/);
      } finally {
        exec.dispose();
      }
    });
  });
