// T5 from text: LanguageModel.load on a T5 directory (the prompt is the encoder's input, the
// output text the decoder's), checked against EncoderDecoderModel.generate on the same ids, which
// test/seq2seq-t5.test.ts checks against PyTorch; concurrent requests share decoder passes; the
// CLI prints only the output.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LanguageModel } from '../ts/generate/model.js';
import { loadSeq2Seq, type EncoderDecoderModel } from '../ts/models/seq2seq.js';
import { TOL_BEAM_SCORE_F32 } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const TEXTS = ['translate English to German: The house is wonderful.', 'Hello world, this is a test.'];

describe('T5 through LanguageModel (text in, text out)', () => {
  let lm: LanguageModel;
  let model: EncoderDecoderModel;
  /** Ids without text (the model's rows past the tokenizer's), banned as the text path does. */
  let textless: Record<number, number>;
  beforeAll(async () => {
    lm = await LanguageModel.load(join(FIX, 't5-tiny'));
    model = await loadSeq2Seq(join(FIX, 't5-tiny'));
    textless = {};
    for (let id = lm.tokenizer.vocabSize; id < model.config.vocabSize; id++) textless[id] = -Infinity;
  });
  afterAll(() => {
    lm?.dispose();
    model?.dispose();
  });

  it('is an encoder-decoder; beam search from text equals the model on the same ids', async () => {
    expect(lm.kind).toBe('encoder-decoder');
    expect(() => lm.model).toThrow(/is an encoder-decoder; its model is 'seq2seq'/);
    const o = { numBeams: 4, numReturnSequences: 2, maxTokens: 6, lengthPenalty: 1.2 };
    const r = await lm.generate(TEXTS[0]!, o);
    const want = await model.generate(lm.tokenizer.encode(TEXTS[0]!), { ...o, logitBias: textless });
    expect(r.sequences!.map((s) => s.ids)).toEqual(want.sequences.map((s) => s.ids));
    r.sequences!.forEach((s, i) => expect(Math.abs(s.score - want.sequences[i]!.score)).toBeLessThanOrEqual(TOL_BEAM_SCORE_F32.atol));
    expect(r.text).toBe(lm.tokenizer.decode(r.ids));
  });

  it('greedy sampling (temperature 0) equals the model, and the stream gives the same text', async () => {
    const o = { temperature: 0, maxTokens: 8, ignoreEos: true };
    const r = await lm.generate(TEXTS[1]!, o);
    const want = await model.generate(lm.tokenizer.encode(TEXTS[1]!), { numBeams: 1, maxTokens: 8, ignoreEos: true, logitBias: textless });
    expect(r.ids).toEqual(want.sequences[0]!.ids);
    const s = lm.stream(TEXTS[1]!, o);
    let text = '';
    for await (const c of s) text += c.text;
    expect(text).toBe((await s.result).text);
    expect(text).toBe(r.text);
  });

  it('concurrent requests give the results they give alone, sharing decoder passes', async () => {
    const o = { temperature: 0, maxTokens: 6, ignoreEos: true };
    const alone = [];
    for (const t of TEXTS) alone.push((await lm.generate(t, o)).ids);
    const before = lm.seq2seq!.batchStats;
    const counted = lm.seq2seq!.model.counters;
    const together = await Promise.all(TEXTS.map((t) => lm.generate(t, o)));
    expect(together.map((r) => r.ids)).toEqual(alone);
    const after = lm.seq2seq!.batchStats;
    // Both inputs in one encoder pass, then the start tokens and 5 decoder steps of both requests in one pass each.
    expect((after.histogram[2] ?? 0) - (before.histogram[2] ?? 0)).toBe(6);
    expect(lm.seq2seq!.model.counters.encoderPasses - counted.encoderPasses).toBe(1);
    expect(lm.seq2seq!.model.counters.encodedSequences - counted.encodedSequences).toBe(2);
  });

  it('a 4-beam text request runs the encoder once; an aborted one finishes as aborted', async () => {
    const counted = lm.seq2seq!.model.counters;
    const r = await lm.generate(TEXTS[0]!, { numBeams: 4, maxTokens: 5 });
    expect(r.sequences).toHaveLength(1);
    const after = lm.seq2seq!.model.counters;
    expect(after.encoderPasses - counted.encoderPasses).toBe(1);
    expect(after.crossKVRows - counted.crossKVRows).toBe(lm.tokenizer.encode(TEXTS[0]!).length);
    const ac = new AbortController();
    ac.abort();
    expect((await lm.generate(TEXTS[0]!, { temperature: 0, signal: ac.signal })).finishReason).toBe('aborted');
    await expect(model.generate([5, 6], { numBeams: 2, signal: ac.signal })).rejects.toThrow();
    expect(lm.seq2seq!.model.stateStats().pagesInUse).toBe(0);
  });

  it("takes generation_config.json's defaults (t5v11-tiny: 4 beams, max_length 9) unless the caller samples", async () => {
    const v11 = await LanguageModel.load(join(FIX, 't5v11-tiny'));
    try {
      const plain = await v11.generate(TEXTS[0]!);
      const explicit = await v11.generate(TEXTS[0]!, { numBeams: 4, maxTokens: 8, lengthPenalty: 1, earlyStopping: false });
      expect(plain.sequences).toBeDefined();
      expect(plain.ids).toEqual(explicit.ids);
      const sampled = await v11.generate(TEXTS[0]!, { topK: 5, seed: 3, maxTokens: 4 });
      expect(sampled.sequences).toBeUndefined();
    } finally {
      v11.dispose();
    }
  });
});

describe('attnode generate on a T5 directory', () => {
  const tsx = join(createRequire(import.meta.url).resolve('tsx'), '..', 'cli.mjs');
  it('prints the output only (not the input), best beam first', async () => {
    const r = spawnSync(process.execPath, [tsx, 'ts/cli.ts', 'generate', '--model', join(FIX, 't5-tiny'), '--num-beams', '4', '--max-tokens', '6', TEXTS[0]!], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lm = await LanguageModel.load(join(FIX, 't5-tiny'));
    try {
      const want = await lm.generate(TEXTS[0]!, { numBeams: 4, maxTokens: 6 });
      expect(r.stdout).toBe(`${want.text}\n`);
    } finally {
      lm.dispose();
    }
  });
});
