// Encoder-decoders at 1 thread (T5-small- and BART-base-shaped, random weights, f32 and q8_0):
// encoder tokens/s, greedy and 4-beam decode per step (the beams share one pass per step), and 8
// concurrent greedy requests through the text loop (their steps share decoder passes) against the
// same 8 one at a time. Results are checked before they are timed: step counts and sequence
// lengths, and the batched requests must give the ids they give alone.
// A suite of the runner (it loads the built package: npm run build:ts first):
//   npm run bench -- seq2seq [--quick] [--dtype q8_0]

import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSeq2Seq } from '../../dist/models/seq2seq.js';
import { Seq2SeqLM } from '../../dist/generate/seq2seq-lm.js';
import { generate } from '../../dist/generate/generate.js';
import { BART_BASE, writeBartBase } from '../bart-base-fixture.js';
import { T5_SMALL, writeT5Small } from '../t5-small-fixture.js';
import { defineSuite } from '../lib/suite.js';
import { median } from '../lib/stats.js';

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INPUT_TOKENS = 64;
const REQUESTS = 8;
const BEAMS = 4;

type Shape = 't5-small' | 'bart-base';
const SHAPES: Record<Shape, { vocab: number; write: (dir: string) => number; label: string }> = {
  't5-small': { vocab: T5_SMALL.vocab, write: writeT5Small, label: 'T5-small' },
  'bart-base': { vocab: BART_BASE.vocab, write: writeBartBase, label: 'BART-base' },
};

/** The checkpoint directory of a shape in the system's temp folder, written on first use. */
function checkpoint(shape: Shape, log: (l: string) => void): string {
  const dir = join(tmpdir(), `attnode-${shape}`);
  if (!existsSync(join(dir, 'model.safetensors'))) {
    log(`writing a ${SHAPES[shape].label}-shaped checkpoint with random weights into ${dir}`);
    mkdirSync(dir, { recursive: true });
    SHAPES[shape].write(dir);
  }
  return dir;
}

const noText = { encode: (): number[] => [], decode: (): string => '' };

export default defineSuite({
  name: 'seq2seq',
  title: 'Encoder-decoders at 1 thread: encoder, greedy and beam steps, concurrent requests',
  description:
    `T5-small- and BART-base-shaped models (random weights; quick: T5-small q8_0 only), ${INPUT_TOKENS}-token input, no EOS. ` +
    `The encoder alone, the encoder plus the start token's pass, greedy and ${BEAMS}-beam generations in the same rounds; a step is ` +
    `(generation - encoder and start pass) / steps, from the medians; beams / greedy is the median of that ratio per round (the four run in each). Then ${REQUESTS} greedy requests through the text loop at once ` +
    '(their steps share decoder passes) against the same requests one at a time, alternating per round.',
  async run(ctx) {
    if (!ctx.wants({ backend: 'native', threads: 1 })) return ctx.note('runs at 1 thread on the native backend only; the filters leave it out');
    if (!existsSync(join(PACKAGE_ROOT, 'dist', 'models', 'seq2seq.js'))) throw new Error('seq2seq: the suite loads the built package; run `npm run build:ts` first');
    // Enough steps that they, not the encoder pass, make up most of a generation's time.
    const newTokens = ctx.quick ? 8 : 32;
    const rounds = ctx.quick ? 3 : 7;
    const shapes: Shape[] = ctx.quick ? ['t5-small'] : ['t5-small', 'bart-base'];
    const dtypes = ctx.options.dtype || !ctx.quick ? ctx.dtypes(['q8_0', 'f32'] as const) : (['q8_0'] as const);
    const lines = [
      `| model | weights | encoder tok/s | greedy ms/step | ${BEAMS} beams ms/step | beams / greedy | ${REQUESTS} alone tok/s | ${REQUESTS} batched tok/s | batched / alone |`,
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const shape of shapes) {
      const { vocab, label } = SHAPES[shape];
      const dir = checkpoint(shape, (l) => ctx.log(l));
      const input = Array.from({ length: INPUT_TOKENS }, (_, i) => 2 + ((i * 7919 + 11) % (vocab - 2)));
      for (const dtype of dtypes) {
        const params = { backend: 'native', threads: 1, dtype, model: shape };
        const model = await loadSeq2Seq(dir, { threads: 1, dtype, contextLength: 128 });
        try {
          const options = (numBeams: number) => ({ numBeams, maxTokens: newTokens, eosTokenIds: [] });
          const checkGeneration = (n: number) => async () => {
            const r = await model.generate(input, options(n));
            if (r.steps !== newTokens - 1 || r.sequences[0]?.ids.length !== newTokens)
              throw new Error(`${n} beam${n > 1 ? 's' : ''}: expected ${newTokens - 1} steps and ${newTokens} ids, got ${r.steps} steps and ${r.sequences[0]?.ids.length ?? 0} ids`);
          };
          const timing = { rounds, minTimeMs: 0, warmupMs: 0 };
          const [enc, start, greedy, beams] = await ctx.interleave([
            {
              spec: { name: 'encoder', params: { ...params, shape: `${INPUT_TOKENS} tokens` }, unit: 'tokens/s', work: INPUT_TOKENS, ...timing },
              run: async () => (await model.encode(input)).dispose(),
            },
            {
              spec: { name: 'encoder + start pass', params: { ...params, shape: `${INPUT_TOKENS} + 1 tokens` }, unit: 'ms' },
              run: async () => {
                const e = await model.encode(input);
                const c = model.newCache();
                await model.forward([0], { encoder: e, cache: c });
                c.dispose();
                e.dispose();
              },
            },
            { spec: { name: 'generate, greedy', params: { ...params, shape: `${INPUT_TOKENS} -> ${newTokens} tokens` }, unit: 'ms' }, check: checkGeneration(1), run: () => model.generate(input, options(1)) },
            { spec: { name: `generate, ${BEAMS} beams`, params: { ...params, shape: `${INPUT_TOKENS} -> ${newTokens} tokens` }, unit: 'ms' }, check: checkGeneration(BEAMS), run: () => model.generate(input, options(BEAMS)) },
          ]);
          if (!enc || !start || !greedy || !beams) continue;
          const perStep = (ms: number) => (ms - start.median) / (newTokens - 1);
          greedy.derived = { msPerStep: perStep(greedy.median) };
          // Per round: a slow round moves all four figures of it alike.
          const perRound = beams.samples.map((b, r) => (b - start.samples[r]!) / (greedy.samples[r]! - start.samples[r]!));
          beams.derived = { msPerStep: perStep(beams.median), ratioToGreedy: median(perRound) };

          // Concurrent requests through the text loop; checked to give what they give alone.
          const lm = new Seq2SeqLM(model);
          const inputs = Array.from({ length: REQUESTS }, (_, r) => input.map((id) => 2 + ((id + r * 101) % (vocab - 2))));
          const go = { temperature: 0, maxTokens: newTokens, ignoreEos: true };
          const alone = async () => {
            const out: number[][] = [];
            for (const ids of inputs) out.push((await generate(lm, noText, ids, go)).ids);
            return out;
          };
          const together = async () => (await Promise.all(inputs.map((ids) => generate(lm, noText, ids, go)))).map((r) => r.ids);
          const tokens = REQUESTS * newTokens;
          const [seq, bat] = await ctx.interleave([
            {
              spec: { name: `${REQUESTS} requests one at a time`, params: { ...params, shape: `${REQUESTS} x ${INPUT_TOKENS} -> ${newTokens} tokens` }, unit: 'tokens/s', work: tokens, ...timing },
              run: alone,
            },
            {
              spec: { name: `${REQUESTS} requests at once`, params: { ...params, shape: `${REQUESTS} x ${INPUT_TOKENS} -> ${newTokens} tokens` }, unit: 'tokens/s', work: tokens },
              check: async () => {
                const [a, b] = [await alone(), await together()];
                if (a.some((ids) => ids.length !== newTokens)) throw new Error(`a request alone did not give ${newTokens} ids`);
                if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('requests batched together gave other ids than alone');
              },
              run: together,
            },
          ]);
          if (!seq || !bat) continue;
          bat.derived = { ratioToAlone: bat.median / seq.median };
          const f = (x: number, d = 2) => x.toFixed(d);
          lines.push(`| ${label} | ${dtype} | ${f(enc.median, 0)} | ${f(greedy.derived.msPerStep!)} | ${f(beams.derived.msPerStep!)} | ${f(beams.derived.ratioToGreedy!)}x | ` +
            `${f(seq.median, 1)} | ${f(bat.median, 1)} | ${f(bat.derived.ratioToAlone!)}x |`);
        } finally {
          model.dispose();
        }
      }
    }
    ctx.section(lines.join('\n'));
  },
});
