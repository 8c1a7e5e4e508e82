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
import { configFromHF } from '../ts/models/config.js';
import { GPT2_124M, writeGpt2_124m } from './gpt2-124m-fixture.js';

const PROMPT = 128;
const DECODE = Number(process.env.DECODE_TOKENS ?? 16);
const quick = process.argv.includes('--quick');
const dtypes = (process.env.DTYPES ?? (quick ? 'q8_0' : 'f32,q8_0')).split(',') as ('f32' | 'q8_0')[];
const threads = (process.env.THREADS ?? '1,2').split(',').map(Number);

const dir = mkdtempSync(join(tmpdir(), 'attnode-bench-'));
const path = join(dir, 'gpt2-124m-f32.gguf');
const params = writeGpt2_124m(path);
const cfg = configFromHF({ model_type: 'gpt2', vocab_size: GPT2_124M.vocab, n_positions: GPT2_124M.ctx, n_embd: GPT2_124M.C, n_layer: GPT2_124M.layers, n_head: GPT2_124M.heads });
if (params !== inspect(cfg).total || params !== 124_439_808) throw new Error(`fixture has ${params} parameters, expected 124,439,808`);

const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919) % GPT2_124M.vocab);
// FLOPs per token, matmuls only: 2 x (non-embedding linear params + unembedding).
const linearParams = params - GPT2_124M.vocab * GPT2_124M.C - GPT2_124M.ctx * GPT2_124M.C;
const flopsPerToken = 2 * (linearParams + GPT2_124M.vocab * GPT2_124M.C);

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

interface Row { dtype: string; threads: number; prefillTokS: number; prefillGflops: number; decodeTokS: number }
const rows: Row[] = [];
try {
  for (const dtype of dtypes) {
    const model = await loadModel(path, { backend: 'native', dtype, maxTokens: PROMPT + DECODE });
    await check(model, dtype);
    for (const t of threads) {
      setThreads(t);
      const cache = model.newCache();
      const bench = new Bench({ iterations: 1, time: 0, warmup: false });
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
      const decodeMs: number[] = [];
      await bench.run();
      const pre = bench.tasks[0]!.result;
      if (pre.state !== 'completed') throw new Error(`prefill did not complete: ${pre.state}`);
      const preMs = pre.latency.mean;
      const decMs = decodeMs.reduce((a, b) => a + b, 0) / decodeMs.length;
      rows.push({ dtype, threads: t, prefillTokS: (PROMPT * 1000) / preMs, prefillGflops: (PROMPT * flopsPerToken) / preMs / 1e6, decodeTokS: (DECODE * 1000) / decMs });
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
  '| weights | threads | prefill 128 tok/s | prefill GFLOP/s | decode tok/s | prefill vs llama.cpp | decode vs llama.cpp |',
  '|---|---|---|---|---|---|---|',
];
// llama.cpp on these machines, f32 weights (from the issue): 400 / 40 tok/s on 1 thread, 756 / 57 on 2.
const LLAMA_CPP: Record<number, [number, number]> = { 1: [400, 40], 2: [756, 57] };
for (const r of rows) {
  const ref = LLAMA_CPP[r.threads];
  lines.push(`| ${r.dtype} | ${r.threads} | ${r.prefillTokS.toFixed(1)} | ${r.prefillGflops.toFixed(2)} | ${r.decodeTokS.toFixed(1)} | ${ref ? (r.prefillTokS / ref[0]).toFixed(3) + 'x' : '-'} | ${ref ? (r.decodeTokS / ref[1]).toFixed(3) + 'x' : '-'} |`);
}
for (const r of rows.filter((x) => x.threads === 2)) {
  const one = rows.find((x) => x.threads === 1 && x.dtype === r.dtype);
  if (one) lines.push(`\n${r.dtype}: 2 threads vs 1, measured side by side: prefill ${(r.prefillTokS / one.prefillTokS).toFixed(2)}x, decode ${(r.decodeTokS / one.decodeTokS).toFixed(2)}x`);
}
const md = lines.join('\n');
console.log(md);
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'model.md'), md + '\n');
writeFileSync(join(import.meta.dirname, 'results', 'model.json'), JSON.stringify({ cpu: info, promptTokens: PROMPT, decodeTokens: DECODE, rows }, null, 2) + '\n');
