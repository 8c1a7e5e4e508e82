// Beam search against greedy search at 1 thread, per decode step: 4 beams share one forward pass,
// so a step costs one pass over 4 rows (plus reordering page tables and the scorer), not 4 passes.
// GPT-2 124M-shaped q8_0 and f32 files (random weights, written to the system's temp folder on
// first use). Results are checked before they are timed (the step counts, the beams' order).
//
// npm run build:ts && npx tsx bench/beam.bench.ts   (writes bench/results/beam.{json,md})

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { loadModel } from '../dist/models/model.js';
import { GPT2_124M, writeGpt2_124m } from './gpt2-124m-fixture.js';

const NEW_TOKENS = 32;
const PROMPT = Array.from({ length: 8 }, (_, i) => (i * 997 + 13) % GPT2_124M.vocab);
const BEAMS = [1, 2, 4, 8];

const rows: { dtype: string; beams: number; msPerStep: number; ratioToGreedy: number; samples: number }[] = [];
for (const dtype of ['q8_0', 'f32'] as const) {
  const file = join(tmpdir(), `attnode-gpt2-124m-${dtype}.gguf`);
  if (!existsSync(file)) writeGpt2_124m(file, 1, dtype);
  const model = await loadModel(file, { kind: 'decoder', threads: 1, contextLength: 64 });
  const options = (numBeams: number) => ({ numBeams, maxNewTokens: NEW_TOKENS, eosTokenIds: [] });
  for (const n of BEAMS) {
    const r = await model.generate(PROMPT, options(n));
    if (r.steps !== NEW_TOKENS - 1 || r.sequences.length !== 1 || r.sequences[0]!.ids.length !== NEW_TOKENS)
      throw new Error(`${n} beams: expected ${NEW_TOKENS - 1} steps and one sequence of ${NEW_TOKENS} ids`);
  }
  if (model.stateStats().fullPagesCopied !== 0) throw new Error('beam reordering copied full pages');
  const bench = new Bench({ iterations: 5, warmupIterations: 1, time: 0 });
  for (const n of BEAMS) bench.add(`${n}`, async () => void (await model.generate(PROMPT, options(n))));
  await bench.run();
  // A prompt pass alone, to take it out of the per-step figure.
  const prefill = new Bench({ iterations: 5, warmupIterations: 1, time: 0 });
  prefill.add('prefill', async () => void (await model.forward(PROMPT)));
  await prefill.run();
  type Latency = { latency?: { p50?: number; samplesCount?: number } };
  const p50 = (t: { result?: unknown }): number => {
    const v = (t.result as Latency | undefined)?.latency?.p50;
    if (v === undefined) throw new Error('tinybench gave no latency');
    return v;
  };
  const pre = p50(prefill.tasks[0]!);
  const perStep = (t: { result?: unknown }) => (p50(t) - pre) / (NEW_TOKENS - 1);
  const greedy = perStep(bench.tasks[0]!);
  for (const t of bench.tasks)
    rows.push({ dtype, beams: Number(t.name), msPerStep: perStep(t), ratioToGreedy: perStep(t) / greedy, samples: (t.result as Latency).latency?.samplesCount ?? 0 });
  model.dispose();
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, load: loadavg()[0] ?? NaN };
const md = [
  '# Beam search against greedy, per decode step',
  '',
  `\`npx tsx bench/beam.bench.ts\` on ${machine.cores} x ${machine.cpu}, load ${machine.load.toFixed(2)}; GPT-2 124M-shaped, 1 thread,`,
  `8-token prompt, ${NEW_TOKENS} new tokens, no EOS; median of 5 runs, the prompt pass subtracted.`,
  '',
  '| weights | beams | ms per step | ratio to greedy |',
  '|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.dtype} | ${r.beams} | ${r.msPerStep.toFixed(2)} | ${r.ratioToGreedy.toFixed(2)}x |`),
  '',
];
console.log(md.join('\n'));
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'beam.md'), md.join('\n'));
writeFileSync(join(import.meta.dirname, 'results', 'beam.json'), JSON.stringify({ machine, rows }, null, 2));
