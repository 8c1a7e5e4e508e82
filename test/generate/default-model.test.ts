// The committed default model end to end: English-looking greedy text, seeds reproducible across
// backends, deterministic disposal of native weights, and stable memory over many generations.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LanguageModel, defaultModelPath } from '../../ts/generate/model.js';
// A whole forward pass in f32 through two implementations: the GEMM-level budget covers it.

// A callable gc() without a command-line flag, so RSS is measured on live memory only.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('default model', () => {
  let model: LanguageModel;
  beforeAll(async () => {
    expect(existsSync(defaultModelPath())).toBe(true);
    model = await LanguageModel.load();
  });
  afterAll(() => model?.dispose());

  it('dispose() releases native weight memory at once, without garbage collection', async () => {
    // Weights live in large native blocks that go back to the OS when freed, so RSS drops at
    // dispose() itself; no garbage collection runs between the two readings. This test runs
    // first: once any large block has been freed, glibc raises its mmap threshold and later
    // blocks of that size come from the heap, where free() keeps them mapped.
    const m = await LanguageModel.load();
    const bytes = m.model.weightBytes;
    expect(bytes).toBeGreaterThan(6e6); // the tied 50257 x 128 unembedding alone is 6.8 MB as q8_0
    const loaded = process.memoryUsage().rss;
    m.dispose();
    const freed = loaded - process.memoryUsage().rss;
    expect(m.model.weightBytes).toBe(0);
    // At least the packed unembedding (one 6.8 MB block) goes back to the OS at once; how much of
    // the smaller blocks glibc keeps in its heap varies from run to run.
    expect(freed).toBeGreaterThan(5e6);
    await expect(m.generate('hi', { maxTokens: 1 })).rejects.toThrow(/disposed/);
  });

  it('is a small GPT-2 with the GPT-2 vocabulary and an end-of-text id', () => {
    expect(model.model.model.config).toMatchObject({ architecture: 'gpt2', vocabSize: 50257, maxPositions: 128, hidden: 128, layers: 4, heads: 4 });
    expect(model.model.contextLength).toBe(128);
    expect(model.model.eosTokenIds).toEqual([50256]);
    expect(model.tokenizer.encode('Once upon a time')).toEqual([7454, 2402, 257, 640]);
  });

  it('says plainly that it has no chat template', () => {
    expect(() => model.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/no chat template .*not a chat model/);
  });

  it('continues a prompt with words (greedy)', async () => {
    const r = await model.generate('Once upon a time', { temperature: 0, maxTokens: 24 });
    expect(r.ids.length).toBeGreaterThan(0);
    expect(r.text).not.toContain('\ufffd');
    // mostly letters and spaces: English-looking, not byte soup
    const letters = (r.text.match(/[A-Za-z ]/g) ?? []).length;
    expect(letters / r.text.length).toBeGreaterThan(0.7);
  });

  it('gives the same tokens for the same seed on the native and reference backends', async () => {
    const ref = await LanguageModel.load(defaultModelPath(), { backend: 'reference' });
    try {
      const opts = { seed: 1234, temperature: 0.9, topK: 40, maxTokens: 8, ignoreEos: true };
      const a = await model.generate('The meaning of life is', opts);
      const b = await model.generate('The meaning of life is', opts);
      const c = await ref.generate('The meaning of life is', opts);
      expect(b.ids).toEqual(a.ids);
      expect(c.ids).toEqual(a.ids);
    } finally {
      ref.dispose();
    }
  });

  it('keeps RSS stable over 1,000 consecutive generations', async () => {
    const run = (i: number) => model.generate('A fortune:', { seed: i, maxTokens: 2, topK: 20 });
    for (let i = 0; i < 50; i++) await run(i);
    gc();
    const start = process.memoryUsage().rss;
    let generated = 0;
    for (let i = 50; i < 1050; i++) generated += (await run(i)).ids.length;
    gc();
    const growth = process.memoryUsage().rss - start;
    expect(generated).toBeGreaterThan(1000);
    expect(growth).toBeLessThan(20 * 1024 * 1024);
  }, 300_000);
});
