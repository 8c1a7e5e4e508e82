// The static part of sequence state (cross-attention K/V) and an encoder-decoder as two plans
// over shared weights: an encoder plan projects its input into each sequence's static part once;
// a decoder plan attends from its queries over those rows at every step, bidirectionally, per
// segment. Packed passes of sequences with different encoder lengths must equal the plain
// reference attention over each sequence's own encoder rows, on every backend; forks share the
// static part, and decoder passes leave it (and the self part) as they were.
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ts/graph/ir.js';
import { plan } from '../ts/graph/planner.js';
import { PlanExecutor } from '../ts/graph/executor.js';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { HostStatePool } from '../ts/backend/host-state.js';
import type { Backend, SequenceState, StatePool, Weight } from '../ts/backend/backend.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { normals } from './harness/rng.js';
import { TOL_ATTENTION_F32 } from './harness/tolerance.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';

const H = 2;
const D = 8;
const C = H * D;
const ENC = [5, 19]; // encoder lengths of the two sequences
const DEC = [1, 3]; // decoder tokens per sequence in the packed pass

const gpu = await openWebGPU();
afterAll(() => gpu?.dispose());
const BACKENDS: Array<{ name: string; backend: Backend | undefined }> = [
  { name: 'native', backend: new NativeBackend() },
  { name: 'reference', backend: new ReferenceBackend() },
  { name: 'webgpu', backend: gpu },
];
const reference = new ReferenceBackend();

// Shared weights: (C, C) projections for the cross K and V (encoder plan) and the query (decoder plan).
const W = { k: normals(C * C, 11, 0.3), v: normals(C * C, 12, 0.3), q: normals(C * C, 13, 0.3) };

/** y = x W^T for x: (T, C), W: (C, C), in f64 for the reference. */
function project(x: Float32Array, w: Float32Array, rows: number): Float32Array {
  const y = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++)
    for (let n = 0; n < C; n++) {
      let s = 0;
      for (let k = 0; k < C; k++) s += x[r * C + k]! * w[n * C + k]!;
      y[r * C + n] = s;
    }
  return y;
}

function close(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    if (!(Math.abs(got[i]! - want[i]!) <= TOL_ATTENTION_F32.atol + TOL_ATTENTION_F32.rtol * Math.abs(want[i]!)))
      throw new Error(`at ${i}: want ${want[i]}, got ${got[i]}`);
}

for (const { name, backend } of BACKENDS)
  describe.skipIf(backend === undefined || (name === 'webgpu' && !HAS_WEBGPU))(`static state part on ${name}`, () => {
    it(`an encoder plan writes cross K/V once; a decoder plan attends over it (encoder lengths ${ENC.join(', ')})`, async () => {
      const b = backend!;
      const params = new Map<string, Tensor | Weight>([
        ['wk', b.packWeight(Tensor.fromValues(W.k, [C, C]))],
        ['wv', b.packWeight(Tensor.fromValues(W.v, [C, C]))],
        ['wq', b.packWeight(Tensor.fromValues(W.q, [C, C]))],
      ]);
      // Encoder plan: x (T, C) -> cross K/V rows of layer 0 in the static part.
      const e = new GraphBuilder();
      const x = e.input('x', 'f32', ['T', C]);
      const k = e.op('linear', { x, weight: e.param('wk') }, ['T', C], 'k');
      const v = e.op('linear', { x, weight: e.param('wv') }, ['T', C], 'v');
      e.opInto('cast', { x: k, dtype: 'f32' }, e.cache(0, 'k', 'new', ['T', C], 'static'));
      e.opInto('cast', { x: v, dtype: 'f32' }, e.cache(0, 'v', 'new', ['T', C], 'static'));
      const encoder = new PlanExecutor(plan(e.build({ k }), 32, 2), b, params, 1);
      // Decoder plan: y (T, C) -> queries attending over the segment's static rows [0, E).
      const d = new GraphBuilder();
      const y = d.input('y', 'f32', ['T', C]);
      const q = d.view(d.op('linear', { x: y, weight: d.param('wq') }, ['T', C], 'q'), ['T', H, D]);
      const cross = d.op('attention', { q, k: d.cache(0, 'k', 'all', ['E', H, D], 'static'), v: d.cache(0, 'v', 'all', ['E', H, D], 'static'), causal: false }, ['T', H, D], 'cross');
      const decoder = new PlanExecutor(plan(d.build({ cross }), 8, 2), b, params, 1);
      const layout = { layers: 1, kvHeads: H, headDim: D, dtype: 'f32' as const };
      const options = { capacity: 64, pageRows: 4 };
      const pool: StatePool = b.createStatePool?.(layout, options) ?? new HostStatePool(layout, options, b, b.release !== undefined);
      const states: SequenceState[] = ENC.map(() => pool.create());
      try {
        // One encoder pass over both inputs, packed.
        const xs = ENC.map((n, i) => Float32Array.from(normals(n * C, 20 + i)));
        const packedX = new Float32Array(ENC.reduce((a, n) => a + n, 0) * C);
        let off = 0;
        for (const xi of xs) {
          packedX.set(xi, off);
          off += xi.length;
        }
        await encoder.run([packedX], ENC.map((t, i) => ({ t, p: 0, state: states[i] })));
        expect(states.map((s) => [s.staticLength, s.length])).toEqual(ENC.map((n) => [n, 0]));
        // Paged pools (native, WebGPU): the static part is paged like the self part (4-row pages).
        const pagedPages = ENC.reduce((a, n) => a + Math.ceil(n / 4), 0);
        if (pool.sharesPrefixes) expect(pool.stats().pagesInUse).toBe(pagedPages);
        // Each sequence's cross K/V as the reference computes them.
        const kv = xs.map((xi, i) => ({ k: project(xi, W.k, ENC[i]!), v: project(xi, W.v, ENC[i]!) }));
        const want = (i: number, yi: Float32Array, rows: number) =>
          reference.runSync('attention', {
            q: Tensor.fromValues(project(yi, W.q, rows), [rows, H, D]),
            k: Tensor.fromValues(kv[i]!.k, [ENC[i]!, H, D]),
            v: Tensor.fromValues(kv[i]!.v, [ENC[i]!, H, D]),
            causal: false,
            out: Tensor.zeros('f32', [rows, H, D]),
          }).toFloat32();
        // Two decoder passes (the static rows are read, never written again).
        for (const step of [0, 1]) {
          const ys = DEC.map((n, i) => Float32Array.from(normals(n * C, 40 + 2 * i + step)));
          const packedY = new Float32Array(DEC.reduce((a, n) => a + n, 0) * C);
          let o = 0;
          for (const yi of ys) {
            packedY.set(yi, o);
            o += yi.length;
          }
          const out = (await decoder.run([packedY], DEC.map((t, i) => ({ t, p: 0, state: states[i] })))).toFloat32();
          let row = 0;
          DEC.forEach((n, i) => {
            close(out.slice(row * C, (row + n) * C), want(i, ys[i]!, n));
            row += n;
          });
          expect(states.map((s) => [s.staticLength, s.length])).toEqual(ENC.map((n) => [n, 0]));
        }
        // The encoder plan counts static rows: a segment that says otherwise is refused.
        await expect(encoder.run([packedX.slice(0, 2 * C)], [{ t: 2, p: 0, state: states[0] }])).rejects.toThrow(/holds 5 static rows, but the segment says 0/);
        // A fork has the same static rows.
        const f = states[1]!.fork();
        if (pool.sharesPrefixes) expect(pool.stats().pagesInUse).toBe(pagedPages); // shared, not copied
        const y1 = Float32Array.from(normals(2 * C, 77));
        close((await decoder.run([y1], [{ t: 2, p: 0, state: f }])).toFloat32(), want(1, y1, 2));
        f.dispose();
      } finally {
        for (const s of states) s.dispose();
        pool.dispose();
        encoder.dispose();
        decoder.dispose();
      }
    });
  });
