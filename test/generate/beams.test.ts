// Beam search through the public paths: options refused or checked with errors naming them, one
// shared pass per step, abort within a step, LanguageModel.generate / stream from text (the
// batcher's stepper gives the same beams as DecoderModel.generate), and host state (reference backend).

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DecoderModel } from '../../ts/models/model.js';
import { LanguageModel } from '../../ts/generate/model.js';
import type { LogitsProcessor } from '../../ts/generate/processors.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'models');
const PROMPT = [11, 42, 7, 99, 3];
const BEAMS = { numBeams: 4, numReturnSequences: 2, maxNewTokens: 10, eosTokenIds: [5] };

describe('DecoderModel.generate', () => {
  let model: DecoderModel;
  beforeAll(async () => {
    model = await loadModel(join(FIX, 'gpt2-tiny-trained'), { kind: 'decoder' });
  });
  afterAll(() => model?.dispose());

  it('names the option that is wrong', async () => {
    await expect(model.generate(PROMPT, { numBeams: 0 })).rejects.toThrow(/'numBeams' must be an integer >= 1, got 0/);
    await expect(model.generate(PROMPT, { numBeams: 2, numReturnSequences: 3 })).rejects.toThrow(/'numReturnSequences' must be at most 'numBeams' \(2\), got 3/);
    await expect(model.generate(PROMPT, { earlyStopping: 'sometimes' as never })).rejects.toThrow(/'earlyStopping' must be true, false or 'never'/);
    await expect(model.generate(PROMPT, { lengthPenalty: NaN })).rejects.toThrow(/'lengthPenalty' must be a finite number/);
    await expect(model.generate(PROMPT, { numBeams: 4, topK: 5 })).rejects.toThrow(/'topK' is not accepted here/);
    await expect(model.generate(PROMPT, { numBeams: 4, maxNewTokens: 2, minNewTokens: 3 })).rejects.toThrow(/'minNewTokens' \(3\) must be at most 'maxTokens' \(2\)/);
    await expect(model.generate(PROMPT, { numBeams: 17, maxNewTokens: 4 })).rejects.toThrow(/'numBeams' \(17\) must be at most the model's maxBatch \(16\)/);
    await expect(model.generate([300], { numBeams: 2 })).rejects.toThrow(/'inputIds'\[0\] = 300 is outside \[0, 256\)/);
    await expect(model.generate(PROMPT, { numBeams: 2, maxNewTokens: 64 })).rejects.toThrow(/'maxTokens' 64 exceed the 64 positions/);
    await expect(model.generate(PROMPT, { numBeam: 2 } as never)).rejects.toThrow(/unknown generation option 'numBeam'; did you mean 'numBeams'/);
    expect(model.stateStats().pagesInUse).toBe(0);
  });

  it('runs one pass of all beams per step', async () => {
    const calls: number[] = [];
    const original = model.forwardBatch.bind(model);
    model.forwardBatch = (items) => {
      calls.push(items.length);
      return original(items);
    };
    try {
      const r = await model.generate(PROMPT, { ...BEAMS, eosTokenIds: [] });
      expect(r.steps).toBe(9);
      expect(calls).toEqual(Array(9).fill(4));
      expect(r.sequences).toHaveLength(2);
      expect(r.sequences[0]!.score).toBeGreaterThanOrEqual(r.sequences[1]!.score);
    } finally {
      model.forwardBatch = original;
    }
  });

  it('numBeams 1 is greedy: the arg-max of each step', async () => {
    const r = await model.generate(PROMPT, { maxNewTokens: 6, eosTokenIds: [] });
    const ids = [...PROMPT];
    for (let i = 0; i < 6; i++) {
      const l = await model.forward(ids);
      ids.push(l.indexOf(Math.max(...l)));
    }
    expect(r.sequences[0]!.ids).toEqual(ids.slice(PROMPT.length));
  });

  it('stops within a step when the signal aborts, freeing every beam', async () => {
    const ac = new AbortController();
    let seen = 0;
    // Aborts while the third step's candidates are scored (4 beams per step).
    const tripwire: LogitsProcessor = { name: 'tripwire', process: () => void (++seen === 9 && ac.abort(new Error('stop now'))) };
    const calls: number[] = [];
    const original = model.forwardBatch.bind(model);
    model.forwardBatch = (items) => {
      calls.push(items.length);
      return original(items);
    };
    try {
      await expect(model.generate(PROMPT, { ...BEAMS, processors: [tripwire], signal: ac.signal })).rejects.toThrow('stop now');
    } finally {
      model.forwardBatch = original;
    }
    // Steps 1 and 2 were fed back; the aborted step 3 ran no pass.
    expect(calls).toEqual([4, 4]);
    expect(model.stateStats().pagesInUse).toBe(0);
  });
});

describe('beams on host state (reference backend)', () => {
  it('equal the native backend', async () => {
    const ref = await loadModel(join(FIX, 'llama-tiny-trained'), { kind: 'decoder', backend: 'reference' });
    const nat = await loadModel(join(FIX, 'llama-tiny-trained'), { kind: 'decoder' });
    try {
      const a = await ref.generate(PROMPT, { ...BEAMS, maxNewTokens: 6 });
      const b = await nat.generate(PROMPT, { ...BEAMS, maxNewTokens: 6 });
      expect(a.sequences.map((s) => s.ids)).toEqual(b.sequences.map((s) => s.ids));
    } finally {
      ref.dispose();
      nat.dispose();
    }
  });
});

describe('LanguageModel with numBeams', () => {
  let lm: LanguageModel;
  beforeAll(async () => {
    lm = await LanguageModel.load();
  });
  afterAll(() => lm?.dispose());

  it('gives the beams DecoderModel.generate gives, the best as text, the beams sharing passes', async () => {
    const prompt = 'The old man said';
    const o = { numBeams: 4, numReturnSequences: 3, maxTokens: 12, lengthPenalty: 1.2 };
    const before = lm.model.batchStats.histogram[4] ?? 0;
    const r = await lm.generate(prompt, o);
    const direct = await lm.model.model.generate(lm.tokenizer.encode(prompt), { ...o, eosTokenIds: [...lm.model.eosTokenIds] });
    expect(r.sequences!.map((s) => s.ids)).toEqual(direct.sequences.map((s) => s.ids));
    r.sequences!.forEach((s, i) => expect(s.score).toBe(direct.sequences[i]!.score));
    expect(r.ids).toEqual(direct.sequences[0]!.ids);
    expect(r.text).toBe(lm.tokenizer.decode(r.ids));
    expect(r.sequences![0]!.text).toBe(r.text);
    // Every decode step of the search ran its 4 beams in one pass.
    expect((lm.model.batchStats.histogram[4] ?? 0) - before).toBe(direct.steps);
  });

  it('stream emits the final best hypothesis', async () => {
    const o = { numBeams: 3, maxTokens: 8 };
    const s = lm.stream('Once upon a time', o);
    let text = '';
    for await (const c of s) text += c.text;
    const r = await s.result;
    expect(text).toBe(r.text);
    expect(r.text).toBe((await lm.generate('Once upon a time', o)).text);
  });

  it('refuses what beams cannot honour, naming it', async () => {
    await expect(lm.generate('hi', { numBeams: 2, stop: ['.'] })).rejects.toThrow(/'stop' is not accepted with 'numBeams' > 1/);
    await expect(lm.generate('hi', { numBeams: 2, logprobs: true })).rejects.toThrow(/'logprobs' is not accepted with 'numBeams' > 1/);
  });

  it('an aborted request ends with finishReason aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await lm.generate('hi', { numBeams: 2, signal: ac.signal });
    expect(r.finishReason).toBe('aborted');
    expect(r.ids).toEqual([]);
  });
});
