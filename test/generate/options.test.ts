// Generation options through every path: LanguageModel in-process, the pool's worker, and the
// HTTP server over that pool, with the default model; plus the validator's errors on each path.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LanguageModel } from '../../ts/generate/model.js';
import { GENERATE_OPTION_NAMES, type GenerateOptions } from '../../ts/generate/options.js';
// The compiled pool and server (dist/, built by the global setup): workers load JavaScript.
import { createPool, type InferencePool, type RequestOptions } from '../../dist/scheduler/pool.js';
import { createServer } from '../../dist/server/server.js';

const PROMPT = 'The secret of life is';
const EOS = 50256;
/** Sampled, long enough to be changed by every option, and never cut short by end-of-text. */
const BASE = { seed: 11, temperature: 0.9, maxTokens: 12, ignoreEos: true } as const;
const BASE_BODY = { seed: 11, temperature: 0.9, max_tokens: 12, ignore_eos: true } as const;

let lm: LanguageModel;
let pool: InferencePool;
let app: ReturnType<typeof createServer>;
let base: string;

beforeAll(async () => {
  // One kernel thread here as in the worker, so both run the very same arithmetic.
  lm = await LanguageModel.load(undefined, { threads: 1 });
  pool = createPool({ workers: 1, threadsPerWorker: 1 });
  app = createServer({ pool, modelName: 'default' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
  lm?.dispose();
});

interface Completion {
  status: number;
  text: string;
  tokens: number;
  finish: string | null;
  error?: { message: string; param: string | null };
}

async function complete(body: Record<string, unknown>): Promise<Completion> {
  const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: PROMPT, ...body }) });
  const j = (await res.json()) as { choices?: { text: string; finish_reason: string | null }[]; usage?: { completion_tokens: number }; error?: Completion['error'] };
  return { status: res.status, text: j.choices?.[0]?.text ?? '', tokens: j.usage?.completion_tokens ?? -1, finish: j.choices?.[0]?.finish_reason ?? null, error: j.error };
}

/** One option, as LanguageModel and the pool take it and (when the server has the field) as a body field. */
interface Case {
  name: string;
  options: RequestOptions;
  body?: Record<string, unknown>;
}

/** The cases, some built from the base run's tokens (which token to ban, which text to stop at). */
function cases(baseIds: readonly number[], baseText: string): Case[] {
  const first = baseIds[0]!;
  const word = baseIds.map((id) => lm.tokenizer.decode([id]).trim()).find((w) => /^[A-Za-z]+$/.test(w))!;
  const stop = baseText.slice(10, 13);
  const forced = lm.tokenizer.encode(' once more');
  return [
    { name: 'maxTokens', options: { maxTokens: 5 }, body: { max_tokens: 5 } },
    { name: 'seed', options: { seed: 12 }, body: { seed: 12 } },
    { name: 'temperature', options: { temperature: 0 }, body: { temperature: 0 } },
    { name: 'topK', options: { topK: 1 }, body: { top_k: 1 } },
    { name: 'topP', options: { topP: 0.3 }, body: { top_p: 0.3 } },
    { name: 'minP', options: { minP: 0.3 }, body: { min_p: 0.3 } },
    { name: 'typicalP', options: { typicalP: 0.2 }, body: { typical_p: 0.2 } },
    { name: 'repetitionPenalty', options: { repetitionPenalty: 3 }, body: { repetition_penalty: 3 } },
    { name: 'presencePenalty', options: { presencePenalty: 2 }, body: { presence_penalty: 2 } },
    { name: 'frequencyPenalty', options: { frequencyPenalty: 2 }, body: { frequency_penalty: 2 } },
    { name: 'noRepeatNgramSize', options: { noRepeatNgramSize: 1 }, body: { no_repeat_ngram_size: 1 } },
    // A Map in-process and through the pool (it survives the structured clone), a record over HTTP.
    { name: 'logitBias', options: { logitBias: new Map([[first, -100]]) }, body: { logit_bias: { [first]: -100 } } },
    { name: 'stop', options: { stop: [stop] }, body: { stop } },
    { name: 'badWords', options: { badWords: [word] }, body: { bad_words: [word] } },
    { name: 'ignoreEos', options: { ignoreEos: false, logitBias: { [EOS]: 100 } }, body: { ignore_eos: false, logit_bias: { [EOS]: 100 } } },
    { name: 'badWordIds', options: { badWordIds: [[first]] } },
    { name: 'forcedTokens', options: { forcedTokens: forced } },
    { name: 'eosTokenIds', options: { ignoreEos: false, eosTokenIds: [baseIds[3]!] } },
    { name: 'numBeams', options: { numBeams: 3 }, body: { num_beams: 3 } },
    // The next three change a search: compared with the sampled base run here, and with a
    // search without them in their own test below.
    { name: 'lengthPenalty', options: { numBeams: 3, lengthPenalty: -3 }, body: { num_beams: 3, length_penalty: -3 } },
    { name: 'earlyStopping', options: { numBeams: 3, earlyStopping: true }, body: { num_beams: 3, early_stopping: true } },
    { name: 'numReturnSequences', options: { numBeams: 3, numReturnSequences: 2 } },
    { name: 'minNewTokens', options: { ignoreEos: false, logitBias: { [EOS]: 100 }, minNewTokens: 3 }, body: { ignore_eos: false, logit_bias: { [EOS]: 100 }, min_tokens: 3 } },
  ];
}

describe('generation options on every path', () => {
  it('the same options give the same tokens in-process, through the pool and over HTTP, and each one changes them', async () => {
    const ref = await lm.generate(PROMPT, BASE);
    expect(ref.ids).toHaveLength(12);
    const viaPool = await pool.generate(PROMPT, BASE);
    expect(viaPool.ids).toEqual(ref.ids);
    const viaHttp = await complete(BASE_BODY);
    expect([viaHttp.text, viaHttp.tokens]).toEqual([ref.text, 12]);

    const list = cases(ref.ids, ref.text);
    // Every option that changes the tokens has a case (logprobs and signal have their own tests,
    // processors cannot cross to a worker thread, maxNewTokens is maxTokens' alias).
    const covered = new Set(list.map((c) => c.name));
    expect(GENERATE_OPTION_NAMES.filter((n) => !covered.has(n))).toEqual(['processors', 'maxNewTokens', 'logprobs', 'signal']);
    for (const c of list) {
      const options = { ...BASE, ...c.options };
      const m = await lm.generate(PROMPT, options as GenerateOptions);
      expect(m.ids, `${c.name} changes the tokens`).not.toEqual(ref.ids);
      const p = await pool.generate(PROMPT, options);
      expect([p.ids, p.text, p.finishReason], `${c.name} through the pool`).toEqual([m.ids, m.text, m.finishReason]);
      if (c.body) {
        const h = await complete({ ...BASE_BODY, ...c.body });
        expect([h.status, h.text, h.tokens], `${c.name} over HTTP`).toEqual([200, m.text, m.ids.length]);
      }
    }
    const byName = new Map(list.map((c) => [c.name, c]));
    // The options whose effect is exact:
    expect((await pool.generate(PROMPT, { ...BASE, ...byName.get('maxTokens')!.options })).ids).toHaveLength(5);
    expect((await pool.generate(PROMPT, { ...BASE, ...byName.get('topK')!.options })).ids).toEqual((await lm.generate(PROMPT, { ...BASE, temperature: 0 })).ids);
    expect((await pool.generate(PROMPT, { ...BASE, ...byName.get('ignoreEos')!.options })).finishReason).toBe('eos');
    expect((await pool.generate(PROMPT, { ...BASE, ...byName.get('stop')!.options })).finishReason).toBe('stop');
    expect((await complete({ ...BASE_BODY, ...byName.get('stop')!.body })).finish).toBe('stop');
    const forced = lm.tokenizer.encode(' once more');
    expect((await pool.generate(PROMPT, { ...BASE, forcedTokens: forced })).ids.slice(0, forced.length)).toEqual(forced);
    const noRepeat = await pool.generate(PROMPT, { ...BASE, noRepeatNgramSize: 1 });
    expect(new Set([...lm.tokenizer.encode(PROMPT), ...noRepeat.ids]).size).toBe(lm.tokenizer.encode(PROMPT).length + noRepeat.ids.length);
  });

  it('beam options through the pool and over HTTP, each changing the search', async () => {
    const beams = { maxTokens: 12, numBeams: 4, eosTokenIds: [EOS] } as const;
    const ref = await lm.generate(PROMPT, beams);
    const lp = await lm.generate(PROMPT, { ...beams, ignoreEos: false, logitBias: { [EOS]: 3 }, lengthPenalty: -2 });
    const lp0 = await lm.generate(PROMPT, { ...beams, ignoreEos: false, logitBias: { [EOS]: 3 } });
    expect(lp.ids).not.toEqual(lp0.ids); // a negative penalty favours the short hypotheses
    expect(lp.ids.length).toBeLessThan(lp0.ids.length);
    const many = await pool.generate(PROMPT, { ...beams, numReturnSequences: 3 });
    expect(many.text).toBe(ref.text);
    expect(many.sequences?.map((q) => q.ids)).toHaveLength(3);
    const h = await complete({ max_tokens: 12, num_beams: 4 });
    expect([h.status, h.text]).toEqual([200, ref.text]);
    expect((await complete({ num_beams: 2, early_stopping: 'sometimes' })).status).toBe(400);
  });

  it('logprobs come back through the pool as in-process', async () => {
    const m = await lm.generate(PROMPT, { ...BASE, logprobs: true });
    const p = await pool.generate(PROMPT, { ...BASE, logprobs: true });
    expect(m.logprobs).toHaveLength(12);
    expect(p.logprobs).toEqual(m.logprobs);
  });

  it('maxTokens: 12 generates exactly 12 tokens; the deprecated maxNewTokens still works', async () => {
    expect((await lm.generate(PROMPT, { maxTokens: 12, ignoreEos: true })).ids).toHaveLength(12);
    expect((await lm.generate(PROMPT, { maxNewTokens: 7, ignoreEos: true })).ids).toHaveLength(7);
    expect((await pool.generate(PROMPT, { maxNewTokens: 7, ignoreEos: true })).ids).toHaveLength(7);
    await expect(lm.generate(PROMPT, { maxTokens: 3, maxNewTokens: 3 })).rejects.toThrow(/'maxTokens' or its deprecated alias 'maxNewTokens', not both/);
    await expect(lm.generate(PROMPT, { maxNewTokens: -1 })).rejects.toThrow(/'maxNewTokens' must be an integer >= 0, got -1/);
  });
});

describe('option errors', () => {
  const misspelled = { maxToken: 12 } as unknown as GenerateOptions;

  it('an unknown option is a TypeError naming it and the closest known name, on every path', async () => {
    await expect(lm.generate(PROMPT, misspelled)).rejects.toThrow(TypeError);
    await expect(lm.generate(PROMPT, misspelled)).rejects.toThrow("unknown generation option 'maxToken'; did you mean 'maxTokens'?");
    expect(() => lm.stream(PROMPT, misspelled)).toThrow(/'maxToken'/);
    await expect(lm.generate(PROMPT, { max_tokens: 3 } as unknown as GenerateOptions)).rejects.toThrow(/did you mean 'maxTokens'/);
    await expect(lm.generate(PROMPT, { bogus: 1 } as unknown as GenerateOptions)).rejects.toThrow(/^unknown generation option 'bogus'$/);
    const before = pool.metrics();
    await expect(pool.generate(PROMPT, misspelled)).rejects.toThrow(TypeError);
    await expect(pool.generate(PROMPT, misspelled)).rejects.toThrow(/'maxToken'; did you mean 'maxTokens'/);
    await expect(pool.generate(PROMPT, { priorty: 1 } as unknown as RequestOptions)).rejects.toThrow(/did you mean 'priority'/);
    const processors = [{ name: 'x', process: () => undefined }];
    await expect(pool.generate(PROMPT, { processors } as unknown as RequestOptions)).rejects.toThrow(/'processors' is not accepted here/);
    // Rejected at submit time: nothing was queued, run or failed.
    const after = pool.metrics();
    expect([after.completed, after.failed, after.queueDepth]).toEqual([before.completed, before.failed, 0]);
  });

  it.each([
    ['temperature', -1, /'temperature' must be a finite number >= 0, got -1/],
    ['topK', 1.5, /'topK' must be an integer >= 0, got 1.5/],
    ['topP', 0, /'topP' must be a number in \(0, 1\], got 0/],
    ['minP', 2, /'minP' must be a number in \[0, 1\], got 2/],
    ['typicalP', 1.5, /'typicalP' must be a number in \(0, 1\], got 1.5/],
    ['repetitionPenalty', 0, /'repetitionPenalty' must be a finite number > 0, got 0/],
    ['presencePenalty', Infinity, /'presencePenalty' must be a finite number, got Infinity/],
    ['frequencyPenalty', Number.NaN, /'frequencyPenalty' must be a finite number, got NaN/],
    ['noRepeatNgramSize', -1, /'noRepeatNgramSize' must be an integer >= 0, got -1/],
    ['seed', 2 ** 53, /'seed' must be an integer in \[0, 2\^53\)/],
    ['maxTokens', -1, /'maxTokens' must be an integer >= 0, got -1/],
    ['logitBias', { 5: Number.NaN }, /'logitBias\[5\]' must be a finite number or -Infinity, got NaN/],
    ['logitBias', { x: 1 }, /'logitBias' keys must be token ids \(integers >= 0\), got 'x'/],
    ['logitBias', { 60000: 1 }, /'logitBias' key must be a token id in \[0, 50257\), got 60000/],
    ['eosTokenIds', [60000], /'eosTokenIds' entries must be ids in \[0, 50257\)/],
    ['stop', [''], /'stop' entries must be non-empty strings/],
  ] as const)('%s = %o is a RangeError naming the option and its range', async (name, value, message) => {
    const options = { [name]: value } as GenerateOptions;
    await expect(lm.generate(PROMPT, options)).rejects.toThrow(RangeError);
    await expect(lm.generate(PROMPT, options)).rejects.toThrow(message);
    await expect(pool.generate(PROMPT, options)).rejects.toThrow(message);
  });

  it.each([
    ['temperature', '0.5', /'temperature' must be a finite number >= 0, got '0.5'/],
    ['stop', '\n', /'stop' must be an array of non-empty strings/],
    ['ignoreEos', 'yes', /'ignoreEos' must be a boolean, got 'yes'/],
    ['logitBias', [1, 2], /'logitBias' must be a Map or record of token id -> bias/],
    ['signal', {}, /'signal' must be an AbortSignal/],
  ] as const)('%s = %o is a TypeError naming the option', async (name, value, message) => {
    const options = { [name]: value } as unknown as GenerateOptions;
    await expect(lm.generate(PROMPT, options)).rejects.toThrow(TypeError);
    await expect(lm.generate(PROMPT, options)).rejects.toThrow(message);
    await expect(pool.generate(PROMPT, options)).rejects.toThrow(message);
  });

  it.each([
    [{ temperature: -1 }, 'temperature', /temperature must be >= 0/],
    [{ typical_p: 0 }, 'typical_p', /typical_p must be > 0/],
    [{ no_repeat_ngram_size: 1.5 }, 'no_repeat_ngram_size', /no_repeat_ngram_size must be integer/],
    [{ ignore_eos: 'yes' }, 'ignore_eos', /ignore_eos must be boolean/],
    [{ logit_bias: { x: 1 } }, 'logit_bias', /logit_bias/],
    [{ logit_bias: { 5: 101 } }, 'logit_bias', /logit_bias\/5 must be <= 100/],
    [{ max_token: 5 }, 'max_token', /additional properties: 'max_token'; did you mean 'max_tokens'\?/],
    // Past the schema, caught by the generation loop and reported under the field's name:
    [{ logit_bias: { 60000: 1 } }, 'logit_bias', /'logit_bias' key must be a token id in \[0, 50257\), got 60000/],
  ])('the server answers 400 naming the field: %o', async (body, field, message) => {
    const r = await complete(body);
    expect(r.status).toBe(400);
    expect(r.error!.message).toMatch(message);
    expect(r.error!.param).toBe(field);
  });
});
