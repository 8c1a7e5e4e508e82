// Generation speed with the default model: prefill and decode tokens/s through the whole loop,
// and the sampler's cost per step for common processor chains. Not a kernel benchmark.
//
// npx tsx bench/generate.bench.ts   (writes bench/results/generate.json and generate.md)

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Bench } from 'tinybench';
import { LanguageModel } from '../ts/generate/model.js';
import { Rng } from '../ts/generate/rng.js';
import { buildProcessors, sampleNext, type SamplingOptions } from '../ts/generate/sampler.js';

const model = await LanguageModel.load();
const prompt = 'The secret of a happy life is to never';
const promptIds = model.tokenizer.encode(prompt);

// Check results before timing: greedy is deterministic and emits real tokens.
const g1 = await model.generate(prompt, { temperature: 0, maxTokens: 32, ignoreEos: true });
const g2 = await model.generate(prompt, { temperature: 0, maxTokens: 32, ignoreEos: true });
if (g1.ids.join() !== g2.ids.join() || g1.ids.length !== 32) throw new Error('greedy generation is not deterministic');

const rows: { name: string; value: string; note: string }[] = [];

// Whole-loop speed, as printed by `attnode generate --stats` (median of 5 runs).
const runs = [];
for (let i = 0; i < 5; i++) runs.push((await model.generate(prompt, { temperature: 0, maxTokens: 64, ignoreEos: true })).timings);
const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const prefill = median(runs.map((t) => t.prefillTokensPerSecond));
const decode = median(runs.map((t) => t.decodeTokensPerSecond));
const ttft = median(runs.map((t) => t.timeToFirstToken * 1000));
rows.push({ name: `prefill (${promptIds.length} tokens)`, value: `${prefill.toFixed(1)} tok/s`, note: 'one batched forward pass' });
rows.push({ name: 'decode (greedy, 64 tokens)', value: `${decode.toFixed(1)} tok/s`, note: `forward + sampling + detokenize per token; ${((model.model.weightBytes * decode) / 1e9).toFixed(2)} GB/s of weights` });
rows.push({ name: 'time to first token', value: `${ttft.toFixed(1)} ms`, note: 'tokenize + prefill + first sample' });

// One decode step's forward alone and the sampler alone, side by side in the same run.
const cache = model.model.newCache();
const logits = await model.model.forward(Int32Array.from(promptIds), cache);
const chains: [string, SamplingOptions][] = [
  ['greedy', { temperature: 0 }],
  ['temperature 0.8', { temperature: 0.8 }],
  ['top-k 40', { temperature: 0.8, topK: 40 }],
  ['top-k 40 + top-p 0.95 + rep 1.1 (CLI default)', { temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1 }],
  ['top-p 0.95 alone (ranks the whole vocabulary)', { temperature: 0.8, topP: 0.95 }],
  ['typical-p 0.9', { temperature: 0.8, typicalP: 0.9 }],
];
const bench = new Bench({ time: 400, warmupTime: 100 });
let step = model.model.newCache();
await model.model.forward(Int32Array.from(promptIds), step);
bench.add('forward: one decode step', async () => {
  if (step.length >= model.model.contextLength - 1) {
    step.dispose();
    step = model.model.newCache();
    await model.model.forward(Int32Array.from(promptIds), step);
  }
  await model.model.forward(Int32Array.of(262), step);
});
const rng = new Rng(1);
const ctx = { ids: promptIds, promptLength: promptIds.length };
for (const [name, o] of chains) {
  const chain = buildProcessors(o, model.model.vocabSize);
  bench.add(`sample: ${name}`, () => void sampleNext(logits, chain, ctx, rng, false));
}
await bench.run();
cache.dispose();
let forwardMs = NaN;
for (const t of bench.tasks) {
  const r = t.result as unknown as { latency?: { mean: number } };
  const ms = r.latency?.mean ?? NaN;
  if (t.name.startsWith('forward')) forwardMs = ms;
  const note = t.name.startsWith('forward')
    ? `reads ${(model.model.weightBytes / 1e6).toFixed(1)} MB of weights: ${(model.model.weightBytes / (ms / 1000) / 1e9).toFixed(2)} GB/s`
    : `${((100 * ms) / forwardMs).toFixed(1)}% of a decode-step forward`;
  rows.push({ name: t.name, value: `${ms.toFixed(3)} ms`, note });
}
step.dispose();

const env = { date: new Date().toISOString(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadavg: loadavg().map((x) => x.toFixed(2)).join(' '), model: 'attnode-fortunes-7m (f32, native)' };
const md = [`# generate bench`, '', `${env.date}, ${env.cpu}, ${env.cores} cores, load ${env.loadavg}, ${env.model}`, '', '| measure | value | note |', '|---|---|---|', ...rows.map((r) => `| ${r.name} | ${r.value} | ${r.note} |`), ''].join('\n');
console.log(md);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/generate.json', import.meta.url), JSON.stringify({ env, rows }, null, 1));
writeFileSync(new URL('./results/generate.md', import.meta.url), md);
model.dispose();
