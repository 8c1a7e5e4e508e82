// Peak resident memory of one model over the GPT-2 124M-shaped f32 file (written to the system's
// temp folder on first use) running 32 concurrent 16-token greedy generations through DecoderLM,
// the continuous batcher a LanguageModel uses (the file has no tokenizer, so ids go in): weights,
// activations and sequence state together. One process per measurement, so the peak is this
// scenario's alone.
//   npm run build:ts && npx tsx bench/generate-rss.ts [f32|q8_0]

import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../dist/models/model.js';
import { DecoderLM } from '../dist/generate/decoder-lm.js';
import { writeGpt2_124m } from './gpt2-124m-fixture.js';

const dtype = process.argv[2] === 'q8_0' ? 'q8_0' : 'f32';
const REQUESTS = 32;
const TOKENS = 16;
const file = join(tmpdir(), `attnode-gpt2-124m-${dtype}.gguf`);
if (!existsSync(file)) {
  writeGpt2_124m(file, 1, dtype);
  console.log(`wrote ${file}; run again to measure (writing it touched memory too)`);
  process.exit(0);
}
const model = await loadModel(file, { kind: 'decoder' });
const lm = new DecoderLM(model, []);
const argmax = (x: Float32Array): number => x.reduce((best, v, i, a) => (v > a[best]! ? i : best), 0);
async function generate(i: number): Promise<number[]> {
  const cache = lm.newCache();
  const out: number[] = [];
  let logits = await lm.forward(Int32Array.from([464, 2068, 7586, 21831, 18045, 625, 262, 1000 + i]), cache);
  for (let t = 0; t < TOKENS; t++) {
    out.push(argmax(logits));
    if (t + 1 < TOKENS) logits = await lm.forward(Int32Array.of(out[t]!), cache);
  }
  cache.dispose();
  return out;
}
const results = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => generate(i)));
if (!results.every((r) => r.length === TOKENS)) throw new Error(`every request should give ${TOKENS} tokens`);
const stats = model.stateStats();
console.log(JSON.stringify({
  file: dtype, requests: REQUESTS, tokens: TOKENS,
  maxRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
  statePeakMiB: +((stats.peakPages * stats.pageBytes) / 2 ** 20).toFixed(1),
  statePageRows: stats.pageRows,
  passes: lm.batchStats.passes,
}));
lm.dispose();
