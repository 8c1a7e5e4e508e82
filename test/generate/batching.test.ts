// Continuous batching in DecoderLM on the default model: concurrent streams get exactly the
// tokens they get alone, they share one forward pass per step, prompts longer than a pass are
// split without stalling the decoders, and one call's error fails only that call.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GenerateOptions, GenerationResult } from '../../ts/generate/generate.js';
import { LanguageModel } from '../../ts/generate/model.js';
import type { DecoderLM } from '../../ts/generate/decoder-lm.js';

/** Different prompts, seeds, samplers and lengths; some may end early at end-of-text. */
const REQUESTS: { prompt: string; options: GenerateOptions }[] = [
  { prompt: 'Once upon a time', options: { seed: 1, temperature: 0.9, topK: 40, maxTokens: 20, ignoreEos: true } },
  { prompt: 'A computer is', options: { seed: 2, temperature: 0, maxTokens: 5 } },
  { prompt: 'The secret of life is that nobody ever', options: { seed: 3, temperature: 1.2, topP: 0.9, maxTokens: 13, ignoreEos: true } },
  { prompt: 'Q:', options: { seed: 4, temperature: 0.7, repetitionPenalty: 1.3, maxTokens: 30, ignoreEos: true } },
  { prompt: 'You will be', options: { seed: 5, temperature: 0.8, minP: 0.05, maxTokens: 9 } },
  { prompt: 'Fortune 6:', options: { seed: 6, temperature: 1, maxTokens: 17, logprobs: true } },
];

/** The forward passes a DecoderLM ran during `work`. */
async function passesDuring(lm: DecoderLM, work: () => Promise<unknown>): Promise<{ passes: number; sequences: number; histogram: number[] }> {
  const before = lm.batchStats;
  await work();
  const after = lm.batchStats;
  return {
    passes: after.passes - before.passes,
    sequences: after.sequences - before.sequences,
    histogram: after.histogram.map((n, i) => n - (before.histogram[i] ?? 0)),
  };
}

describe('continuous batching (DecoderLM)', () => {
  let lm: LanguageModel;
  let serial: LanguageModel;
  let alone: GenerationResult[];
  beforeAll(async () => {
    lm = await LanguageModel.load();
    serial = await LanguageModel.load(undefined, { batching: false });
    alone = [];
    for (const r of REQUESTS) alone.push(await lm.generate(r.prompt, r.options));
  });
  afterAll(() => {
    lm?.dispose();
    serial?.dispose();
  });
  afterEach(() => vi.restoreAllMocks());

  it('is on by default, and off on request', () => {
    expect(lm.model.batching).toBe(true);
    expect(lm.model.maxBatchTokens).toBe(128);
    expect(serial.model.batching).toBe(false);
  });

  it('gives every concurrent stream exactly the tokens it gets alone', async () => {
    expect(alone.map((r) => r.ids.length)).toEqual(alone.map((r, i) => (r.finishReason === 'eos' ? r.ids.length : REQUESTS[i]!.options.maxTokens)));
    const stats = await passesDuring(lm.model, async () => {
      const together = await Promise.all(REQUESTS.map((r) => lm.generate(r.prompt, r.options)));
      together.forEach((r, i) => {
        expect(r.ids).toEqual(alone[i]!.ids);
        expect(r.text).toBe(alone[i]!.text);
        expect(r.finishReason).toBe(alone[i]!.finishReason);
      });
      expect(together[5]!.logprobs).toEqual(alone[5]!.logprobs);
    });
    expect(stats.sequences / stats.passes).toBeGreaterThan(2);
    // and the same without batching (requests interleaved one pass each)
    const interleaved = await Promise.all(REQUESTS.map((r) => serial.generate(r.prompt, r.options)));
    interleaved.forEach((r, i) => expect(r.ids).toEqual(alone[i]!.ids));
  });

  it('lets requests join running ones at the next step, with the tokens they get alone', async () => {
    // Request i starts once request 0 has streamed 3 * i tokens: each joins a batch mid-flight.
    const results: Promise<GenerationResult>[] = [];
    const first = lm.stream(REQUESTS[0]!.prompt, REQUESTS[0]!.options);
    let streamed = 0;
    for await (const _chunk of first) {
      streamed++;
      const i = streamed / 3;
      if (Number.isInteger(i) && i < REQUESTS.length) results.push(lm.generate(REQUESTS[i]!.prompt, REQUESTS[i]!.options));
    }
    expect((await first.result).ids).toEqual(alone[0]!.ids);
    const rest = await Promise.all(results);
    expect(rest).toHaveLength(REQUESTS.length - 1);
    rest.forEach((r, i) => expect(r.ids).toEqual(alone[i + 1]!.ids));
  });

  it('runs K concurrent requests in as many passes as the longest one has steps', async () => {
    const K = 6;
    const STEPS = 16; // 1 prefill + 15 decode steps per request
    const run = (m: LanguageModel) => () => Promise.all(Array.from({ length: K }, (_, i) => m.generate(`Fortune ${i}:`, { seed: i, maxTokens: STEPS, ignoreEos: true })));
    const passes = vi.spyOn(lm.model.model, 'forwardBatch');
    const single = vi.spyOn(lm.model.model, 'forward');
    const batched = await passesDuring(lm.model, run(lm));
    expect(passes).toHaveBeenCalledTimes(STEPS);
    for (const [items] of passes.mock.calls) expect(items).toHaveLength(K);
    expect(single).not.toHaveBeenCalled();
    expect(batched.sequences).toBe(K * STEPS);
    expect(batched.passes).toBe(STEPS);
    expect(batched.histogram[K]).toBe(STEPS);
    const interleaved = await passesDuring(serial.model, run(serial));
    expect(interleaved.passes).toBe(K * STEPS);
    expect(interleaved.histogram[1]).toBe(K * STEPS);
  });

  it("seats at most the model's maxBatch sequences in a pass; the others take the next one", async () => {
    const K = 20;
    const seats = lm.model.model.maxBatch;
    expect(seats).toBeLessThan(K);
    const opts = (i: number): GenerateOptions => ({ seed: 100 + i, temperature: 0.9, maxTokens: 5, ignoreEos: true });
    const solo: number[][] = [];
    for (let i = 0; i < K; i++) solo.push((await lm.generate(`Fortune ${i}:`, opts(i))).ids);
    const passes = vi.spyOn(lm.model.model, 'forwardBatch');
    const together = await Promise.all(Array.from({ length: K }, (_, i) => lm.generate(`Fortune ${i}:`, opts(i))));
    together.forEach((r, i) => expect(r.ids).toEqual(solo[i]));
    const sizes = passes.mock.calls.map(([items]) => items.length);
    expect(Math.max(...sizes)).toBe(seats);
    expect(sizes.reduce((a, n) => a + n, 0)).toBe(K * 5);
    expect(sizes.length).toBeLessThan(K);
  });

  it('splits a prompt longer than maxBatchTokens across passes while the others keep decoding', async () => {
    const small = await LanguageModel.load(undefined, { maxBatchTokens: 8 });
    try {
      const long = 'The secret of life is that nobody ever tells you anything about it, and so you have to find it out yourself, one fortune at a time.';
      const longIds = small.tokenizer.encode(long);
      expect(longIds.length).toBeGreaterThan(24);
      const opts: GenerateOptions = { seed: 10, temperature: 0.8, maxTokens: 6, ignoreEos: true };
      // The long prompt alone, prefilled in 8-row passes, against one whole pass.
      const whole = await lm.generate(long, opts);
      const split = await small.generate(long, opts);
      expect(split.ids).toEqual(whole.ids);
      // Joining a decoding stream: each pass carries its decode step and 7 rows of the prompt.
      const events: string[] = [];
      let late: Promise<GenerationResult> | undefined;
      const decoder = small.stream('Once upon a time', { seed: 9, maxTokens: 40, ignoreEos: true });
      for await (const _chunk of decoder) {
        events.push('a');
        if (events.length === 2) {
          events.push('start');
          const s = small.stream(long, opts);
          late = (async () => {
            for await (const _c of s) events.push('b');
            return s.result;
          })();
        }
      }
      expect((await late!).ids).toEqual(whole.ids);
      const between = events.slice(events.indexOf('start'), events.indexOf('b')).filter((e) => e === 'a').length;
      expect(between).toBeGreaterThanOrEqual(Math.ceil(longIds.length / 7) - 1);
    } finally {
      small.dispose();
    }
  });

  for (const mode of ['batched', 'interleaved'] as const)
    it(`fails only the call that is bad (${mode}): full cache, bad id, disposed or busy cache`, async () => {
      const d = (mode === 'batched' ? lm : serial).model;
      const prompts = [[464, 2068], [7454, 2402, 257], [40, 1101]];
      const solo: Float32Array[] = [];
      for (const p of prompts) {
        const c = d.newCache();
        solo.push(await d.forward(Int32Array.from(p), c));
        c.dispose();
      }
      const caches = prompts.map(() => d.newCache());
      const full = d.newCache();
      await d.forward(new Int32Array(127).fill(11), full); // 127 of the 128 positions
      const gone = d.newCache();
      const busy = d.newCache();
      let calls: Promise<Float32Array>[] = [];
      const stats = await passesDuring(d, async () => {
        calls = [
          d.forward(Int32Array.from(prompts[0]!), caches[0]!),
          d.forward(Int32Array.of(1, 2), full),
          d.forward(Int32Array.from(prompts[1]!), caches[1]!),
          d.forward(Int32Array.of(50257), d.newCache()),
          d.forward(Int32Array.of(5), gone),
          d.forward(Int32Array.of(6), busy),
          d.forward(Int32Array.of(7), busy),
          d.forward(Int32Array.from(prompts[2]!), caches[2]!),
        ];
        gone.dispose(); // while its call waits for a pass
        await Promise.allSettled(calls);
      });
      const out = await Promise.allSettled(calls);
      const error = (i: number): string => String((out[i] as PromiseRejectedResult).reason);
      expect(out.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
      expect(error(1)).toMatch(/RangeError: forward: 127 cached \+ 2 new tokens exceed 128 positions/);
      expect(error(3)).toMatch(/RangeError: forward: ids\[0\] = 50257 is outside \[0, 50257\)/);
      expect(error(4)).toMatch(/the request cache was disposed/);
      expect(error(6)).toMatch(/this cache already has a forward pass pending/);
      for (const [i, k] of [[0, 0], [2, 1], [7, 2]] as const) expect((out[i] as PromiseFulfilledResult<Float32Array>).value).toEqual(solo[k]);
      expect(caches.map((c) => c.length)).toEqual(prompts.map((p) => p.length));
      // The good calls shared one pass; the failed ones left their caches usable.
      expect(stats.passes).toBe(mode === 'batched' ? 1 : 4);
      expect(stats.sequences).toBe(4);
      await d.forward(Int32Array.of(1), full);
      expect(full.length).toBe(128);
      await d.forward(Int32Array.of(8), busy);
      expect(busy.length).toBe(2);
    });

  it('fails only the call that breaks a pass when the model throws on it (each retried alone)', async () => {
    const d = lm.model;
    const model = d.model;
    const real = model.forwardBatch.bind(model);
    const poisoned = d.newCache();
    const calls = vi.spyOn(model, 'forwardBatch').mockImplementation(async (items) => {
      if (items.some((it) => it.ids[0] === 13)) throw new Error('injected failure');
      return real(items);
    });
    const prompts = [[464, 2068], [7454, 2402, 257]];
    const solo: Float32Array[] = [];
    for (const p of prompts) solo.push(await real([{ ids: p, cache: model.newCache() }]).then((r) => r[0]!));
    calls.mockClear();
    const out = await Promise.allSettled([
      d.forward(Int32Array.from(prompts[0]!), d.newCache()),
      d.forward(Int32Array.of(13, 14), poisoned),
      d.forward(Int32Array.from(prompts[1]!), d.newCache()),
    ]);
    expect(out.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((out[1] as PromiseRejectedResult).reason)).toMatch(/injected failure/);
    expect((out[0] as PromiseFulfilledResult<Float32Array>).value).toEqual(solo[0]);
    expect((out[2] as PromiseFulfilledResult<Float32Array>).value).toEqual(solo[1]);
    // the batch of three, then each alone
    expect(calls.mock.calls.map(([items]) => items.length)).toEqual([3, 1, 1, 1]);
    expect(poisoned.length).toBe(0);
  });

  it('rejects calls still waiting when the model is disposed', async () => {
    const m = await LanguageModel.load();
    const c = m.model.newCache();
    const call = m.model.forward(Int32Array.of(464), c);
    m.dispose();
    await expect(call).rejects.toThrow(/the model was disposed/);
    await expect(m.model.forward(Int32Array.of(464), m.model.newCache())).rejects.toThrow(/the model was disposed/);
  });

  it('checks its options', async () => {
    await expect(LanguageModel.load(undefined, { maxBatchTokens: 0 })).rejects.toThrow(/load: 'maxBatchTokens' must be an integer >= 1, got 0/);
    await expect(LanguageModel.load(undefined, { batching: 'yes' as unknown as boolean })).rejects.toThrow(/load: 'batching' must be a boolean/);
    const big = await LanguageModel.load(undefined, { maxBatchTokens: 100_000 });
    expect(big.model.maxBatchTokens).toBe(128); // at most the rows one pass of the model holds
    big.dispose();
  });
});
