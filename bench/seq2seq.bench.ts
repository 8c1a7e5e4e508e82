// Encoder-decoder (T5-small-shaped, random weights) at 1 thread, f32 and q8_0: encoder tokens/s,
// greedy decode ms per step, 4-beam decode ms per step (the beams share one pass per step) and its
// ratio to greedy; and 8 concurrent greedy requests through the text loop (Seq2SeqLM: their steps
// share decoder passes) against the same 8 one at a time. Results are checked before they are
// timed (step counts, equal outputs batched and alone). SEQ2SEQ_SHAPE=bart-base runs a BART-base-shaped
// model instead (6 + 6 layers, d_model 768, 12 heads, FFN 3072, vocabulary 50265).
//
// npm run build:ts && npx tsx bench/seq2seq.bench.ts   (writes bench/results/seq2seq.{json,md}; bart-base: seq2seq-bart-base.*)

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSeq2Seq } from '../dist/models/seq2seq.js';
import { Seq2SeqLM } from '../dist/generate/seq2seq-lm.js';
import { generate } from '../dist/generate/generate.js';
import { BART_BASE, writeBartBase } from './bart-base-fixture.js';
import { T5_SMALL, writeT5Small } from './t5-small-fixture.js';

const SHAPE = process.env.SEQ2SEQ_SHAPE === 'bart-base' ? 'bart-base' : 't5-small';
const VOCAB = SHAPE === 'bart-base' ? BART_BASE.vocab : T5_SMALL.vocab;
const INPUT = Array.from({ length: 64 }, (_, i) => 2 + ((i * 7919 + 11) % (VOCAB - 2)));
const NEW_TOKENS = 16;
const REQUESTS = 8;
const dir = join(tmpdir(), `attnode-${SHAPE}`);
if (!existsSync(join(dir, 'model.safetensors'))) {
  mkdirSync(dir, { recursive: true });
  if (SHAPE === 'bart-base') writeBartBase(dir);
  else writeT5Small(dir);
}

const ROUNDS = 7;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const noText = { encode: (): number[] => [], decode: (): string => '' };

const rows: Record<string, number | string>[] = [];
for (const dtype of ['q8_0', 'f32'] as const) {
  const model = await loadSeq2Seq(dir, { threads: 1, dtype, contextLength: 128 });
  const options = (numBeams: number) => ({ numBeams, maxTokens: NEW_TOKENS, eosTokenIds: [] });
  for (const n of [1, 4]) {
    const r = await model.generate(INPUT, options(n));
    if (r.steps !== NEW_TOKENS - 1 || r.sequences[0]!.ids.length !== NEW_TOKENS) throw new Error(`${n} beams: expected ${NEW_TOKENS - 1} steps`);
  }
  const tasks: (() => Promise<void>)[] = [
    async () => (await model.encode(INPUT)).dispose(),
    async () => {
      const e = await model.encode(INPUT);
      const c = model.newCache();
      await model.forward([0], { encoder: e, cache: c });
      c.dispose();
      e.dispose();
    },
    async () => void (await model.generate(INPUT, options(1))),
    async () => void (await model.generate(INPUT, options(4))),
  ];
  // Rounds that run each task once, side by side: a loaded machine's slow spells fall on all of them.
  const times: number[][] = tasks.map(() => []);
  for (let round = 0; round <= ROUNDS; round++)
    for (const [i, task] of tasks.entries()) {
      const t = performance.now();
      await task();
      if (round > 0) times[i]!.push(performance.now() - t);
    }
  const [enc, start, greedy, beams] = times.map(median) as [number, number, number, number];
  const g = (greedy - start) / (NEW_TOKENS - 1);
  const b = (beams - start) / (NEW_TOKENS - 1);
  // Concurrent requests through the text loop; check they give what they give alone.
  const lm = new Seq2SeqLM(model);
  const inputs = Array.from({ length: REQUESTS }, (_, r) => INPUT.map((id) => 2 + ((id + r * 101) % (VOCAB - 2))));
  const go = { temperature: 0, maxTokens: NEW_TOKENS, ignoreEos: true };
  const alone: number[][] = [];
  let t0 = performance.now();
  for (const ids of inputs) alone.push((await generate(lm, noText, ids, go)).ids);
  const sequential = performance.now() - t0;
  t0 = performance.now();
  const together = await Promise.all(inputs.map((ids) => generate(lm, noText, ids, go)));
  const batched = performance.now() - t0;
  if (JSON.stringify(together.map((r) => r.ids)) !== JSON.stringify(alone)) throw new Error('batched requests gave other ids than alone');
  const tokens = REQUESTS * NEW_TOKENS;
  rows.push({
    dtype, encoderTokensPerSecond: INPUT.length / (enc / 1000), greedyMsPerStep: g, beam4MsPerStep: b, beam4RatioToGreedy: b / g,
    beam4BestTokensPerSecond: 1000 / b, beam4TotalTokensPerSecond: 4000 / b,
    sequentialTokensPerSecond: tokens / (sequential / 1000), batchedTokensPerSecond: tokens / (batched / 1000), batchedSpeedup: sequential / batched,
  });
  model.dispose();
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, load: loadavg()[0] ?? NaN };
const f = (x: number | string, d = 2) => (typeof x === 'number' ? x.toFixed(d) : x);
const md = [
  `# Encoder-decoder (${SHAPE === 'bart-base' ? 'BART-base' : 'T5-small'}-shaped) at 1 thread`,
  '',
  `\`${SHAPE === 'bart-base' ? 'SEQ2SEQ_SHAPE=bart-base ' : ''}npx tsx bench/seq2seq.bench.ts\` on ${machine.cores} x ${machine.cpu}, load ${machine.load.toFixed(2)}; random weights, ${INPUT.length}-token input,`,
  `${NEW_TOKENS} new tokens, no EOS; medians of ${ROUNDS} interleaved rounds; a step's time excludes the encoder and the start token's pass.`,
  `Concurrent: ${REQUESTS} greedy requests at once (their steps share decoder passes) against the same ${REQUESTS} one at a time.`,
  '',
  '| weights | encoder tok/s | greedy ms/step | 4 beams ms/step | beams / greedy | best-beam tok/s | all-beams tok/s | 8 alone tok/s | 8 batched tok/s | batched speedup |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.dtype} | ${f(r.encoderTokensPerSecond!, 0)} | ${f(r.greedyMsPerStep!)} | ${f(r.beam4MsPerStep!)} | ${f(r.beam4RatioToGreedy!)}x | ${f(r.beam4BestTokensPerSecond!, 1)} | ${f(r.beam4TotalTokensPerSecond!, 1)} | ${f(r.sequentialTokensPerSecond!, 1)} | ${f(r.batchedTokensPerSecond!, 1)} | ${f(r.batchedSpeedup!)}x |`),
  '',
];
console.log(md.join('\n'));
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
const out = SHAPE === 'bart-base' ? 'seq2seq-bart-base' : 'seq2seq';
writeFileSync(join(import.meta.dirname, 'results', `${out}.md`), md.join('\n'));
writeFileSync(join(import.meta.dirname, 'results', `${out}.json`), JSON.stringify({ machine, rows }, null, 2));
