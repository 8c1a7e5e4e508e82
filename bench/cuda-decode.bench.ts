// End-to-end decode on the cuda backend: a GPT-2 124M-shaped model (random weights, written as
// GGUF by bench/gpt2-124m-fixture.ts) with f16 and with q8_0 weights, loaded with
// loadModel(path, { backend: 'cuda' }); prefill of 128 tokens and 128 decode steps, tokens/s and
// the weight stream per decode step in GB/s. Each model's logits are checked against the native
// backend's before anything is timed (a case over its budget is reported and not timed; the run
// then exits 1). Not a test; nothing asserts speed. Run on a machine with an NVIDIA GPU:
//   npx tsx bench/cuda-decode.bench.ts [--out DIR]   -> DIR/cuda-decode.json, cuda-decode.md
// (tools/cuda-check.sh runs it when Node is there). Exits 2 without a CUDA device.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { cudaInfo } from '../ts/native.js';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { GPT2_124M, writeGpt2_124m } from './gpt2-124m-fixture.js';
import { TOL_MODEL_LOGITS_F16_WEIGHTS, TOL_MODEL_LOGITS_Q8_0 } from '../test/harness/tolerance.js';

const outArg = process.argv.indexOf('--out');
const OUT = outArg > 0 ? process.argv[outArg + 1]! : join(import.meta.dirname, 'results');
const PREFILL = 128;
const DECODE = 128;

const info = cudaInfo();
if (info.devices === 0) {
  console.log(`cuda-decode: skipped, ${info.reason ?? 'no CUDA device'}`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'attnode-cuda-decode-'));
const ids = (n: number, salt: number) => Array.from({ length: n }, (_, i) => (i * 7919 + salt * 104_729 + 13) % (GPT2_124M.vocab - 1));
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

interface Row { weights: string; check: string; maxDiff: number; budget: number; prefillTokS?: number; decodeTokS?: number; weightGBs?: number; weightMiB: number }
const rows: Row[] = [];
let failed = false;

try {
  const files = { f32: join(dir, 'gpt2-124m-f32.gguf'), q8_0: join(dir, 'gpt2-124m-q8_0.gguf') };
  writeGpt2_124m(files.f32, 1, 'f32');
  writeGpt2_124m(files.q8_0, 1, 'q8_0');
  const cases = [
    { weights: 'f16', file: files.f32, dtype: 'f16' as const, budget: 2 * TOL_MODEL_LOGITS_F16_WEIGHTS },
    { weights: 'q8_0', file: files.q8_0, dtype: undefined, budget: TOL_MODEL_LOGITS_Q8_0 },
  ];
  for (const c of cases) {
    const opts = { kind: 'decoder' as const, contextLength: 1024, ...(c.dtype ? { dtype: c.dtype } : {}) };
    const gpu = (await loadModel(c.file, { ...opts, backend: 'cuda' })) as DecoderModel;
    const weightBytes = gpu.bytes.weights;
    // Correctness first: a prompt and one decode step against the CPU with the same weights.
    let diff = 0;
    {
      const cpu = (await loadModel(c.file, { ...opts, backend: 'native' })) as DecoderModel;
      const [gc, cc] = [gpu.newCache(), cpu.newCache()];
      const p = ids(16, 1);
      diff = Math.max(diff, maxDiff(await gpu.forward(p, { cache: gc }), await cpu.forward(p, { cache: cc })));
      diff = Math.max(diff, maxDiff(await gpu.forward([42], { cache: gc }), await cpu.forward([42], { cache: cc })));
      gc.dispose();
      cc.dispose();
      cpu.dispose();
    }
    const row: Row = { weights: c.weights, check: diff <= c.budget ? 'ok' : 'OVER BUDGET', maxDiff: diff, budget: c.budget, weightMiB: weightBytes / 2 ** 20 };
    rows.push(row);
    console.log(`${c.weights}: max |logit diff| vs native ${diff.toExponential(2)} (budget ${c.budget})`);
    if (diff > c.budget) {
      failed = true;
      gpu.dispose();
      continue;
    }
    const prompt = ids(PREFILL, 2);
    const bench = new Bench({ iterations: 3, warmupIterations: 1, time: 0, warmupTime: 0 });
    bench.add(`prefill ${PREFILL}`, async () => {
      const cache = gpu.newCache();
      await gpu.forward(prompt, { cache });
      cache.dispose();
    });
    bench.add(`decode ${DECODE}`, async () => {
      const cache = gpu.newCache();
      await gpu.forward(prompt.slice(0, 8), { cache });
      for (let i = 0; i < DECODE; i++) await gpu.forward([(i * 31 + 7) % GPT2_124M.vocab], { cache });
      cache.dispose();
    });
    await bench.run();
    const ms = (name: string) => {
      const r = bench.tasks.find((t) => t.name === name)!.result;
      if (r.state !== 'completed') throw new Error(`benchmark task '${name}' did not complete: ${r.state}`, { cause: (r as { error?: unknown }).error });
      return r.latency.p50!;
    };
    row.prefillTokS = PREFILL / (ms(`prefill ${PREFILL}`) / 1000);
    const perToken = ms(`decode ${DECODE}`) / DECODE;  // includes the 8-token prompt, under 1/16 of one step each
    row.decodeTokS = 1000 / perToken;
    row.weightGBs = weightBytes / (perToken / 1000) / 1e9;
    console.log(`${c.weights}: prefill ${row.prefillTokS.toFixed(0)} tok/s, decode ${row.decodeTokS.toFixed(1)} tok/s (${row.weightGBs.toFixed(0)} GB/s of weights)`);
    gpu.dispose();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const header = { device: info.names[0], cpus: cpus().length, loadAverage: loadavg()[0], date: new Date().toISOString() };
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'cuda-decode.json'), JSON.stringify({ header, prefillTokens: PREFILL, decodeTokens: DECODE, rows }, null, 2));
const md = [
  `# cuda backend: GPT-2 124M-shaped decode (${header.device})`,
  '',
  '| weights | check vs native | prefill tok/s | decode tok/s | weight stream GB/s |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.weights} (${r.weightMiB.toFixed(0)} MiB) | ${r.check} (${r.maxDiff.toExponential(2)}) | ${r.prefillTokS?.toFixed(0) ?? '-'} | ${r.decodeTokS?.toFixed(1) ?? '-'} | ${r.weightGBs?.toFixed(0) ?? '-'} |`),
];
writeFileSync(join(OUT, 'cuda-decode.md'), md.join('\n') + '\n');
console.log(md.join('\n'));
process.exit(failed ? 1 : 0);
