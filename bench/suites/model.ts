// GPT-2 124M-shaped model (random weights, a GGUF file kept in the temporary folder): prefill of a
// 128-token prompt and decode tokens/s, on 1 and 2 threads, f32 and q8_0 weights. Results are
// checked (finite logits, cached decode equal to recomputation) before anything is timed.
// A suite of the runner: npm run bench -- model [--quick] [--threads 1] [--dtype f32]

import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type DecoderModel } from '../../ts/models/model.js';
import { cpuInfo, setThreads } from '../../ts/native.js';
import { inspect } from '../../ts/models/params.js';
import { configFromHF } from '../../ts/models/families/index.js';
import { GPT2_124M, writeGpt2_124m } from '../gpt2-124m-fixture.js';
import { defineSuite } from '../lib/suite.js';
import type { BenchCase } from '../lib/schema.js';

const PROMPT = 128;
const BATCH = 8;
const DTYPES = ['f32', 'q8_0'] as const;

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Cached decode must equal recomputation: to f32 rounding for f32 weights. q8_0 kernels quantize
 * activations, so a rounding difference of 1e-7 upstream can move a value across an int8 step;
 * over 12 layers that reaches about 1.5% of the logits' range here, so q8_0 gets 5%. */
async function check(m: DecoderModel, dtype: string, prompt: number[]): Promise<string> {
  const full = await m.forward(prompt.slice(0, 9));
  if (!full.every(Number.isFinite)) throw new Error('logits are not finite');
  const cache = m.newCache(16);
  await m.forward(prompt.slice(0, 8), { cache });
  const inc = await m.forward(prompt.slice(8, 9), { cache });
  const d = maxDiff(full, inc);
  const scale = full.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  if (d > (dtype === 'f32' ? 1e-4 : 5e-2) * Math.max(1, scale)) throw new Error(`${dtype}: cached decode differs from recomputation by ${d}`);
  return `check ${dtype}: max |logit| ${scale.toFixed(3)}, cached vs recomputed max |diff| ${d.toExponential(2)}`;
}

export default defineSuite({
  name: 'model',
  title: 'GPT-2 124M shape, forward passes',
  description:
    `A GPT-2-124M-shaped model with random weights (a GGUF file in the temporary folder), native backend: ${PROMPT}-token prefill, decode after an 8-token prompt ` +
    `(one token per pass), and ${BATCH} sequences decoded in one pass per step. Finite logits and cached decode equal to recomputation are checked first. ` +
    'Against llama.cpp in the same run: the e2e suite.',
  async run(ctx) {
    const quick = ctx.quick;
    const decode = quick ? 16 : 32;
    const dtypes = ctx.options.dtype ? ctx.dtypes(DTYPES) : quick ? ['q8_0' as const] : [...DTYPES];
    const threads = ctx.threads([1, 2]);
    if (dtypes.length === 0 || threads.length === 0) return ctx.note('no case passes the filters');
    // The fixture is kept in the temporary folder between runs (the beam suite writes the same
    // file): written under a temporary name and renamed, so a reader never sees half a file.
    const path = join(tmpdir(), 'attnode-gpt2-124m-f32.gguf');
    const cfg = configFromHF({ model_type: 'gpt2', vocab_size: GPT2_124M.vocab, n_positions: GPT2_124M.ctx, n_embd: GPT2_124M.C, n_layer: GPT2_124M.layers, n_head: GPT2_124M.heads });
    const params = inspect(cfg).total;
    if (params !== 124_439_808) throw new Error(`the GPT-2 124M config has ${params} parameters, expected 124,439,808`);
    if (!existsSync(path)) {
      ctx.log('writing the GGUF fixture');
      const dir = mkdtempSync(join(tmpdir(), 'attnode-bench-'));
      try {
        const written = writeGpt2_124m(join(dir, 'f32.gguf'));
        if (written !== params) throw new Error(`fixture has ${written} parameters, expected ${params}`);
        renameSync(join(dir, 'f32.gguf'), path);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    try {
      const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919) % GPT2_124M.vocab);
      // Prefill GEMM FLOPs: 2 x linear params per token, plus the unembedding of the last position.
      const linearParams = params - GPT2_124M.vocab * GPT2_124M.C - GPT2_124M.ctx * GPT2_124M.C;
      const prefillFlops = 2 * linearParams * PROMPT + 2 * GPT2_124M.vocab * GPT2_124M.C;
      const timing = { rounds: quick ? 3 : 5, minTimeMs: 0, warmupMs: 0 };
      const got: BenchCase[] = [];
      for (const dtype of dtypes) {
        ctx.log(`loading ${dtype}`);
        const model = await loadModel(path, { kind: 'decoder', backend: 'native', dtype, contextLength: PROMPT + decode });
        try {
          ctx.note(await check(model, dtype, prompt));
          for (const t of threads) {
            setThreads(t);
            const p = { backend: 'native', threads: t, dtype, model: 'gpt2-124m' };
            ctx.log(`${dtype}, ${t} thread(s)`);
            for (const c of await ctx.measure({ name: `prefill ${PROMPT}`, params: { ...p, shape: `${PROMPT} tokens` }, unit: 'tokens/s', work: PROMPT, ...timing }, { attnode: { run: () => model.forward(prompt) } })) {
              c.derived = { GFLOPs: (prefillFlops / 1e9) * (c.median / PROMPT) };
              got.push(c);
            }
            const cache = model.newCache();
            let id = 1;
            got.push(...(await ctx.measure({ name: 'decode', params: { ...p, shape: `${decode} tokens after 8` }, unit: 'tokens/s', work: decode, ...timing }, {
              attnode: {
                before: async () => {
                  cache.reset();
                  await model.forward(prompt.slice(0, 8), { cache });
                },
                run: async () => {
                  for (let i = 0; i < decode; i++) id = (await model.forward([id], { cache }))[0]! > 0 ? 2 : 3;
                },
              },
            })));
            const caches = Array.from({ length: BATCH }, () => model.newCache());
            await ctx.measure({ name: `decode, ${BATCH} sequences batched`, params: { ...p, shape: `${BATCH} x ${decode} tokens after 8` }, unit: 'tokens/s', work: decode * BATCH, ...timing }, {
              attnode: {
                before: async () => {
                  for (const [n, c] of caches.entries()) {
                    c.reset();
                    await model.forward(prompt.slice(n, n + 8), { cache: c });
                  }
                },
                run: async () => {
                  let ids = caches.map((_, n) => n + 1);
                  for (let i = 0; i < decode; i++) {
                    const out = await model.forwardBatch(caches.map((c, n) => ({ ids: [ids[n]!], cache: c })));
                    ids = out.map((l, n) => (l[n]! > 0 ? 2 : 3));
                  }
                },
              },
            });
          }
        } finally {
          model.dispose();
        }
      }
      // Two threads against one, measured in the same process and run.
      const lines: string[] = [];
      for (const c of got.filter((x) => x.params.threads === 2)) {
        const one = got.find((x) => x.params.threads === 1 && x.name === c.name && x.params.dtype === c.params.dtype);
        if (one) lines.push(`- ${c.params.dtype} ${c.name}: 2 threads against 1, ${(c.median / one.median).toFixed(2)}x`);
      }
      if (lines.length) ctx.section(lines.join('\n'));
      const all = ctx.cases();
      if (all.length)
        await ctx.plot('tokens', 'GPT-2 124M shape: tokens/s', {
          data: { values: all.map((c) => ({ case: c.name, config: `${c.params.dtype}, ${c.params.threads} thread(s)`, rate: c.median })) },
          mark: 'bar',
          encoding: {
            x: { field: 'case', type: 'nominal', title: null, sort: null },
            y: { field: 'rate', type: 'quantitative', title: 'tokens/s' },
            color: { field: 'config', type: 'nominal' },
            xOffset: { field: 'config' },
          },
          width: 360,
        });
      ctx.note(`kernels: ${JSON.stringify(cpuInfo().kernels)}`);
    } finally {
      setThreads(cpuInfo().cores);
    }
  },
});
