// The generation loop: stop rules, streaming text, abort, cache ownership, option errors.
import { describe, expect, it } from 'vitest';
import { generate, stream } from '../../ts/generate/generate.js';
import { gpt2Tokenizer } from './gpt2-vocab.js';
import { FAKE_EOS, FakeModel, FakeTokenizer } from './fake.js';

const tok = new FakeTokenizer();
const ids = (s: string): number[] => tok.encode(s);

describe('generation loop', () => {
  it('prefills the prompt in one pass, then one token per step', async () => {
    const model = new FakeModel();
    const res = await generate(model, tok, 'abc', { seed: 1, maxTokens: 5, ignoreEos: true });
    expect(res.ids).toHaveLength(5);
    // 1 prefill + 4 decode steps (no forward after the last token)
    expect(model.forwardCalls).toBe(5);
    expect(res.timings.promptTokens).toBe(3);
    expect(res.timings.generatedTokens).toBe(5);
    expect(res.timings.timeToFirstToken).toBeGreaterThan(0);
    expect(model.caches.every((c) => c.disposed)).toBe(true);
  });

  it('stops at an end-of-sequence id and leaves it out', async () => {
    const res = await generate(new FakeModel(), tok, 'a', { forcedTokens: [0, 1, FAKE_EOS, 2], maxTokens: 10 });
    expect(res.finishReason).toBe('eos');
    expect(res.ids).toEqual([0, 1]);
    expect(res.text).toBe('ab');
    const other = await generate(new FakeModel(), tok, 'a', { forcedTokens: [0, 1, FAKE_EOS, 2], maxTokens: 4, eosTokenIds: [2] });
    expect(other.finishReason).toBe('eos');
    expect(other.ids).toEqual([0, 1, FAKE_EOS]);
  });

  it('catches stop strings split across tokens and leaves them out of text and stream', async () => {
    const forced = ids('ab STOPxy'); // ... 'S', 'T', 'OP', ...: the stop string spans three tokens
    expect(forced).toHaveLength(8);
    const s = stream(new FakeModel(), tok, 'a', { forcedTokens: forced, maxTokens: 20, stop: ['xyz', 'STOP'] });
    let streamed = '';
    for await (const chunk of s) streamed += chunk.text;
    const res = await s.result;
    expect(res.finishReason).toBe('stop');
    expect(res.text).toBe('ab ');
    expect(streamed).toBe('ab ');
  });

  it('stop string made of three tokens: text before it only', async () => {
    const forced = ids('abSTOPc');
    const s = stream(new FakeModel(), tok, 'a', { forcedTokens: forced, maxTokens: 20, stop: ['STOP'] });
    const chunks: string[] = [];
    for await (const c of s) chunks.push(c.text);
    const res = await s.result;
    expect(res.finishReason).toBe('stop');
    expect(res.text).toBe('ab');
    expect(chunks.join('')).toBe('ab');
    // 'S' and 'T' were held back while they could still start the stop string
    expect(chunks).toEqual(['a', 'b', '', '', '']);
    expect(res.ids).toEqual(ids('abSTOP'));
  });

  it('releases held-back text when a partial stop string does not complete', async () => {
    const s = stream(new FakeModel(), tok, 'a', { forcedTokens: ids('STa STx'), maxTokens: 7, stop: ['STOP'], ignoreEos: true });
    const chunks: string[] = [];
    for await (const c of s) chunks.push(c.text);
    const res = await s.result;
    expect(res.finishReason).toBe('length');
    expect(res.text).toBe('STa STx');
    expect(chunks.join('')).toBe('STa STx');
    expect(chunks[0]).toBe('');
  });

  it('streams multi-byte characters only when complete', async () => {
    const gpt2 = gpt2Tokenizer();
    const target = 'ok 😀 🤖!';
    const forced = gpt2.encode(target);
    // some tokens hold only part of an emoji's UTF-8 bytes
    expect(forced.some((id) => gpt2.decode([id]).includes('\ufffd'))).toBe(true);
    const model = new FakeModel(50257, 64, [50256]);
    const s = stream(model, gpt2, 'hi', { forcedTokens: forced, maxTokens: forced.length });
    const chunks: string[] = [];
    for await (const c of s) chunks.push(c.text);
    expect(chunks.join('')).toBe(target);
    expect(chunks.some((c) => c.includes('\ufffd'))).toBe(false);
    expect((await s.result).text).toBe(target);
  });

  it('abort mid-generation finishes within one forward pass with reason aborted and frees the cache', async () => {
    const model = new FakeModel();
    model.delayMs = 5;
    const ac = new AbortController();
    let callsAtAbort = -1;
    model.onForward = (n) => {
      if (n === 10) {
        ac.abort();
        callsAtAbort = n;
      }
    };
    const res = await generate(model, tok, 'a', { seed: 1, maxTokens: 100_000, ignoreEos: true, signal: ac.signal });
    expect(res.finishReason).toBe('aborted');
    expect(callsAtAbort).toBe(10);
    // the pass running when abort came is the last one
    expect(model.forwardCalls).toBe(10);
    expect(res.ids.length).toBe(9);
    expect(model.caches).toHaveLength(1);
    expect(model.caches[0]!.disposed).toBe(true);
  });

  it('an already-aborted signal runs no forward pass', async () => {
    const model = new FakeModel();
    const res = await generate(model, tok, 'a', { signal: AbortSignal.abort() });
    expect(res.finishReason).toBe('aborted');
    expect(res.ids).toEqual([]);
    expect(model.forwardCalls).toBe(0);
    expect(model.caches[0]!.disposed).toBe(true);
  });

  it('breaking out of a stream aborts the request and frees its cache', async () => {
    const model = new FakeModel();
    const s = stream(model, tok, 'a', { seed: 2, maxTokens: 50, ignoreEos: true });
    let n = 0;
    for await (const _ of s) if (++n === 3) break;
    const res = await s.result;
    expect(res.finishReason).toBe('aborted');
    expect(res.ids).toHaveLength(3);
    expect(model.caches[0]!.disposed).toBe(true);
  });

  it('frees the cache when the model throws', async () => {
    const model = new FakeModel(10, 4);
    await expect(generate(model, tok, 'abc', { maxTokens: 10, ignoreEos: true })).resolves.toMatchObject({ finishReason: 'length' });
    expect(model.caches[0]!.disposed).toBe(true);
    const bad = new FakeModel();
    bad.onForward = (n) => {
      if (n === 2) throw new Error('boom');
    };
    await expect(generate(bad, tok, 'a', { maxTokens: 5, ignoreEos: true })).rejects.toThrow('boom');
    expect(bad.caches[0]!.disposed).toBe(true);
  });

  it('bad words are never produced, spelled with or without a leading space', async () => {
    // forcing would override the ban, so sample freely and check the text (<eos> decodes to '' and
    // would join neighbours in the text, so it is kept out)
    for (let seed = 0; seed < 20; seed++) {
      const r = await generate(new FakeModel(), tok, 'a', { seed, temperature: 2, maxTokens: 30, ignoreEos: true, logitBias: { [FAKE_EOS]: -Infinity }, badWords: ['ab', 'c'] });
      expect(r.text.includes('ab')).toBe(false);
      expect(r.text.includes('c')).toBe(false);
    }
    await expect(generate(new FakeModel(), tok, 'a', { badWords: [''] })).rejects.toThrow(/'badWords'/);
  });

  it('stops at the context length with reason length', async () => {
    const model = new FakeModel(10, 6);
    const res = await generate(model, tok, 'abc', { seed: 1, maxTokens: 100, ignoreEos: true });
    expect(res.finishReason).toBe('length');
    expect(res.ids).toHaveLength(4); // positions 3, 4, 5 fill the cache; the 4th token needs no forward
  });

  it('names the bad option', async () => {
    const m = new FakeModel();
    await expect(generate(m, tok, 'a', { maxTokens: -1 })).rejects.toThrow(/'maxTokens'/);
    await expect(generate(m, tok, 'a', { topP: 0 })).rejects.toThrow(/'topP'/);
    await expect(generate(m, tok, 'a', { temperature: Number.NaN })).rejects.toThrow(/'temperature'/);
    await expect(generate(m, tok, 'a', { seed: -3 })).rejects.toThrow(/'seed'/);
    await expect(generate(m, tok, 'a', { stop: [''] })).rejects.toThrow(/'stop'/);
    await expect(generate(m, tok, '', {})).rejects.toThrow(/'prompt'/);
    await expect(generate(m, tok, [99], {})).rejects.toThrow(/'prompt'/);
    await expect(generate(new FakeModel(10, 2), tok, 'abc', {})).rejects.toThrow(/context/);
    expect(m.caches.every((c) => c.disposed)).toBe(true);
  });
});
