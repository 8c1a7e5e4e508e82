// Several sampled sequences for one request (numReturnSequences > 1 without beams): the encoder and
// cross-attention K/V once, the sequences forked from the prompt's cache, their steps in shared
// decoder passes; each sequence checked token by token against the model run on it alone.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LanguageModel } from '../ts/generate/model.js';
import { loadSeq2Seq, type EncoderDecoderModel } from '../ts/models/seq2seq.js';
import { TOL_BEAM_SCORE_F32 } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const TEXT = 'translate English to German: The house is wonderful.';

/** Sum of log-softmax(logits)[id] over the sequence (the raw distribution, as sampled scores are), teacher-forced on a fresh cache. */
async function teacherForcedScore(model: EncoderDecoderModel, input: number[], ids: number[]): Promise<number> {
  const allowed = model.decoderVocabSize;
  const enc = await model.encode(input);
  const cache = model.newCache();
  try {
    let prev = model.decoderStartTokenId;
    let sum = 0;
    for (const id of ids) {
      const logits = await model.forward([prev], { encoder: enc, cache });
      let max = -Infinity;
      for (let i = 0; i < allowed; i++) max = Math.max(max, logits[i]!);
      let z = 0;
      for (let i = 0; i < allowed; i++) z += Math.exp(logits[i]! - max);
      sum += logits[id]! - max - Math.log(z);
      prev = id;
    }
    return sum;
  } finally {
    cache.dispose();
    enc.dispose();
  }
}

describe('numReturnSequences > 1 without beams on an encoder-decoder (T5)', () => {
  let lm: LanguageModel;
  let model: EncoderDecoderModel;
  beforeAll(async () => {
    lm = await LanguageModel.load(join(FIX, 't5-tiny'), { threads: 1 });
    model = await loadSeq2Seq(join(FIX, 't5-tiny'));
  });
  afterAll(() => {
    lm?.dispose();
    model?.dispose();
  });
  const opts = { numReturnSequences: 3, numBeams: 1, temperature: 1, seed: 1234, maxTokens: 7, ignoreEos: true };

  it('samples n sequences over one encoder pass and shared decoder passes; each is the model\'s own continuation', async () => {
    const s2s = lm.seq2seq!;
    const before = s2s.model.counters;
    const stats = s2s.batchStats;
    const r = await lm.generate(TEXT, opts);
    const after = s2s.model.counters;
    const input = lm.tokenizer.encode(TEXT);
    expect(r.sequences).toHaveLength(3);
    expect(after.encoderPasses - before.encoderPasses).toBe(1);
    expect(after.encodedSequences - before.encodedSequences).toBe(1);
    expect(after.crossKVRows - before.crossKVRows).toBe(input.length);
    // The start token once, then one pass per step for all three: 7, not 3 x 7.
    expect(after.decoderPasses - before.decoderPasses).toBe(opts.maxTokens);
    expect(after.decoderTokens - before.decoderTokens).toBe(1 + 3 * (opts.maxTokens - 1));
    expect((s2s.batchStats.histogram[3] ?? 0) - (stats.histogram[3] ?? 0)).toBe(opts.maxTokens - 1);
    for (const s of r.sequences!) {
      expect(s.ids).toHaveLength(opts.maxTokens);
      expect(s.finishReason).toBe('length');
      expect(s.text).toBe(lm.tokenizer.decode(s.ids, { skipSpecialTokens: true }));
      // The forked caches held each sequence's own rows: its score is the model's on it alone.
      const want = await teacherForcedScore(model, input, s.ids);
      expect(Math.abs(s.score - want)).toBeLessThanOrEqual(TOL_BEAM_SCORE_F32.atol + TOL_BEAM_SCORE_F32.rtol * Math.abs(want));
    }
    expect(r.ids).toEqual(r.sequences![0]!.ids);
    expect(r.text).toBe(r.sequences![0]!.text);
    // Seeded: three different draws here, and the same three again.
    expect(new Set(r.sequences!.map((s) => s.ids.join(','))).size).toBeGreaterThan(1);
    const again = await lm.generate(TEXT, opts);
    expect(again.sequences!.map((s) => s.ids)).toEqual(r.sequences!.map((s) => s.ids));
    expect(model.stateStats().pagesInUse).toBe(0);
    expect(s2s.model.stateStats().pagesInUse).toBe(0);
  });

  it('streams the first sequence as it is sampled; stop strings and EOS end sequences one by one', async () => {
    const st = lm.stream(TEXT, opts);
    const tokens: number[] = [];
    for await (const c of st) tokens.push(c.token);
    const r = await st.result;
    expect(tokens).toEqual(r.sequences![0]!.ids);
    // EOS allowed: each sequence ends on its own (the ids exclude the EOS that ended it).
    const free = await lm.generate(TEXT, { ...opts, ignoreEos: false, maxTokens: 12, seed: 99 });
    for (const s of free.sequences!) {
      expect(['eos', 'length']).toContain(s.finishReason);
      expect(s.ids.length).toBeLessThanOrEqual(12);
    }
  });

  it('refuses greedy n > 1 with a RangeError naming temperature', async () => {
    await expect(lm.generate(TEXT, { ...opts, temperature: 0 })).rejects.toThrow(/'numReturnSequences' = 3 without beams .*'temperature' > 0/);
  });

  it('an aborted request ends every sequence', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await lm.generate(TEXT, { ...opts, signal: ac.signal });
    expect(r.finishReason).toBe('aborted');
    expect(r.sequences!.map((s) => s.finishReason)).toEqual(['aborted', 'aborted', 'aborted']);
  });
});

describe('numReturnSequences > 1 without beams on a decoder (Llama)', () => {
  it('samples n continuations of one prompt pass, reproducibly', async () => {
    const lm = await LanguageModel.load(join(FIX, 'llama-k256'), { threads: 1 });
    try {
      const o = { numReturnSequences: 2, temperature: 1, seed: 5, maxTokens: 6, ignoreEos: true };
      const r = await lm.generate('Hello', o);
      expect(r.sequences).toHaveLength(2);
      for (const s of r.sequences!) expect(s.ids).toHaveLength(6);
      expect((await lm.generate('Hello', o)).sequences!.map((s) => s.ids)).toEqual(r.sequences!.map((s) => s.ids));
      expect(r.ids).toEqual(r.sequences![0]!.ids);
      expect(lm.model.model.states.stats().pagesInUse).toBe(0);
    } finally {
      lm.dispose();
    }
  });
});
