// WebGPU runBatch: a planned forward pass recorded into one command buffer on device copies of the
// host slots, KV caches and parameters. Counts submits, read-backs and uploaded bytes per pass,
// checks the logits against the op-by-op path, and the batch-level errors and release.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../ts/tensor/tensor.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { loadModel } from '../ts/models/model.js';
import type { BatchOp, OpName } from '../ts/backend/backend.js';
import { createWebGPUBackend, WebGPUError, type WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { normals } from './harness/rng.js';
import { opByOp } from './helpers/op-by-op.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { TOL_EXACT, TOL_F32, TOL_MODEL_LOGITS_F32, TOL_WEBGPU_CHAIN, type Tolerance } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
/** lavapipe compiles each pipeline with LLVM on first use. */
const SLOW = 300_000;

const gpu: WebGPUBackend | undefined = await openWebGPU();
afterAll(() => gpu?.dispose());

const ref = new ReferenceBackend();
const t = (shape: number[], seed: number, scale = 1) => Tensor.fromValues(normals(shape.reduce((a, b) => a * b, 1), seed, scale), shape);
const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);

function expectClose(got: Tensor, want: Tensor, tol: Tolerance): void {
  const g = got.toFloat32();
  const w = want.toFloat32();
  for (let i = 0; i < w.length; i++) {
    const err = Math.abs(g[i]! - w[i]!);
    if (!(err <= tol.atol + tol.rtol * Math.abs(w[i]!))) throw new Error(`at ${i}: want ${w[i]}, got ${g[i]}`);
  }
}

describe.skipIf(!HAS_WEBGPU)('webgpu runBatch', () => {
  const be = () => gpu!;

  for (const fixture of ['gpt2-tiny', 'llama-tiny']) {
    it(`${fixture}: each forward pass is 1 submit and 1 read-back; decode uploads only ids and positions`, async () => {
      const g = be();
      const m = await loadModel(join(FIX, fixture), { kind: 'decoder', backend: g });
      const plain = await loadModel(join(FIX, fixture), { kind: 'decoder', backend: opByOp(g) });
      try {
        const nodes = m.plan.graph.nodes.length;
        const cache = m.newCache();
        const plainCache = plain.newCache();
        const prompt = [3, 141, 59, 26, 53, 58, 97];
        let s0 = g.stats();
        let logits = await m.forward(prompt, { cache });
        let s1 = g.stats();
        // The first pass also copies the parameters and the new cache to the device.
        expect([s1.submits - s0.submits, s1.readBacks - s0.readBacks, s1.dispatches - s0.dispatches]).toEqual([1, 1, nodes]);
        let want = await plain.forward(prompt, { cache: plainCache });
        expect(logits).toEqual(want);
        const resident = s1.residentBytes;
        for (let step = 0; step < 6; step++) {
          const id = argmax(logits);
          s0 = g.stats();
          logits = await m.forward([id], { cache });
          s1 = g.stats();
          // One dispatch per graph node, one command buffer, one read-back (the logits), and
          // 12 bytes uploaded (one id, one position, the row whose logits are read): the KV cache
          // and weights stay on the device.
          expect({ submits: s1.submits - s0.submits, readBacks: s1.readBacks - s0.readBacks, dispatches: s1.dispatches - s0.dispatches, uploaded: s1.uploadBytes - s0.uploadBytes })
            .toEqual({ submits: 1, readBacks: 1, dispatches: nodes, uploaded: 12 });
          expect(s1.residentBytes).toBe(resident);
          want = await plain.forward([id], { cache: plainCache });
          expect(logits).toEqual(want);
        }
        // The op-by-op path pays a submit and a read-back per op.
        s0 = g.stats();
        await plain.forward([argmax(logits)], { cache: plainCache });
        expect(g.stats().submits - s0.submits).toBe(nodes);
        const cacheBytes = cache.bytes;
        cache.dispose();
        expect(g.stats().residentBytes).toBe(resident - cacheBytes);
        await expect(m.forward([1], { cache })).rejects.toThrow(/cache was disposed/);
      } finally {
        m.dispose();
        plain.dispose();
      }
    }, SLOW);
  }

  it('a second sequence gets its own device cache; interleaved steps match separate runs', async () => {
    const g = be();
    const m = await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: g });
    try {
      const a = m.newCache();
      const b = m.newCache();
      await m.forward([1, 2, 3], { cache: a });
      await m.forward([9, 8], { cache: b });
      const la = await m.forward([4], { cache: a });
      const lb = await m.forward([7], { cache: b });
      // Without a cache the pass recomputes the whole sequence from scratch.
      const fa = await m.forward([1, 2, 3, 4]);
      const fb = await m.forward([9, 8, 7]);
      const diff = (x: Float32Array, y: Float32Array) => x.reduce((d, v, i) => Math.max(d, Math.abs(v - y[i]!)), 0);
      expect(diff(la, fa)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      expect(diff(lb, fb)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      a.dispose();
      b.dispose();
    } finally {
      m.dispose();
    }
  }, SLOW);

  it('without io, uploads every input and reads back every output, in one submit', async () => {
    const g = be();
    const [n, c, hidden] = [5, 64, 96];
    const x = t([n, c], 1);
    const w = t([hidden, c], 2, 1 / Math.sqrt(c));
    const lnW = Tensor.fromValues(t([c], 3, 0.1).toFloat32().map((v) => v + 1), [c]);
    const gw = g.packWeight(w);
    const rw = ref.packWeight(w);
    const h = Tensor.zeros('f32', [n, c]);
    const u = Tensor.zeros('f32', [n, hidden]);
    const y = Tensor.zeros('f32', [n, hidden]);
    const ops: BatchOp[] = [
      { op: 'rmsNorm', args: { x, weight: lnW, out: h } },
      { op: 'linear', args: { x: h, weight: gw, activation: 'silu', out: u } },
      { op: 'mul', args: { a: u, b: u, out: y } },
    ];
    const s0 = g.stats();
    await g.runBatch(ops);
    const s1 = g.stats();
    expect([s1.submits - s0.submits, s1.readBacks - s0.readBacks]).toEqual([1, 1]);
    const wh = ref.runSync('rmsNorm', { x, weight: lnW });
    const wu = ref.runSync('linear', { x: wh, weight: rw, activation: 'silu' });
    expectClose(h, wh, TOL_WEBGPU_CHAIN);
    expectClose(u, wu, TOL_WEBGPU_CHAIN);
    expectClose(y, ref.runSync('mul', { a: wu, b: wu }), TOL_WEBGPU_CHAIN);
    // Host inputs changed between batches are seen: nothing is assumed resident without io.
    (x.data as Float32Array).fill(0.5);
    await g.runBatch(ops);
    expectClose(h, ref.runSync('rmsNorm', { x, weight: lnW }), TOL_WEBGPU_CHAIN);
    expect(g.stats().residentBytes).toBe(s0.residentBytes);
    gw.dispose();
    rw.dispose();
  });

  it('quantizes activations on the device: rowScales, quantize and dequantize chained bit-exact', async () => {
    const g = be();
    const x = t([7, 45], 4, 3);
    const scales = Tensor.zeros('f32', [7]);
    const q = Tensor.zeros('i8', [7, 45]);
    const back = Tensor.zeros('f32', [7, 45]);
    const q8 = Tensor.zeros('q8_0', [7, 64]);
    const x64 = t([7, 64], 5, 3);
    await g.runBatch([
      { op: 'rowScales', args: { x, out: scales } },
      { op: 'quantize', args: { x, dtype: 'i8', scales, out: q } },
      { op: 'dequantize', args: { x: q, scales, out: back } },
      { op: 'quantize', args: { x: x64, dtype: 'q8_0', out: q8 } },
    ]);
    const ws = ref.runSync('rowScales', { x });
    const wq = ref.runSync('quantize', { x, dtype: 'i8', scales: ws });
    expectClose(scales, ws, TOL_EXACT);
    expect(q.data).toEqual(wq.data);
    expectClose(back, ref.runSync('dequantize', { x: wq, scales: ws }), TOL_EXACT);
    expect(q8.data).toEqual(ref.runSync('quantize', { x: x64, dtype: 'q8_0' }).data);
  });

  it('views that cannot be bound where they lie, or that share memory with an input, go through temporaries', async () => {
    const g = be();
    for (const io of [false, true]) {
      // One host buffer: x at byte 4 (not a binding offset), out at byte 164 of the same memory.
      const mem = Tensor.fromValues(normals(100, 10), [100]);
      const x = mem.slice(0, 1, 33).reshape([4, 8]);
      const out = mem.slice(0, 41, 73).reshape([4, 8]);
      const c = Tensor.zeros('f32', [4, 8]);
      const want = ref.runSync('silu', { x });
      const wantC = ref.runSync('add', { a: want, b: x });
      const ops: BatchOp[] = [
        { op: 'silu', args: { x, out } },
        { op: 'add', args: { a: out, b: x, out: c } },
      ];
      await g.runBatch(ops, io ? { inputs: [x], outputs: [out, c] } : undefined);
      expectClose(out, want, TOL_F32);
      expectClose(c, wantC, TOL_F32);
      expect(mem.get(0)).toBe(Math.fround(normals(100, 10)[0]!));
      expect(mem.get(40)).toBe(Math.fround(normals(100, 10)[40]!));
      if (io) g.release([mem]);
    }
  });

  it('rejects bad batches before recording anything, with errors that name the problem', async () => {
    const g = be();
    const x = t([4, 8], 6);
    const out = Tensor.zeros('f32', [4, 8]);
    const ids = Tensor.fromArray('i32', [2], new Int32Array([1, 2]));
    const table = t([5, 8], 7);
    const s0 = g.stats();
    await expect(g.runBatch([{ op: 'silu', args: { x: g.upload(x), out } }])).rejects.toThrow(/'x' of op 0 \(silu\) is a GPUTensor/);
    await expect(g.runBatch([{ op: 'silu', args: { x: x.transpose(0, 1), out: Tensor.zeros('f32', [8, 4]) } }])).rejects.toThrow(/'x' of op 0 \(silu\) must be contiguous/);
    await expect(g.runBatch([{ op: 'silu', args: { x, out: Tensor.zeros('f32', [4, 9]) } }])).rejects.toThrow(/'out' must have shape \[4, 8\]/);
    await expect(g.runBatch([{ op: 'noSuchOp' as OpName, args: { x, out } }])).rejects.toThrow(/'noSuchOp' has no WebGPU kernel/);
    // A mask (values the host checks) written by an earlier op of the batch.
    const mask = Tensor.zeros('f32', [3, 3]);
    const q = t([3, 1, 4], 8);
    await expect(g.runBatch([
      { op: 'scale', args: { x: t([3, 3], 9), s: 1, out: mask } },
      { op: 'attention', args: { q, k: q, v: q, mask, out: Tensor.zeros('f32', [3, 1, 4]) } },
    ])).rejects.toThrow(/'mask' of op 1 \(attention\) is written on the device by an earlier op/);
    await expect(g.runBatch([{ op: 'embedding', args: { table, ids, out: Tensor.zeros('f32', [2, 8]) } }], { inputs: [x] })).rejects.toThrow(/not an argument of any op/);
    expect(g.stats().submits).toBe(s0.submits);
  });

  it('a lost device fails the pass with a WebGPUError; the native backend keeps working', async () => {
    const doomed = await createWebGPUBackend();
    const m = await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: doomed });
    const cpu = await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: 'native' });
    try {
      await m.forward([1, 2, 3]);
      doomed.device.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const err = await m.forward([1, 2, 3]).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(WebGPUError);
      expect((err as WebGPUError).kind).toBe('device-lost');
      expect((await cpu.forward([1, 2, 3])).every(Number.isFinite)).toBe(true);
    } finally {
      m.dispose();
      cpu.dispose();
      doomed.dispose();
    }
  });
});

