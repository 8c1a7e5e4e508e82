// Pool throughput with the default model: total generated tokens/s and time to first token for
// 1, 2, 4 and 8 concurrent requests on one worker, served one at a time (maxBatch 1, batching
// off), interleaved (maxBatch = the concurrency, one forward pass per sequence step) or with
// continuous batching (one forward pass per step for all of them; at concurrency 1 this measures
// the batcher's own overhead). Then where a step's time goes: one batched pass of B decode
// steps on the model, and the sampler's draw of one token. Last, the same three ways through
// the generation loop alone (no pool) on a GPT-2 124M-shaped model, where the forward pass
// rather than sampling dominates a step. Not a kernel benchmark.
// A suite of the runner (it loads the built package: npm run build:ts first):
//   npm run bench -- scheduler [--quick]

import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecoderLM } from '../../dist/generate/decoder-lm.js';
import { generate, type GenerationResult } from '../../dist/generate/generate.js';
import { defaultModelPath } from '../../dist/generate/model.js';
import { Rng } from '../../dist/generate/rng.js';
import { buildProcessors, sampleNext } from '../../dist/generate/sampler.js';
import { loadModel } from '../../dist/models/model.js';
import { createPool, type InferencePool } from '../../dist/scheduler/pool.js';
import { GPT2_124M, writeGpt2_124m } from '../gpt2-124m-fixture.js';
import { defineSuite, type SuiteContext } from '../lib/suite.js';

const TOKENS = 32;
/** Rounds per measurement: set by run() (5, quick 3). */
let ROUNDS = 5;
const threads = cpus().length;
const MODES = {
  'one at a time': (_c: number) => ({ maxBatch: 1, batching: false }),
  interleaved: (c: number) => ({ maxBatch: c, batching: false }),
  batched: (c: number) => ({ maxBatch: c, batching: true }),
} as const;
type Mode = keyof typeof MODES;

interface Row {
  concurrency: number;
  mode: Mode;
  tokensPerSecond: number;
  /** tokens/s of each round */
  samples: number[];
  p50TimeToFirstTokenMs: number;
  /** sequences per forward pass over the timed rounds */
  meanBatch: number;
}

/** One request, streamed: its ids and the ms from submission to its first token. */
async function timed(pool: InferencePool, prompt: string, seed: number): Promise<{ ids: number[]; ttft: number }> {
  const t0 = performance.now();
  let ttft = NaN;
  const s = pool.stream(prompt, { maxTokens: TOKENS, seed, ignoreEos: true });
  for await (const _chunk of s) if (Number.isNaN(ttft)) ttft = performance.now() - t0;
  return { ids: (await s.result).ids, ttft };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** At concurrency 1 interleaving is the same as one at a time. */
const modesFor = (c: number): Mode[] => (c === 1 ? ['one at a time', 'batched'] : ['one at a time', 'interleaved', 'batched']);

interface RoundResult {
  /** every request's ids, to compare across modes */
  ids: string;
  tokens: number;
  ttfts: number[];
}

/**
 * Runs every mode's round in turn, ROUNDS times, checking that each round gives the same ids in
 * every mode: each round's tokens/s and the median time to first token per mode.
 */
async function sideBySide(label: string, modes: readonly Mode[], round: (mode: Mode, m: number) => Promise<RoundResult>): Promise<{ samples: number[][]; ttft: number[] }> {
  const samples: number[][] = modes.map(() => []);
  const ttfts: number[][] = modes.map(() => []);
  let want: string | undefined;
  for (let r = 0; r < ROUNDS; r++)
    for (const [m, mode] of modes.entries()) {
      const t0 = performance.now();
      const out = await round(mode, m);
      const seconds = (performance.now() - t0) / 1000;
      if ((want ??= out.ids) !== out.ids) throw new Error(`${label}, ${mode}: results differ from the other modes`);
      ttfts[m]!.push(...out.ttfts);
      samples[m]!.push(out.tokens / seconds);
    }
  return { samples, ttft: ttfts.map(median) };
}

/** Checks before timing: seeded requests give the same tokens alone and together. */
async function check(pool: InferencePool, concurrency: number, mode: Mode): Promise<void> {
  const opts = { maxTokens: TOKENS, seed: 1, ignoreEos: true };
  const alone = await pool.generate('The secret of life is', opts);
  const together = await Promise.all(Array.from({ length: concurrency }, () => pool.generate('The secret of life is', opts)));
  for (const r of together) if (r.ids.join() !== alone.ids.join()) throw new Error(`${mode}: results differ between alone and concurrent runs`);
}

/** One pool per mode, measured side by side: each round runs every mode once, in turn. */
async function measure(concurrency: number, modes: readonly Mode[]): Promise<Row[]> {
  const pools = modes.map((mode) => createPool({ workers: 1, threadsPerWorker: threads, ...MODES[mode](concurrency) }));
  try {
    for (const [i, mode] of modes.entries()) await check(pools[i]!, concurrency, mode);
    const before = pools.map((p) => p.metrics().batch);
    const { samples, ttft } = await sideBySide(`concurrency ${concurrency}`, modes, async (_mode, m) => {
      const results = await Promise.all(Array.from({ length: concurrency * 2 }, (_, i) => timed(pools[m]!, `Fortune ${i}:`, i)));
      return { ids: results.map((r) => r.ids.join()).join(';'), tokens: results.reduce((a, r) => a + r.ids.length, 0), ttfts: results.map((r) => r.ttft) };
    });
    return modes.map((mode, m) => {
      const [b, a] = [before[m]!, pools[m]!.metrics().batch];
      const meanBatch = (a.meanSequences * a.passes - b.meanSequences * b.passes) / (a.passes - b.passes);
      return { concurrency, mode, tokensPerSecond: median(samples[m]!), samples: samples[m]!, p50TimeToFirstTokenMs: ttft[m]!, meanBatch };
    });
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** ms per forwardBatch pass of B one-token decode steps (each logits checked against its pass alone). */
async function passCosts(sizes: readonly number[]): Promise<{ sequences: number; msPerPass: number; samples: number[] }[]> {
  const model = await loadModel(defaultModelPath(), { kind: 'decoder', threads });
  try {
    const out: { sequences: number; msPerPass: number; samples: number[] }[] = [];
    for (const b of sizes) {
      const caches = Array.from({ length: b }, () => model.newCache());
      for (const [i, cache] of caches.entries()) await model.forward([464 + i, 2068, 7586], { cache });
      const step = (s: number) => caches.map((cache, i) => ({ ids: [100 + i + s], cache }));
      const batched = await model.forwardBatch(step(0));
      for (const [i, cache] of caches.entries()) {
        cache.truncate(3);
        const alone = await model.forward([100 + i], { cache });
        if (alone.some((v, j) => Math.abs(v - batched[i]![j]!) > 1e-4)) throw new Error(`forwardBatch: sequence ${i} of ${b} differs from its pass alone`);
      }
      const samples: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of caches) c.truncate(3);
        const t0 = performance.now();
        for (let s = 0; s < TOKENS; s++) await model.forwardBatch(step(s));
        samples.push((performance.now() - t0) / TOKENS);
      }
      out.push({ sequences: b, msPerPass: median(samples), samples });
    }
    return out;
  } finally {
    model.dispose();
  }
}

/** ms per sampled token with the default sampler (temperature 1) over the model's vocabulary. */
function sampleCost(vocab: number): number[] {
  const rng = new Rng(1);
  const logits = Float32Array.from({ length: vocab }, () => rng.nextFloat() * 20 - 10);
  const chain = buildProcessors({}, vocab);
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) sampleNext(logits, chain, { ids: [1], promptLength: 1 }, rng, false);
    samples.push((performance.now() - t0) / 200);
  }
  return samples;
}

/**
 * The generation loop on a GPT-2 124M-shaped model (random weights in a q8_0 file): `concurrency` requests
 * of BIG_TOKENS tokens each, one at a time, interleaved or batched in one DecoderLM.
 */
const BIG_TOKENS = 16;
async function loopRows(concurrencies: readonly number[]): Promise<Row[]> {
  // The q8_0 file the beam and state suites also use, kept in the temporary folder; written
  // under a temporary name and renamed, so a reader never sees half a file.
  const path = join(tmpdir(), 'attnode-gpt2-124m-q8_0.gguf');
  if (!existsSync(path)) {
    const dir = mkdtempSync(join(tmpdir(), 'attnode-bench-'));
    try {
      writeGpt2_124m(join(dir, 'q8_0.gguf'), 1, 'q8_0');
      renameSync(join(dir, 'q8_0.gguf'), path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  {
    const model = await loadModel(path, { kind: 'decoder', threads, contextLength: 64 });
    const on = new DecoderLM(model, [], { batching: true });
    const off = new DecoderLM(model, [], { batching: false });
    const tokenizer = { encode: (): number[] => [], decode: (ids: readonly number[]) => ids.join(' ') };
    const request = (lm: DecoderLM, i: number) => generate(lm, tokenizer, Array.from({ length: 8 }, (_, j) => (i * 7919 + j * 104729) % GPT2_124M.vocab), { maxTokens: BIG_TOKENS, seed: i, ignoreEos: true });
    const ways: Record<Mode, (c: number) => Promise<{ r: GenerationResult; startMs: number }[]>> = {
      'one at a time': async (c) => {
        const out: { r: GenerationResult; startMs: number }[] = [];
        const t0 = performance.now();
        for (let i = 0; i < c; i++) out.push({ startMs: performance.now() - t0, r: await request(off, i) });
        return out;
      },
      interleaved: (c) => Promise.all(Array.from({ length: c }, async (_, i) => ({ startMs: 0, r: await request(off, i) }))),
      batched: (c) => Promise.all(Array.from({ length: c }, async (_, i) => ({ startMs: 0, r: await request(on, i) }))),
    };
    const rows: Row[] = [];
    for (const c of concurrencies) {
      const modes = modesFor(c);
      const before = modes.map((m) => (m === 'batched' ? on : off).batchStats);
      const { samples, ttft } = await sideBySide(`124M, concurrency ${c}`, modes, async (mode) => {
        const out = await ways[mode](c);
        return { ids: out.map((o) => o.r.ids.join()).join(';'), tokens: c * BIG_TOKENS, ttfts: out.map((o) => o.startMs + o.r.timings.timeToFirstToken * 1000) };
      });
      rows.push(...modes.map((mode, m) => {
        const [b, a] = [before[m]!, (mode === 'batched' ? on : off).batchStats];
        return { concurrency: c, mode, tokensPerSecond: median(samples[m]!), samples: samples[m]!, p50TimeToFirstTokenMs: ttft[m]!, meanBatch: (a.sequences - b.sequences) / (a.passes - b.passes) };
      }));
      process.stderr.write(rows.slice(-modes.length).map((r) => `124M ${r.concurrency} ${r.mode}: ${r.tokensPerSecond.toFixed(1)} tok/s`).join('; ') + '\n');
    }
    model.dispose();
    return rows;
  }
}

export default defineSuite({
  name: 'scheduler',
  title: 'Scheduler throughput (default model, one worker)',
  description:
    'Total tokens/s and time to first token for concurrent requests on one worker served one at a time, interleaved, or with continuous batching (one pool per mode, ' +
    'rounds taken in turn); a batched pass\'s cost and the sampler\'s; the same three ways through the generation loop alone on a GPT-2 124M-shaped q8_0 model.',
  run,
});

async function run(ctx: SuiteContext): Promise<void> {
  if (!ctx.wants({ backend: 'native', threads })) return ctx.note(`runs on the native backend at ${threads} threads only; the filters leave it out`);
  ROUNDS = ctx.quick ? 3 : 5;
  const concurrencies = ctx.quick ? [1, 4] : [1, 2, 4, 8];
  const rows: Row[] = [];
  for (const c of concurrencies) {
    const measured = await measure(c, modesFor(c));
    rows.push(...measured);
    ctx.log(measured.map((r) => `${r.concurrency} ${r.mode}: ${r.tokensPerSecond.toFixed(1)} tok/s`).join('; '));
  }
  const passes = await passCosts(concurrencies);
  const sampleSamples = sampleCost(50257);
  const sampleMs = median(sampleSamples);
  const bigRows = await loopRows(concurrencies);
  const base = { backend: 'native', threads };
  const recordRows = (prefix: string, model: string, list: readonly Row[]) => {
    for (const r of list) {
      const c = ctx.record({ name: `${prefix}, ${r.mode}`, params: { ...base, model, shape: `${r.concurrency} concurrent` }, side: 'attnode', unit: 'tokens/s', better: 'higher', samples: r.samples, iterations: r.samples.length });
      if (c) c.derived = { p50TimeToFirstTokenMs: r.p50TimeToFirstTokenMs, sequencesPerPass: r.meanBatch };
    }
  };
  recordRows('pool', 'attnode-fortunes-7m', rows);
  for (const p of passes) ctx.record({ name: 'forwardBatch pass', params: { ...base, model: 'attnode-fortunes-7m', shape: `${p.sequences} sequences` }, side: 'attnode', unit: 'ms', better: 'lower', samples: p.samples, iterations: p.samples.length * TOKENS });
  ctx.record({ name: 'sample one token (default sampler)', params: { backend: 'native', shape: '50257 ids' }, side: 'attnode', unit: 'ms', better: 'lower', samples: sampleSamples, iterations: sampleSamples.length * 200 });
  recordRows('generation loop', 'gpt2-124m-q8_0', bigRows);
  function table(rows: readonly Row[]): string[] {
    return [
      '| concurrent requests | mode | total tok/s | ratio to one at a time | p50 time to first token (ms) | sequences per pass |',
      '|---:|---|---:|---:|---:|---:|',
      ...rows.map((r) => {
        const base = rows.find((x) => x.concurrency === r.concurrency && x.mode === 'one at a time')!;
        return `| ${r.concurrency} | ${r.mode} | ${r.tokensPerSecond.toFixed(1)} | ${(r.tokensPerSecond / base.tokensPerSecond).toFixed(2)} | ${r.p50TimeToFirstTokenMs.toFixed(1)} | ${r.meanBatch.toFixed(2)} |`;
      }),
    ];
  }

  const md = [
    `${threads} threads per worker; ${TOKENS} tokens per request, 2 x concurrency requests per round, median of ${ROUNDS} rounds, the modes' rounds taken in turn.`,
    `Time to first token: median over the rounds' requests,`,
    'from submission (queueing included). Before timing, seeded results were checked equal alone and concurrently,',
    'and the timed requests equal across the three modes.',
    '',
    ...table(rows),
    '',
    "### Where a step's time goes",
    '',
    `One forwardBatch pass of B decode steps on the model (median of ${ROUNDS} rounds of ${TOKENS} passes, each sequence's logits first checked`,
    `against its pass alone), and drawing one token with the default sampler over the 50257-id vocabulary: ${sampleMs.toFixed(3)} ms.`,
    'The worker samples its sequences one after another on its own thread; interleaved passes run while other sequences sample,',
    'a batched pass waits for all of them.',
    '',
    '| sequences in the pass | ms per pass | ms per token | tokens/s bound (pass + sampling, not overlapped) |',
    '|---:|---:|---:|---:|',
    ...passes.map((p) => `| ${p.sequences} | ${p.msPerPass.toFixed(3)} | ${(p.msPerPass / p.sequences).toFixed(3)} | ${((1000 * p.sequences) / (p.msPerPass + p.sequences * sampleMs)).toFixed(0)} |`),
    '',
    '### The generation loop on a GPT-2 124M-shaped model (no pool)',
    '',
    `Random q8_0 weights, ${threads} threads, on the main thread; ${BIG_TOKENS} tokens per request after an 8-token prompt, as many requests`,
    `as the concurrency, median of ${ROUNDS} rounds taken in turn; one at a time runs the requests in sequence (time to first token counts`,
    'the wait). Seeded results were checked equal across the three modes.',
    '',
    ...table(bigRows),
    '',
  ].join('\n');
  ctx.section(md);
}
