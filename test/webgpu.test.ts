// The WebGPU backend beyond per-op parity (that is in ops.test.ts): device-resident chains with one
// submit, a KV cache on the device, dequantize-in-kernel weights at f32 tolerance, both f16 paths,
// both kernel styles and both recurrence schedules, buffer reuse, argument and value errors, and
// device loss leaving the CPU backend working. Forward passes in one batch: webgpu-batch.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../ts/tensor/tensor.js';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { createWebGPUBackend, GPUTensor, WebGPUError, type WebGPUBackend, type WebGPUBackendOptions } from '../ts/backend/webgpu/index.js';
import { checkCase, type OpCase } from './harness/ops-harness.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { linearQuantCases } from './harness/cases/linear_quant.js';
import { linearCases } from './harness/cases/linear.js';
import { attentionCases } from './harness/cases/attention.js';
import { recurrentCases } from './harness/cases/recurrent.js';
import type { OpArgs, OpName } from '../ts/backend/backend.js';
import { normals } from './harness/rng.js';
import { TOL_ATTENTION_F32, TOL_WEBGPU_CHAIN, TOL_WEBGPU_LINEAR_DEQUANT, type Tolerance } from './harness/tolerance.js';

const gpu: WebGPUBackend | undefined = await openWebGPU();
afterAll(() => gpu?.dispose());

const ref = new ReferenceBackend();
/** lavapipe compiles each new pipeline with LLVM on the CPU; on a loaded machine that can take a while. */
const SLOW = 300_000;
const t = (shape: number[], seed: number, scale = 1) => Tensor.fromValues(normals(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

function expectClose(got: Tensor, want: Tensor, tol: Tolerance): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.toFloat32();
  const w = want.toFloat32();
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    const err = Math.abs(g[i]! - w[i]!);
    if (!(err <= tol.atol + tol.rtol * Math.abs(w[i]!))) throw new Error(`at ${i}: want ${w[i]}, got ${g[i]} (|err| ${err})`);
    worst = Math.max(worst, err);
  }
  expect(worst).toBeLessThanOrEqual(tol.atol + tol.rtol);
}

/** Every case on a backend made with each of `variants` (kernel styles), named in failures. */
async function checkVariants(variants: WebGPUBackendOptions[], cases: OpCase[]): Promise<void> {
  for (const options of variants) {
    const b = await createWebGPUBackend(options);
    const name = JSON.stringify(options);
    try {
      for (const c of cases) expect(`${name} ${c.label}: ${(await checkCase(b, c)).message}`).toBe(`${name} ${c.label}: ok`);
    } finally {
      b.dispose();
    }
  }
}

describe.skipIf(!HAS_WEBGPU)('webgpu backend', () => {
  const be = () => gpu!;

  it('reports the adapter it runs on', () => {
    const a = be().adapter;
    console.log(`webgpu adapter: ${a.description || a.device} (vendor ${a.vendor}, ${a.architecture}); shader-f16 ${be().hasF16}; ` +
      `maxBufferSize ${a.limits.maxBufferSize}, maxStorageBufferBindingSize ${a.limits.maxStorageBufferBindingSize}`);
    expect(a.features).toBeInstanceOf(Array);
    expect(a.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
  });

  it('runs a transformer MLP block on the device with one submit and one read-back', async () => {
    const [tok, c, hidden] = [5, 64, 256];
    const x = t([tok, c], 1);
    const lnW = t([c], 2, 0.1).toFloat32().map((v) => v + 1);
    const lnWeight = Tensor.fromValues(lnW, [c]);
    const lnBias = t([c], 3, 0.1);
    const w1 = t([hidden, c], 4, 1 / Math.sqrt(c));
    const b1 = t([hidden], 5, 0.1);
    const w2 = t([c, hidden], 6, 1 / Math.sqrt(hidden));
    const rw1 = ref.packWeight(w1);
    const rw2 = ref.packWeight(w2);
    const h = ref.runSync('layerNorm', { x, weight: lnWeight, bias: lnBias });
    const u = ref.runSync('linear', { x: h, weight: rw1, bias: b1, activation: 'gelu' });
    const v = ref.runSync('linear', { x: u, weight: rw2 });
    const want = ref.runSync('add', { a: v, b: x });

    const g = be();
    const gw1 = g.packWeight(w1);
    const gw2 = g.packWeight(w2);
    const before = g.stats();
    const gx = g.upload(x);
    const gh = g.record('layerNorm', { x: gx, weight: lnWeight, bias: lnBias });
    const gu = g.record('linear', { x: gh, weight: gw1, bias: b1, activation: 'gelu' });
    const gv = g.record('linear', { x: gu, weight: gw2 });
    const gy = g.record('add', { a: gv, b: gx });
    for (const d of [gh, gu, gv]) d.dispose();
    expect(g.stats().submits).toBe(before.submits);
    const got = await g.read(gy);
    const after = g.stats();
    expect(after.submits - before.submits).toBe(1);
    expect(after.dispatches - before.dispatches).toBe(4);
    expectClose(got, want, TOL_WEBGPU_CHAIN);
    gx.dispose();
    gy.dispose();
    for (const w of [rw1, rw2, gw1, gw2]) w.dispose();
  });

  it('decodes on a device KV cache: rows appended in place, attention on the cache prefix', async () => {
    const [hq, hkv, d, maxT, prefill] = [4, 2, 16, 32, 6];
    const g = be();
    const cacheK = g.alloc('f32', [maxT, hkv, d]);
    const cacheV = g.alloc('f32', [maxT, hkv, d]);
    const hostK = Tensor.zeros('f32', [maxT, hkv, d]);
    const hostV = Tensor.zeros('f32', [maxT, hkv, d]);
    const put = (host: Tensor, rows: Tensor, at: number) => (host.data as Float32Array).set(rows.data as Float32Array, at * hkv * d);
    const k0 = t([prefill, hkv, d], 10);
    const v0 = t([prefill, hkv, d], 11);
    g.write(cacheK, k0, 0);
    g.write(cacheV, v0, 0);
    put(hostK, k0, 0);
    put(hostV, v0, 0);
    for (let step = 0; step < 3; step++) {
      const len = prefill + step + 1;
      const kn = t([1, hkv, d], 20 + step);
      const vn = t([1, hkv, d], 30 + step);
      const knOnDevice = g.upload(kn);
      g.write(cacheK, knOnDevice, len - 1);
      knOnDevice.dispose();
      g.write(cacheV, vn, len - 1);
      put(hostK, kn, len - 1);
      put(hostV, vn, len - 1);
      const q = t([1, hq, d], 40 + step);
      const out = g.record('attention', { q, k: cacheK.prefix(len), v: cacheV.prefix(len), causal: true });
      const got = await g.read(out);
      out.dispose();
      const want = ref.runSync('attention', { q, k: hostK.slice(0, 0, len), v: hostV.slice(0, 0, len), causal: true });
      expectClose(got, want, TOL_ATTENTION_F32);
    }
    cacheK.dispose();
    cacheV.dispose();
  });

  it('runs f16, bf16, i8 and q8_0 weights (the same bytes as the CPU) at f32 activation tolerance', async () => {
    const cases = linearQuantCases().map((c) => ({ ...c, tol: TOL_WEBGPU_LINEAR_DEQUANT }) as OpCase);
    expect(cases.length).toBeGreaterThanOrEqual(48);
    for (const c of cases) expect(`${c.label}: ${(await checkCase(be(), c)).message}`).toBe(`${c.label}: ok`);
  }, SLOW);

  it('reads f16 weights by bit decoding when shader-f16 is turned off', async () => {
    const plain = await createWebGPUBackend({ f16: false });
    try {
      expect(plain.hasF16).toBe(false);
      const cases = linearQuantCases().filter((c) => c.label.startsWith('f16')).map((c) => ({ ...c, tol: TOL_WEBGPU_LINEAR_DEQUANT }) as OpCase);
      expect(cases.length).toBeGreaterThanOrEqual(12);
      for (const c of cases) expect(`${c.label}: ${(await checkCase(plain, c)).message}`).toBe(`${c.label}: ok`);
    } finally {
      plain.dispose();
    }
  }, SLOW);

  it('runs linear (M > 4) and attention with both kernel styles: workgroup-shared and barrier-free', async () => {
    const linear = [...linearCases(), ...linearQuantCases()].filter((c) => (c.args as OpArgs['linear']).x.numel / (c.args as OpArgs['linear']).x.shape.at(-1)! > 4);
    // Cases the WebGPU backend refuses (sliding windows, for now) are checked as refusals by ops.test.ts.
    const attention = attentionCases().filter((c) => c.op === 'attention' && !c.refusedBy?.webgpu);
    expect(linear.length).toBeGreaterThanOrEqual(30);
    expect(attention.filter((c) => (c.args as OpArgs['attention']).q.rank === 4).length).toBeGreaterThanOrEqual(12);
    expect(attention.length).toBeGreaterThanOrEqual(52);
    await checkVariants([{ tiles: 'shared' }, { tiles: 'blocked' }], [...linear, ...attention]);
  }, SLOW);

  it('runs rnn and lstm with both schedules: a loop over steps in one dispatch, and a dispatch per step', async () => {
    const cases = recurrentCases();
    expect(cases.length).toBeGreaterThanOrEqual(30);
    await checkVariants([{ recurrence: 'loop' }, { recurrence: 'steps' }], cases);
  }, SLOW);

  it('reuses pooled buffers across runs', async () => {
    const g = be();
    const x = t([33, 127], 50);
    await g.run('softmax', { x });
    const first = g.stats();
    for (let i = 0; i < 5; i++) await g.run('softmax', { x });
    const later = g.stats();
    expect(later.liveBytes).toBe(first.liveBytes);
    expect(later.pooledBytes).toBe(first.pooledBytes);
  });

  it('rejects bad arguments with errors that name them', () => {
    const g = be();
    const table = t([10, 4], 60);
    const ids = g.upload(Tensor.fromArray('i32', [2], new Int32Array([1, 2])));
    expect(() => g.record('embedding', { table, ids })).toThrow(/'ids' must be a host Tensor/);
    ids.dispose();
    const x = g.upload(t([3, 4], 61));
    x.dispose();
    expect(() => g.record('silu', { x })).toThrow(/'x' .* was disposed/);
    const foreign = ref.packWeight(t([4, 4], 62));
    expect(() => g.record('linear', { x: t([2, 4], 63), weight: foreign })).toThrow(/packed by another backend/);
    expect(() => g.record('noSuchOp' as OpName, { x: t([1, 4], 64) } as never)).toThrow(/'noSuchOp' has no WebGPU kernel/);
    expect(() => g.alloc('f32', [2 ** 31])).toThrow(/maxBufferSize/);
    const cache = g.alloc('f32', [4, 2, 3]);
    expect(() => g.write(cache, t([2, 2, 3], 67), 3)).toThrow(/do not fit/);
    expect(() => g.write(cache, t([1, 3, 2], 68), 0)).toThrow(/must be rows of/);
    expect(() => cache.prefix(5)).toThrow(/rows/);
    const other = g.alloc('f32', [3, 4]);
    const stranger = new GPUTensor('f32', [3, 4], other.buffer, () => undefined, {});
    expect(() => g.record('silu', { x: stranger })).toThrow(/another WebGPU backend/);
    const wrong = g.alloc('f32', [4, 3]);
    expect(() => g.record('silu', { x: t([3, 4], 69) }, wrong)).toThrow(/'out' must be f32 \[3, 4\]/);
    wrong.dispose();
    expect(() => g.record('silu', { x: other }, other)).toThrow(/alias/);
    other.dispose();
    cache.dispose();
  });

  it('checks the values quantize and attentionNaive cannot take, as the other backends do', async () => {
    const g = be();
    const x = t([2, 32], 90);
    (x.data as Float32Array)[33] = NaN;
    await expect(g.run('quantize', { x, dtype: 'q8_0' })).rejects.toThrow(/'x' holds a non-finite value at flat index 33/);
    await expect(g.run('quantize', { x: t([1, 32], 91, 1e7), dtype: 'q8_0' })).rejects.toThrow(/block 0 has max \|x\| above 65504 \* 127/);
    await expect(g.run('quantize', { x: t([2, 5], 92), dtype: 'i8', scales: Tensor.fromValues([1, Infinity], [2]) })).rejects.toThrow(/'scales'\[1\] is not finite/);
    // A score matrix larger than one binding may hold: the fused op is the way.
    const tq = 4096;
    const tk = Math.floor(g.device.limits.maxStorageBufferBindingSize / 4 / tq) + 1;
    const big = { q: t([tq, 1, 1], 93), k: t([tk, 1, 1], 94), v: t([tk, 1, 1], 95) };
    await expect(g.run('attentionNaive', big)).rejects.toThrow(/score matrix \[1, 4096, 1, \d+\] needs \d+ bytes.*fused 'attention'/);
  });

  it('surfaces device loss as a clear error; the CPU backend and other devices keep working', async () => {
    const doomed = await createWebGPUBackend();
    const x = t([7, 9], 70);
    await doomed.run('silu', { x });
    doomed.device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const err = await doomed.run('silu', { x }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WebGPUError);
    expect((err as WebGPUError).kind).toBe('device-lost');
    expect((err as Error).message).toMatch(/device was lost .*createWebGPUBackend/);
    expect(() => doomed.upload(x)).toThrow(/device was lost/);
    const cpu = await new NativeBackend().run('silu', { x });
    expectClose(cpu, ref.runSync('silu', { x }), { atol: 1e-5, rtol: 1e-4 });
    const stillOk = await be().run('silu', { x });
    expectClose(stillOk, ref.runSync('silu', { x }), { atol: 1e-5, rtol: 1e-4 });
    doomed.dispose();
  });

  it('says clearly when no adapter matches', async () => {
    await expect(createWebGPUBackend({ dawnFlags: ['adapter=no-such-adapter'] })).rejects.toThrow(/no WebGPU adapter was found/);
  });

  it('keeps GPUTensor shapes and read() checks the destination', async () => {
    const g = be();
    const d = g.upload(t([2, 3], 80));
    expect(d).toBeInstanceOf(GPUTensor);
    expect(d.shape).toEqual([2, 3]);
    await expect(g.read(d, Tensor.zeros('f32', [3, 2]))).rejects.toThrow(/shape \[2, 3\]/);
    d.dispose();
  });
});

