// WebGPU column: linear at GPT-2-124M shapes (f32 and q8_0 weights), fused attention (prefill and
// decode) and softmax, on the WebGPU backend next to the native backend, measured side by side;
// then whole forward passes of the default model, op by op and as one command buffer (runBatch),
// and the two rnn/lstm schedules. Not a test: each result is checked before timing (against the
// native backend, or bit for bit between the two WebGPU paths); nothing asserts speed.
//   npx tsx bench/webgpu/measure.ts [--quick] [--out DIR]   -> DIR/webgpu.json, DIR/webgpu.md (default DIR: bench/results)
// The runner's webgpu suite (bench/suites/webgpu.ts) runs it with the runner's --out.
// Ops are timed three ways: `run` (host tensors in, upload + kernel + read-back per call),
// `resident` (inputs already on the device: one submit and one read-back of the output), and
// `batched` (8 ops recorded into one command buffer, one read-back, time per op).

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { Tensor } from '../../ts/tensor/tensor.js';
import { NativeBackend } from '../../ts/backend/native.js';
import type { OpArgs, OpName, Weight } from '../../ts/backend/backend.js';
import { createWebGPUBackend, GPUTensor, type GpuOpArgs } from '../../ts/backend/webgpu/index.js';
import { loadAddon } from '../../ts/native.js';
import { loadModel, type DecoderModel } from '../../ts/models/model.js';
import { defaultModelPath } from '../../ts/generate/model.js';
import { normals } from '../../test/harness/rng.js';
import { opByOp } from '../../test/helpers/op-by-op.js';
import { defaultSchedule } from '../../ts/backend/webgpu/kernels/recurrent.js';
import {
  TOL_ATTENTION_F32, TOL_F32, TOL_GEMM_F32, TOL_LINEAR_Q8_0, TOL_MODEL_LOGITS_Q8_0, TOL_RECURRENT_F32, type Tolerance,
} from '../../test/harness/tolerance.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } });
if (args.out !== undefined && args.out.trim() === '') throw new RangeError('bench/webgpu/measure.ts: --out: expected a folder, got an empty string');
const quick = args.quick === true;
const BATCH = 8;
const ROUNDS = quick ? 1 : 2;

const native = new NativeBackend();
const gpu = await createWebGPUBackend();
const info = loadAddon().cpuInfo();
const loadBefore = loadavg()[0]!;

const rand = (shape: number[], seed: number, scale = 1) => Tensor.fromValues(normals(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

async function median(fn: () => Promise<unknown>, estimateMs: number): Promise<number> {
  const budget = quick ? 150 : 400;
  const bench = new Bench({
    time: budget,
    warmupTime: 20,
    iterations: Math.max(3, Math.min(50, Math.round(budget / Math.max(estimateMs, 0.05)))),
    warmupIterations: 1,
  });
  // An async function: tinybench then awaits each call (a forward pass must not overlap another).
  bench.add('x', async () => {
    await fn();
  });
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`benchmark task did not complete: ${r.state}`, { cause: (r as { error?: unknown }).error });
  return r.latency.p50!;
}

function maxViolation(got: Tensor, want: Tensor, tol: Tolerance): number {
  const g = got.toFloat32();
  const w = want.toFloat32();
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!) / (tol.atol + tol.rtol * Math.abs(w[i]!)));
  return worst;
}

interface Case<K extends OpName> {
  op: K;
  label: string;
  args: OpArgs[K];
  /** Work per call: floating-point operations (or bytes moved, with unit 'GB/s'). */
  work: number;
  unit: 'GFLOP/s' | 'GB/s';
  tol: Tolerance;
  weights?: Weight[];
}

interface Row {
  op: string; shape: string; unit: string; nativeMs: number; gpuRunMs: number; gpuResidentMs: number; gpuBatchedMs: number;
  nativeRate: number; gpuRate: number; ratio: number; checked: string;
}
const rows: Row[] = [];

async function measure<K extends OpName>(c: Case<K>, gpuArgs: GpuOpArgs<K>, nativeArgs: OpArgs[K]): Promise<void> {
  // Correctness first: the WebGPU result against the native backend's, within the op's tolerance.
  const want = await native.run(c.op, nativeArgs);
  const got = await gpu.run(c.op, c.args);
  const v = maxViolation(got, want, c.tol);
  if (!(v <= 1)) throw new Error(`${c.op} ${c.label}: webgpu differs from native by ${v.toFixed(2)}x the tolerance`);
  // Device-resident inputs for the resident and batched modes.
  const resident: Record<string, unknown> = {};
  const uploaded: GPUTensor[] = [];
  for (const [k, val] of Object.entries(gpuArgs)) {
    if (val instanceof Tensor && !(c.op === 'attention' && k === 'mask')) {
      const g = gpu.upload(val);
      uploaded.push(g);
      resident[k] = g;
    } else resident[k] = val;
  }
  const residentArgs = resident as GpuOpArgs<K>;
  const once = async () => {
    const o = gpu.record(c.op, residentArgs);
    await gpu.read(o);
    o.dispose();
  };
  const batched = async () => {
    let last: GPUTensor | undefined;
    for (let i = 0; i < BATCH; i++) {
      last?.dispose();
      last = gpu.record(c.op, residentArgs);
    }
    await gpu.read(last!);
    last!.dispose();
  };
  const t0 = performance.now();
  await once();
  const est = performance.now() - t0;
  let nativeMs = Infinity;
  let runMs = Infinity;
  let resMs = Infinity;
  let batMs = Infinity;
  // Alternate the sides for a few rounds and keep each side's best median, so a burst of load from
  // other processes hits both alike.
  for (let r = 0; r < ROUNDS; r++) {
    nativeMs = Math.min(nativeMs, await median(() => native.run(c.op, nativeArgs), est));
    runMs = Math.min(runMs, await median(() => gpu.run(c.op, c.args), est));
    resMs = Math.min(resMs, await median(once, est));
    batMs = Math.min(batMs, (await median(batched, est * BATCH)) / BATCH);
  }
  for (const u of uploaded) u.dispose();
  const scale = c.unit === 'GFLOP/s' ? 1e-9 : 1e-9;
  const row: Row = {
    op: c.op, shape: c.label, unit: c.unit, nativeMs, gpuRunMs: runMs, gpuResidentMs: resMs, gpuBatchedMs: batMs,
    nativeRate: (c.work * scale) / (nativeMs / 1e3), gpuRate: (c.work * scale) / (batMs / 1e3), ratio: batMs / nativeMs,
    checked: `max err ${v.toFixed(3)} x tol`,
  };
  rows.push(row);
  console.log(`${row.op.padEnd(10)} ${row.shape.padEnd(34)} native ${nativeMs.toFixed(3)} ms | webgpu run ${runMs.toFixed(3)} resident ${resMs.toFixed(3)} batched ${batMs.toFixed(3)} ms/op | ${row.nativeRate.toFixed(2)} vs ${row.gpuRate.toFixed(2)} ${c.unit}`);
}

// linear at GPT-2-124M shapes: qkv (768 -> 2304), attention out (768 -> 768), MLP up and down.
const shapes: Array<[number, number]> = quick ? [[768, 2304], [768, 3072]] : [[768, 2304], [768, 768], [768, 3072], [3072, 768]];
for (const dtype of ['f32', 'q8_0'] as const) {
  for (const [k, n] of dtype === 'f32' ? shapes : [[768, 3072] as [number, number]]) {
    const wt = rand([n, k], k + n, 1 / Math.sqrt(k)).to(dtype);
    const bias = rand([n], 7);
    const nw = native.packWeight(wt);
    const gw = gpu.packWeight(wt);
    for (const m of [1, 128]) {
      const x = rand([m, k], m * 13 + k);
      await measure(
        { op: 'linear', label: `${dtype} M=${m} K=${k} N=${n}`, args: { x, weight: gw, bias }, work: 2 * m * k * n, unit: 'GFLOP/s', tol: dtype === 'f32' ? TOL_GEMM_F32 : TOL_LINEAR_Q8_0 },
        { x, weight: gw, bias },
        { x, weight: nw, bias },
      );
    }
    nw.dispose();
    gw.dispose();
  }
}

// Attention: GPT-2 heads (12 x 64): causal prefill of 128 tokens, decode of 1 token on 1024 keys.
for (const [tq, tk] of [[128, 128], [1, 1024]] as const) {
  const [h, d] = [12, 64];
  const q = rand([tq, h, d], 31);
  const k = rand([tk, h, d], 32);
  const v = rand([tk, h, d], 33);
  let visible = 0;
  for (let i = 0; i < tq; i++) visible += Math.min(tk, tk - tq + i + 1);
  const args = { q, k, v, causal: true };
  await measure(
    { op: 'attention', label: `${tq === 1 ? 'decode' : 'prefill'} Tq=${tq} Tk=${tk} H=${h} D=${d}`, args, work: 4 * visible * h * d, unit: 'GFLOP/s', tol: TOL_ATTENTION_F32 },
    args,
    args,
  );
}

// Softmax over attention-score rows and over a vocabulary row.
for (const [r, c] of [[12 * 128, 128], [4, 50257]] as const) {
  const x = rand([r, c], 41, 3);
  await measure({ op: 'softmax', label: `[${r}, ${c}]`, args: { x }, work: 8 * r * c, unit: 'GB/s', tol: TOL_F32 }, { x }, { x });
}

// ---- Forward passes of the default model (GPT-2 shape: 4 layers, d_model 128, q8_0 weights) ----
// 'op by op' is the executor without runBatch, the WebGPU path before it: every op uploads its
// inputs, submits and reads back. 'runBatch' records the pass into one command buffer on device
// copies of the slots, KV cache and parameters, and reads back only the logits.
const PREFIX = quick ? 32 : 64;

const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);

interface ForwardRow { pass: string; nativeMs: number; opByOpMs: number; batchMs: number; opByOpSubmits: number; batchSubmits: number; speedup: number; checked: string }
const forwardRows: ForwardRow[] = [];
{
  const path = defaultModelPath();
  const models = { native: await loadModel(path, { kind: 'decoder', backend: native }), opByOp: await loadModel(path, { kind: 'decoder', backend: opByOp(gpu) }), batch: await loadModel(path, { kind: 'decoder', backend: gpu }) };
  const prompt = Array.from({ length: PREFIX }, (_, i) => (i * 7919) % models.native.config.vocabSize);
  const caches = { native: models.native.newCache(), opByOp: models.opByOp.newCache(), batch: models.batch.newCache() };
  const out: Record<string, Float32Array> = {};
  for (const k of ['native', 'opByOp', 'batch'] as const) out[k] = await models[k].forward(prompt, { cache: caches[k] });
  // Checks: the two WebGPU paths run the same kernels on the same bytes; native q8_0 kernels also
  // quantize activations, so against them the q8_0 logits budget applies.
  if (maxDiff(out.batch!, out.opByOp!) !== 0) throw new Error('runBatch logits differ from the op-by-op path');
  const vsNative = maxDiff(out.batch!, out.native!);
  if (!(vsNative <= TOL_MODEL_LOGITS_Q8_0)) throw new Error(`webgpu logits differ from native by ${vsNative}`);
  const next = out.native!.reduce((best, v, i, a) => (v > a[best]! ? i : best), 0);
  const passes: Array<[string, (m: DecoderModel, cache: ReturnType<DecoderModel['newCache']>) => Promise<unknown>]> = [
    [`prefill ${PREFIX} tokens`, (m) => m.forward(prompt)],
    [`decode 1 token after ${PREFIX}`, (m, cache) => {
      cache.truncate(PREFIX);
      return m.forward([next], { cache });
    }],
  ];
  for (const [pass, fn] of passes) {
    const submits = async (k: 'opByOp' | 'batch') => {
      const before = gpu.stats().submits;
      await fn(models[k], caches[k]);
      return gpu.stats().submits - before;
    };
    const opByOpSubmits = await submits('opByOp');
    const batchSubmits = await submits('batch');
    const t0 = performance.now();
    await fn(models.opByOp, caches.opByOp);
    const est = performance.now() - t0;
    let nativeMs = Infinity;
    let opByOpMs = Infinity;
    let batchMs = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      nativeMs = Math.min(nativeMs, await median(() => fn(models.native, caches.native), est));
      opByOpMs = Math.min(opByOpMs, await median(() => fn(models.opByOp, caches.opByOp), est));
      batchMs = Math.min(batchMs, await median(() => fn(models.batch, caches.batch), est));
    }
    const row = { pass, nativeMs, opByOpMs, batchMs, opByOpSubmits, batchSubmits, speedup: opByOpMs / batchMs, checked: `runBatch = op by op bit for bit; ${vsNative.toExponential(1)} from native` };
    forwardRows.push(row);
    console.log(`forward ${pass.padEnd(26)} native ${nativeMs.toFixed(2)} ms | webgpu op by op ${opByOpMs.toFixed(2)} ms (${opByOpSubmits} submits) | runBatch ${batchMs.toFixed(2)} ms (${batchSubmits} submit) | ${row.speedup.toFixed(2)}x`);
  }
  for (const m of Object.values(models)) m.dispose();
}

// ---- rnn / lstm: the two schedules of the recurrence (kernels/recurrent.ts) ----
interface RecurrentRow { op: string; shape: string; nativeMs: number; loopMs: number; stepsMs: number; auto: string }
const recurrentRows: RecurrentRow[] = [];
{
  const schedules = { loop: await createWebGPUBackend({ recurrence: 'loop' }), steps: await createWebGPUBackend({ recurrence: 'steps' }) };
  const shapes: Array<['rnn' | 'lstm', number, number, number, number]> = quick
    ? [['lstm', 1, 300, 16, 64], ['lstm', 4, 128, 64, 256]]
    : [['rnn', 1, 300, 16, 64], ['lstm', 1, 300, 16, 32], ['lstm', 1, 300, 16, 64], ['rnn', 8, 100, 32, 128], ['lstm', 4, 128, 64, 256]];
  for (const [op, b, t, i, h] of shapes) {
    const g = op === 'lstm' ? 4 : 1;
    const args = { x: rand([b, t, i], 51), wIh: rand([g * h, i], 52, 1 / Math.sqrt(i)), wHh: rand([g * h, h], 53, 1 / Math.sqrt(h)), bias: rand([g * h], 54, 0.1) };
    const want = await native.run(op, args);
    for (const s of Object.values(schedules)) {
      const v = maxViolation(await s.run(op, args), want, TOL_RECURRENT_F32);
      if (!(v <= 1)) throw new Error(`${op}: webgpu differs from native by ${v.toFixed(2)}x the tolerance`);
    }
    const t0 = performance.now();
    await schedules.steps.run(op, args);
    const est = performance.now() - t0;
    let nativeMs = Infinity;
    let loopMs = Infinity;
    let stepsMs = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      nativeMs = Math.min(nativeMs, await median(() => native.run(op, args), est));
      loopMs = Math.min(loopMs, await median(() => schedules.loop.run(op, args), est));
      stepsMs = Math.min(stepsMs, await median(() => schedules.steps.run(op, args), est));
    }
    const row = { op, shape: `B=${b} T=${t} I=${i} H=${h}`, nativeMs, loopMs, stepsMs, auto: defaultSchedule(g, h) };
    recurrentRows.push(row);
    console.log(`${op.padEnd(5)} ${row.shape.padEnd(26)} native ${nativeMs.toFixed(2)} ms | webgpu loop ${loopMs.toFixed(2)} ms, steps ${stepsMs.toFixed(2)} ms (default: ${row.auto})`);
  }
  for (const s of Object.values(schedules)) s.dispose();
}

const loadAfter = loadavg()[0]!;
const a = gpu.adapter;
const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const table = [
  '| op | shape | native ms | webgpu run ms | webgpu resident ms | webgpu batched ms/op | native rate | webgpu rate (batched) | webgpu/native time | check |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.op} | ${r.shape} | ${f(r.nativeMs)} | ${f(r.gpuRunMs)} | ${f(r.gpuResidentMs)} | ${f(r.gpuBatchedMs)} | ${f(r.nativeRate)} ${r.unit} | ${f(r.gpuRate)} ${r.unit} | ${r.ratio.toFixed(1)}x | ${r.checked} |`),
].join('\n');
const dir = resolve(args.out ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'results'));
mkdirSync(dir, { recursive: true });
const meta = {
  date: new Date().toISOString(), quick, node: process.version, cpuIsa: info.isa, cpuThreads: info.threads,
  adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, shaderF16: gpu.hasF16 },
  loadAverage: { before: loadBefore, after: loadAfter },
};
writeFileSync(join(dir, 'webgpu.json'), JSON.stringify({ ...meta, rows, forward: forwardRows, recurrent: recurrentRows }, null, 2) + '\n');
const forwardTable = [
  '| default model forward | native ms | webgpu op by op ms | webgpu runBatch ms | op by op / runBatch | submits per pass (op by op, runBatch) | check |',
  '|---|---|---|---|---|---|---|',
  ...forwardRows.map((r) => `| ${r.pass} | ${f(r.nativeMs)} | ${f(r.opByOpMs)} | ${f(r.batchMs)} | ${r.speedup.toFixed(2)}x | ${r.opByOpSubmits}, ${r.batchSubmits} | ${r.checked} |`),
].join('\n');
const recurrentTable = [
  '| op | shape | native ms | webgpu loop ms | webgpu steps ms | default schedule |',
  '|---|---|---|---|---|---|',
  ...recurrentRows.map((r) => `| ${r.op} | ${r.shape} | ${f(r.nativeMs)} | ${f(r.loopMs)} | ${f(r.stepsMs)} | ${r.auto} |`),
].join('\n');
writeFileSync(
  join(dir, 'webgpu.md'),
  [
    `# WebGPU vs native${quick ? ' (--quick)' : ''}`,
    '',
    `${meta.date}. WebGPU adapter: ${a.description || a.device} (${a.vendor}, ${a.architecture}), shader-f16 ${gpu.hasF16}. ` +
      `Native: ${info.isa} kernels, ${info.threads} threads, Node ${process.version}. Medians of tinybench runs, best of ${ROUNDS} ` +
      `alternating rounds. 1-minute load average ${loadBefore.toFixed(2)} before and ${loadAfter.toFixed(2)} after on ${cpus().length} CPUs.`,
    '',
    'On this machine the adapter is Mesa lavapipe, a Vulkan driver that runs compute shaders on the same CPU cores as the native ' +
      'backend: the WebGPU column measures that the kernels are correct and how much the driver costs, not GPU speed. ' +
      '"run" includes the upload of every input and the read-back; "resident" keeps inputs on the device (one submit and one ' +
      `read-back per op); "batched" records ${BATCH} ops into one command buffer with one read-back (the forward-pass pattern). ` +
      'Rates use the batched time. Every WebGPU result was checked against the native backend before timing.',
    '',
    table,
    '',
    '## Forward pass',
    '',
    `The default model (${defaultModelPath().split(/[\\/]/).slice(-2).join('/')}: GPT-2, 4 layers, d_model 128, q8_0 weights). "op by op" is the graph ` +
      'executor calling run() per op on the same kernels (upload, kernel, submit and read-back each: how the executor drove WebGPU ' +
      'before runBatch); "runBatch" ' +
      'records the whole pass into one command buffer on device copies of the activation slots, KV cache and parameters, ' +
      'uploads only the token ids and positions and reads back only the logits. Decode rewinds the cache to the prefix ' +
      'each time, so every step attends to the same number of keys.',
    '',
    forwardTable,
    '',
    '## rnn / lstm schedules',
    '',
    '"loop": one workgroup per sequence walks the time steps inside one dispatch; "steps": one dispatch per time step over ' +
      'every sequence and hidden unit, all in one command buffer. Both checked against native within the recurrent tolerance.',
    '',
    recurrentTable,
    '',
  ].join('\n'),
);
console.log(`wrote ${relative(process.cwd(), join(dir, 'webgpu.json'))} and webgpu.md`);
gpu.dispose();
