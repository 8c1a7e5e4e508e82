// Encoder-decoder models (T5, BART, Marian) served: createPool's workers and `attnode serve`'s
// /v1/completions (prompt = the encoder's input; `best_of` / `num_beams` the beam width, `n` the
// beams returned, or without beams that many samples), checked against the in-process model on the same ids, which
// test/seq2seq-{t5,bart,marian}.test.ts check against PyTorch.

import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LanguageModel } from '../dist/generate/model.js';
import { loadSeq2Seq, type EncoderDecoderModel } from '../dist/models/seq2seq.js';
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';
import { createServer } from '../dist/server/server.js';
import { TOL_BEAM_SCORE_F32 } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const TEXTS = ['translate English to German: The house is wonderful.', 'Hello world, this is a test.', 'A third, shorter input.'];

/** Ids past the tokenizer's vocabulary (T5 pads its rows), banned as the text path bans them. */
function textlessBias(lm: LanguageModel, model: EncoderDecoderModel): Record<number, number> {
  const bias: Record<number, number> = {};
  for (let id = lm.tokenizer.vocabSize; id < model.config.vocabSize; id++) bias[id] = -Infinity;
  return bias;
}

describe('createPool on a T5 directory', () => {
  let pool: InferencePool;
  let lm: LanguageModel;
  let model: EncoderDecoderModel;
  let bias: Record<number, number>;
  beforeAll(async () => {
    pool = createPool({ model: join(FIX, 't5-tiny'), workers: 1, threadsPerWorker: 1, maxBatch: 8 });
    lm = await LanguageModel.load(join(FIX, 't5-tiny'), { threads: 1 });
    model = await loadSeq2Seq(join(FIX, 't5-tiny'));
    bias = textlessBias(lm, model);
    await pool.ready();
  });
  afterAll(async () => {
    await pool?.close();
    lm?.dispose();
    model?.dispose();
  });

  it('greedy: the worker gives the model\'s ids for text and for token ids', async () => {
    const ids = lm.tokenizer.encode(TEXTS[1]!);
    const want = await model.generate(ids, { numBeams: 1, maxTokens: 8, ignoreEos: true, logitBias: bias });
    const fromText = await pool.generate(TEXTS[1]!, { temperature: 0, maxTokens: 8, ignoreEos: true });
    const fromIds = await pool.generate(ids, { temperature: 0, maxTokens: 8, ignoreEos: true });
    expect(fromText.ids).toEqual(want.sequences[0]!.ids);
    expect(fromIds.ids).toEqual(want.sequences[0]!.ids);
    expect(fromText.text).toBe(lm.tokenizer.decode(fromText.ids));
    expect(fromText.promptTokens).toBe(ids.length);
    expect(fromText.finishReason).toBe('length');
  });

  it('beams: 4 beams, 2 returned, ids and scores as the model\'s, best first', async () => {
    const o = { numBeams: 4, numReturnSequences: 2, maxTokens: 6, lengthPenalty: 1.2 };
    const ids = lm.tokenizer.encode(TEXTS[0]!);
    const want = await model.generate(ids, { ...o, logitBias: bias });
    const r = await pool.generate(TEXTS[0]!, o);
    expect(r.sequences!.map((s) => s.ids)).toEqual(want.sequences.map((s) => s.ids));
    r.sequences!.forEach((s, i) => expect(Math.abs(s.score - want.sequences[i]!.score)).toBeLessThanOrEqual(TOL_BEAM_SCORE_F32.atol + TOL_BEAM_SCORE_F32.rtol * Math.abs(want.sequences[i]!.score)));
    expect(r.ids).toEqual(r.sequences![0]!.ids);
    expect(r.text).toBe(r.sequences![0]!.text);
  });

  it('concurrent greedy and beam requests give what they give alone, and share decoder passes', async () => {
    const greedy = { temperature: 0, maxTokens: 6, ignoreEos: true };
    const beams = { numBeams: 3, numReturnSequences: 2, maxTokens: 5 };
    const alone = [await pool.generate(TEXTS[0]!, greedy), await pool.generate(TEXTS[1]!, beams), await pool.generate(TEXTS[2]!, greedy)];
    const before = pool.metrics().batch;
    const together = await Promise.all([pool.generate(TEXTS[0]!, greedy), pool.generate(TEXTS[1]!, beams), pool.generate(TEXTS[2]!, greedy)]);
    expect(together.map((r) => r.ids)).toEqual(alone.map((r) => r.ids));
    expect(together[1]!.sequences!.map((s) => s.ids)).toEqual(alone[1]!.sequences!.map((s) => s.ids));
    const after = pool.metrics().batch;
    // Some pass carried more than one request's rows: passes of 2+ sequences beyond a lone beam search's 3.
    const shared = after.histogram.reduce((a, n, k) => a + (k > 3 ? n - (before.histogram[k] ?? 0) : 0), 0);
    expect(shared).toBeGreaterThan(0);
  });

  it('streams with beams: the best hypothesis, final, token by token; greedy streams as generated', async () => {
    const o = { numBeams: 4, numReturnSequences: 2, maxTokens: 6 };
    const s = pool.stream(TEXTS[0]!, o);
    const tokens: number[] = [];
    let text = '';
    for await (const c of s) {
      tokens.push(c.token);
      text += c.text;
    }
    const r = await s.result;
    expect(tokens).toEqual(r.sequences![0]!.ids);
    expect(text).toBe(r.sequences![0]!.text);
    const g = pool.stream(TEXTS[1]!, { temperature: 0, maxTokens: 5, ignoreEos: true });
    let gText = '';
    for await (const c of g) gText += c.text;
    expect(gText).toBe((await g.result).text);
  });

  it('reports an encoder-decoder (its HF class) and refuses encoder tasks naming it', async () => {
    expect(await pool.modelInfo()).toEqual({ kind: 'encoder-decoder', architecture: 'T5ForConditionalGeneration' });
    await expect(pool.embed(['a'])).rejects.toThrow(/serves an encoder-decoder \(T5ForConditionalGeneration\); embed needs an encoder model \(BERT-like\), which an encoder-decoder is not/);
  });

  it('refuses bad beam options before they queue, naming the option', async () => {
    await expect(pool.generate(TEXTS[0]!, { numBeams: 2, numReturnSequences: 3 })).rejects.toThrow(/numReturnSequences/);
    await expect(pool.generate(TEXTS[0]!, { numBeams: 0 })).rejects.toThrow(/numBeams/);
  });
});

interface Choice { text: string; index: number; finish_reason: string | null }

for (const fixture of ['t5-tiny', 'bart-tiny', 'marian-tiny'] as const) {
  describe(`/v1/completions on ${fixture}`, () => {
    let pool: InferencePool;
    let app: ReturnType<typeof createServer>;
    let base: string;
    let lm: LanguageModel;
    beforeAll(async () => {
      pool = createPool({ model: join(FIX, fixture), workers: 1, threadsPerWorker: 1 });
      app = createServer({ pool, modelName: fixture });
      await app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      lm = await LanguageModel.load(join(FIX, fixture), { threads: 1 });
    });
    afterAll(async () => {
      await app?.close();
      await pool?.close();
      lm?.dispose();
    });

    async function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
      const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    }

    it('greedy: the prompt is the encoder\'s input; text and ids prompts give the in-process text', async () => {
      const want = await lm.generate(TEXTS[0]!, { temperature: 0, maxTokens: 6, numBeams: 1 });
      const r = await post({ prompt: TEXTS[0], max_tokens: 6, temperature: 0, num_beams: 1 });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      const choices = r.json.choices as Choice[];
      expect(choices).toHaveLength(1);
      expect(choices[0]!.text).toBe(want.text);
      expect(choices[0]!.finish_reason).toBe(want.finishReason === 'length' ? 'length' : 'stop');
      expect(r.json.usage).toEqual({ prompt_tokens: lm.tokenizer.encode(TEXTS[0]!).length, completion_tokens: want.ids.length, total_tokens: lm.tokenizer.encode(TEXTS[0]!).length + want.ids.length });
      // The text leaves out special tokens (BART's forced <s>, a </s> fed back); the ids keep them.
      expect(choices[0]!.text).toBe(lm.tokenizer.decode(want.ids, { skipSpecialTokens: true }));
      if (fixture === 'bart-tiny') {
        expect(want.ids[0]).toBe(0);
        expect(lm.tokenizer.decode(want.ids)).toMatch(/^<s>/);
        expect(choices[0]!.text).not.toMatch(/<s>/);
      }
      const byIds = await post({ prompt: lm.tokenizer.encode(TEXTS[0]!), max_tokens: 6, temperature: 0, num_beams: 1 });
      expect((byIds.json.choices as Choice[])[0]!.text).toBe(want.text);
    });

    it('best_of 4 and n 2: the two best beams as choices 0 and 1, as num_beams 4 gives them', async () => {
      const want = await lm.generate(TEXTS[1]!, { numBeams: 4, numReturnSequences: 2, maxTokens: 6 });
      const r = await post({ prompt: TEXTS[1], max_tokens: 6, best_of: 4, n: 2 });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      const choices = r.json.choices as Choice[];
      expect(choices.map((c) => c.text)).toEqual(want.sequences!.map((s) => s.text));
      expect(choices.map((c) => c.index)).toEqual([0, 1]);
      expect(choices.map((c) => c.finish_reason)).toEqual(want.sequences!.map((s) => (s.finishReason === 'eos' ? 'stop' : 'length')));
      const completion = want.sequences!.reduce((a, s) => a + s.ids.length, 0);
      expect((r.json.usage as { completion_tokens: number }).completion_tokens).toBe(completion);
      const same = await post({ prompt: TEXTS[1], max_tokens: 6, num_beams: 4, n: 2 });
      expect((same.json.choices as Choice[]).map((c) => c.text)).toEqual(choices.map((c) => c.text));
      const one = await post({ prompt: TEXTS[1], max_tokens: 6, best_of: 4 });
      expect((one.json.choices as Choice[]).map((c) => c.text)).toEqual([want.sequences![0]!.text]);
    });

    it('streams with beams: choice 0 (the best, final) token by token, then choice 1 whole, then [DONE]', async () => {
      const want = await lm.generate(TEXTS[1]!, { numBeams: 4, numReturnSequences: 2, maxTokens: 6 });
      const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: TEXTS[1], max_tokens: 6, best_of: 4, n: 2, stream: true }) });
      expect(res.status).toBe(200);
      const events = (await res.text()).split('\n\n').filter((e) => e.length).map((e) => e.slice('data: '.length));
      expect(events.at(-1)).toBe('[DONE]');
      const frames = events.slice(0, -1).map((d) => (JSON.parse(d) as { choices: Choice[] }).choices[0]!);
      const first = frames.filter((c) => c.index === 0);
      expect(first.map((c) => c.text).join('')).toBe(want.sequences![0]!.text);
      expect(first.at(-1)!.finish_reason).not.toBeNull();
      const second = frames.filter((c) => c.index === 1);
      expect(second).toHaveLength(1);
      expect(second[0]!.text).toBe(want.sequences![1]!.text);
      expect(frames.at(-1)!.index).toBe(1);
    });

    it('n 3 without beams: three sampled completions from one encoder pass, as LanguageModel samples them with the seed; streamed too', async () => {
      const want = await lm.generate(TEXTS[0]!, { numBeams: 1, numReturnSequences: 3, maxTokens: 6, temperature: 1, seed: 42 });
      const body = { prompt: TEXTS[0], max_tokens: 6, n: 3, temperature: 1, seed: 42 };
      const r = await post(body);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      const choices = r.json.choices as Choice[];
      expect(choices.map((c) => c.index)).toEqual([0, 1, 2]);
      expect(choices.map((c) => c.text)).toEqual(want.sequences!.map((s) => s.text));
      expect(choices.map((c) => c.finish_reason)).toEqual(want.sequences!.map((s) => (s.finishReason === 'length' ? 'length' : 'stop')));
      expect((r.json.usage as { completion_tokens: number }).completion_tokens).toBe(want.sequences!.reduce((a, s) => a + s.ids.length, 0));
      const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
      const events = (await res.text()).split('\n\n').filter((e) => e.length).map((e) => e.slice('data: '.length));
      expect(events.at(-1)).toBe('[DONE]');
      const frames = events.slice(0, -1).map((d) => (JSON.parse(d) as { choices: Choice[] }).choices[0]!);
      expect(frames.filter((c) => c.index === 0).map((c) => c.text).join('')).toBe(want.sequences![0]!.text);
      expect(frames.filter((c) => c.index > 0).map((c) => c.text)).toEqual(want.sequences!.slice(1).map((s) => s.text));
    });

    it('bad_words bans the word itself (its ids without the special tokens around them)', async () => {
      const greedy = { temperature: 0, maxTokens: 6, numBeams: 1 };
      const plain = await lm.generate(TEXTS[0]!, greedy);
      // A generated id that is a whole word alone: its text encodes back to exactly that id.
      const sameId = (x: number): boolean => {
        const w = lm.tokenizer.decode([x], { skipSpecialTokens: true });
        return w.length > 0 && !w.startsWith(' ') && lm.tokenizer.encode(w, { addSpecialTokens: false }).join() === String(x);
      };
      const id = plain.ids.find(sameId);
      if (fixture === 'bart-tiny') expect(id).toBeDefined();
      if (id === undefined) return;
      const word = lm.tokenizer.decode([id]);
      const want = await lm.generate(TEXTS[0]!, { ...greedy, badWords: [word] });
      expect(want.ids).not.toContain(id);
      const r = await post({ prompt: TEXTS[0], max_tokens: 6, temperature: 0, num_beams: 1, bad_words: [word] });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect((r.json.choices as Choice[])[0]!.text).toBe(want.text);
    });

    it('chat without a template: the plain transcript is the encoder\'s input', async () => {
      expect(lm.chatTemplate).toBeUndefined();
      const want = await lm.generate('user: Hello there.\nassistant:', { temperature: 0, maxTokens: 5, numBeams: 1 });
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello there.' }], max_tokens: 5, temperature: 0, num_beams: 1 }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0]!.message.content).toBe(want.text);
    });

    it('concurrent requests give what they give alone', async () => {
      const bodies = TEXTS.map((t, i) => ({ prompt: t, max_tokens: 5, ...(i === 1 ? { best_of: 3, n: 2 } : { temperature: 0, num_beams: 1 }) }));
      const alone = [];
      for (const b of bodies) alone.push(((await post(b)).json.choices as Choice[]).map((c) => c.text));
      const together = await Promise.all(bodies.map(async (b) => ((await post(b)).json.choices as Choice[]).map((c) => c.text)));
      expect(together).toEqual(alone);
    });

    it('/v1/embeddings is a 400 naming the model as an encoder-decoder served on the generation routes', async () => {
      const res = await fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'a' }) });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { message: string } };
      expect(error.message).toMatch(new RegExp(`'${fixture}' is an encoder-decoder \\(\\w+\\), which it serves on /v1/completions and /v1/chat/completions`));
    });

    it.each([
      ['n > 1 sampled greedily', { n: 2, temperature: 0 }, /'n' = 2 samples 2 completions; with 'temperature' 0/, 'n'],
      ['n above best_of', { n: 3, best_of: 2 }, /'n' = 3 needs at least as many beams/, 'n'],
      ['best_of and num_beams that differ', { best_of: 2, num_beams: 3 }, /'best_of' \(2\) and 'num_beams' \(3\)/, 'best_of'],
      ['best_of out of range', { best_of: 17 }, /best_of/, 'best_of'],
    ] as const)('a bad body is a 400 naming the field: %s', async (_label, extra, message, param) => {
      const r = await post({ prompt: TEXTS[0], max_tokens: 3, ...extra });
      expect(r.status).toBe(400);
      const error = r.json.error as { message: string; param: string | null };
      expect(error.message).toMatch(message);
      expect(error.param).toBe(param);
    });
  });
}
