// WebGPU column: linear at GPT-2-124M shapes (f32 and q8_0 weights), fused attention (prefill and
// decode) and softmax, on the WebGPU backend next to the native backend, measured side by side.
// Not a test: each result is checked against the native backend before timing; nothing asserts speed.
//   npx tsx bench/webgpu.bench.ts [--quick]   -> bench/results/webgpu.json, webgpu.md
// WebGPU is timed three ways: `run` (host tensors in, upload + kernel + read-back per call),
// `resident` (inputs already on the device: one submit and one read-back of the output), and
// `batched` (8 ops recorded into one command buffer, one read-back, time per op).

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { Tensor } from '../ts/tensor/tensor.js';
import { NativeBackend } from '../ts/backend/native.js';
import type { OpArgs, OpName, Weight } from '../ts/backend/backend.js';
import { createWebGPUBackend, GPUTensor, type GpuOpArgs } from '../ts/backend/webgpu/index.js';
import { loadAddon } from '../ts/native.js';
import { normals } from '../test/harness/rng.js';
import { TOL_ATTENTION_F32, TOL_F32, TOL_GEMM_F32, TOL_LINEAR_Q8_0, type Tolerance } from '../test/harness/tolerance.js';

const quick = process.argv.includes('--quick');
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
  bench.add('x', fn);
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`benchmark task did not complete: ${r.state}`);
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

const loadAfter = loadavg()[0]!;
const a = gpu.adapter;
const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const table = [
  '| op | shape | native ms | webgpu run ms | webgpu resident ms | webgpu batched ms/op | native rate | webgpu rate (batched) | webgpu/native time | check |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.op} | ${r.shape} | ${f(r.nativeMs)} | ${f(r.gpuRunMs)} | ${f(r.gpuResidentMs)} | ${f(r.gpuBatchedMs)} | ${f(r.nativeRate)} ${r.unit} | ${f(r.gpuRate)} ${r.unit} | ${r.ratio.toFixed(1)}x | ${r.checked} |`),
].join('\n');
const here = dirname(fileURLToPath(import.meta.url));
const dir = join(here, 'results');
mkdirSync(dir, { recursive: true });
const meta = {
  date: new Date().toISOString(), quick, node: process.version, cpuIsa: info.isa, cpuThreads: info.threads,
  adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, shaderF16: gpu.hasF16 },
  loadAverage: { before: loadBefore, after: loadAfter },
};
writeFileSync(join(dir, 'webgpu.json'), JSON.stringify({ ...meta, rows }, null, 2) + '\n');
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
  ].join('\n'),
);
console.log(`wrote ${join('bench', 'results', 'webgpu.json')} and ${join('bench', 'results', 'webgpu.md')}`);
gpu.dispose();
