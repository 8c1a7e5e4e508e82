// GPT-2 124M-shaped model (random weights, written to a temporary GGUF file): prefill of a
// 128-token prompt and decode tokens/s, on 1 and 2 threads, f32 and q8_0 weights. Results are
// checked (finite logits, cached decode equal to recomputation) before anything is timed.
//   npx tsx bench/model.bench.ts [--quick]

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { cpuInfo, setThreads } from '../ts/native.js';
import { inspect } from '../ts/models/params.js';
import { configFromHF } from '../ts/models/families/index.js';
import { GPT2_124M, writeGpt2_124m } from './gpt2-124m-fixture.js';

const PROMPT = 128;
const DECODE = Number(process.env.DECODE_TOKENS ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BATCH = 8;
const quick = process.argv.includes('--quick');
const dtypes = (process.env.DTYPES ?? (quick ? 'q8_0' : 'f32,q8_0')).split(',') as ('f32' | 'q8_0')[];
const threads = (process.env.THREADS ?? '1,2').split(',').map(Number);

const dir = mkdtempSync(join(tmpdir(), 'attnode-bench-'));
const path = join(dir, 'gpt2-124m-f32.gguf');
const params = writeGpt2_124m(path);
const cfg = configFromHF({ model_type: 'gpt2', vocab_size: GPT2_124M.vocab, n_positions: GPT2_124M.ctx, n_embd: GPT2_124M.C, n_layer: GPT2_124M.layers, n_head: GPT2_124M.heads });
if (params !== inspect(cfg).total || params !== 124_439_808) throw new Error(`fixture has ${params} parameters, expected 124,439,808`);

const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919) % GPT2_124M.vocab);
// Prefill GEMM FLOPs: 2 x linear params per token, plus the unembedding of the last position.
const linearParams = params - GPT2_124M.vocab * GPT2_124M.C - GPT2_124M.ctx * GPT2_124M.C;
const prefillFlops = 2 * linearParams * PROMPT + 2 * GPT2_124M.vocab * GPT2_124M.C;

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Cached decode must equal recomputation: to f32 rounding for f32 weights. q8_0 kernels quantize
 * activations, so a rounding difference of 1e-7 upstream can move a value across an int8 step;
 * over 12 layers that reaches about 1.5% of the logits' range here, so q8_0 gets 5%. */
async function check(m: DecoderModel, dtype: string): Promise<void> {
  const full = await m.forward(prompt.slice(0, 9));
  if (!full.every(Number.isFinite)) throw new Error('logits are not finite');
  const cache = m.newCache(16);
  await m.forward(prompt.slice(0, 8), { cache });
  const inc = await m.forward(prompt.slice(8, 9), { cache });
  const d = maxDiff(full, inc);
  const scale = full.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  console.log(`check ${dtype}: max |logit| ${scale.toFixed(3)}, cached vs recomputed max |diff| ${d.toExponential(2)}`);
  if (d > (dtype === 'f32' ? 1e-4 : 5e-2) * Math.max(1, scale)) throw new Error(`cached decode differs from recomputation by ${d}`);
}

interface Row { dtype: string; threads: number; prefillTokS: number; prefillGflops: number; decodeTokS: number; batchDecodeTokS: number }
const rows: Row[] = [];
try {
  for (const dtype of dtypes) {
    const model = await loadModel(path, { kind: 'decoder', backend: 'native', dtype, contextLength: PROMPT + DECODE });
    await check(model, dtype);
    for (const t of threads) {
      setThreads(t);
      const cache = model.newCache();
      const batchCaches = Array.from({ length: BATCH }, () => model.newCache());
      const bench = new Bench({ iterations: ROUNDS, time: 0, warmup: true, warmupIterations: 1, warmupTime: 0 });
      const decodeMs: number[] = [];
      const batchMs: number[] = [];
      bench.add(`prefill ${PROMPT} ${dtype} t=${t}`, async () => {
        await model.forward(prompt);
      });
      bench.add(`decode ${DECODE} ${dtype} t=${t}`, async () => {
        cache.reset();
        await model.forward(prompt.slice(0, 8), { cache });
        const t0 = performance.now();
        let id = 1;
        for (let i = 0; i < DECODE; i++) id = (await model.forward([id], { cache }))[0]! > 0 ? 2 : 3;
        decodeMs.push(performance.now() - t0);
      });
      bench.add(`decode ${DECODE} x ${BATCH} sequences, one pass per step, ${dtype} t=${t}`, async () => {
        for (const [n, c] of batchCaches.entries()) {
          c.reset();
          await model.forward(prompt.slice(n, n + 8), { cache: c });
        }
        const t0 = performance.now();
        let ids = batchCaches.map((_, n) => n + 1);
        for (let i = 0; i < DECODE; i++) {
          const out = await model.forwardBatch(batchCaches.map((c, n) => ({ ids: [ids[n]!], cache: c })));
          ids = out.map((l, n) => (l[n]! > 0 ? 2 : 3));
        }
        batchMs.push(performance.now() - t0);
      });
      await bench.run();
      const pre = bench.tasks[0]!.result;
      if (pre.state !== 'completed') throw new Error(`prefill did not complete: ${pre.state}`);
      const preMs = pre.latency.p50!;
      // Rounds after the warm-up one; the median of them.
      const median = (a: number[]) => a.slice(1).sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)]!;
      rows.push({
        dtype, threads: t,
        prefillTokS: (PROMPT * 1000) / preMs,
        prefillGflops: prefillFlops / preMs / 1e6,
        decodeTokS: (DECODE * 1000) / median(decodeMs),
        batchDecodeTokS: (DECODE * BATCH * 1000) / median(batchMs),
      });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
    model.dispose();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const info = cpuInfo();
const lines = [
  `# GPT-2 124M shape (random weights), ${info.isa}, kernels ${JSON.stringify(info.kernels)}`,
  '',
  `| weights | threads | prefill ${PROMPT} tok/s | prefill GEMM GFLOP/s | decode tok/s | prefill vs llama.cpp | decode vs llama.cpp | decode, ${BATCH} sequences batched, total tok/s |`,
  '|---|---|---|---|---|---|---|---|',
];
// llama.cpp on these machines, same shape (from the issues): [prefill, decode] tok/s by threads.
const LLAMA_CPP: Record<string, Record<number, [number, number]>> = {
  f32: { 1: [400, 40], 2: [756, 57] },
  q8_0: { 1: [540, 122], 2: [1050, 180] },
};
for (const r of rows) {
  const ref = LLAMA_CPP[r.dtype]?.[r.threads];
  const vs = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) + 'x' : '-');
  lines.push(`| ${r.dtype} | ${r.threads} | ${r.prefillTokS.toFixed(1)} | ${r.prefillGflops.toFixed(1)} | ${r.decodeTokS.toFixed(1)} | ${vs(r.prefillTokS, ref?.[0])} | ${vs(r.decodeTokS, ref?.[1])} | ${r.batchDecodeTokS.toFixed(1)} |`);
}
lines.push('', `Medians of ${ROUNDS} rounds after a warm-up round; decode runs ${DECODE} tokens after an 8-token prompt. llama.cpp figures are the issues' measurements on these machines, with the same weight dtype.`);
for (const r of rows.filter((x) => x.threads === 2)) {
  const one = rows.find((x) => x.threads === 1 && x.dtype === r.dtype);
  if (one) lines.push(`\n${r.dtype}: 2 threads vs 1, measured side by side: prefill ${(r.prefillTokS / one.prefillTokS).toFixed(2)}x, decode ${(r.decodeTokS / one.decodeTokS).toFixed(2)}x`);
}
const md = lines.join('\n');
console.log(md);
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'model.md'), md + '\n');
writeFileSync(join(import.meta.dirname, 'results', 'model.json'), JSON.stringify({ cpu: info, promptTokens: PROMPT, decodeTokens: DECODE, rows }, null, 2) + '\n');
