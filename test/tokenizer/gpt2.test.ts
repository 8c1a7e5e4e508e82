// GPT-2 byte-level BPE against js-tiktoken (r50k_base), gpt-3-encoder and the Hugging Face
// `tokenizers` package: exact ids, offsets, round trips, streaming and long-input cost.
import { describe, expect, it } from 'vitest';
import { getEncoding } from 'js-tiktoken';
import { encode as gpt3Encode } from 'gpt-3-encoder';
import { Tokenizer } from '../../ts/tokenizer/index.js';
import { bpeCounters } from '../../ts/tokenizer/bpe.js';
import { corpusTexts, gpt2Files, gpt2TokenizerJson, hf, toUtf16Offsets } from './util.js';

const { vocab, merges } = gpt2Files();
const gpt2 = Tokenizer.fromGPT2(vocab, merges);
const r50k = getEncoding('r50k_base');
const texts = corpusTexts();

/** What a UTF-8 round trip makes of a JS string: lone surrogates become U+FFFD. */
function utf8RoundTrip(s: string): string {
  return new TextDecoder().decode(new TextEncoder().encode(s));
}

describe('GPT-2 from vocab.json + merges.txt', () => {
  it('gives the same ids as js-tiktoken r50k_base and gpt-3-encoder on the whole corpus', () => {
    expect(texts.length).toBeGreaterThan(40);
    for (const { name, text } of texts) {
      const ids = gpt2.encode(text);
      expect(ids, name).toEqual(r50k.encode(text));
      expect(ids, name).toEqual(gpt3Encode(text));
    }
  });

  it('round-trips every text, lone surrogates becoming U+FFFD exactly as the reference decodes them', () => {
    let withSurrogates = 0;
    for (const { name, text } of texts) {
      const back = gpt2.decode(gpt2.encode(text));
      if (utf8RoundTrip(text) !== text) {
        withSurrogates++;
        expect(back, name).toBe(r50k.decode(r50k.encode(text)));
        expect(back, name).toBe(utf8RoundTrip(text));
        expect(back, name).toContain('\ufffd');
      } else {
        expect(back, name).toBe(text);
      }
    }
    expect(withSurrogates).toBeGreaterThanOrEqual(4);
  });

  it('matches the reference on long single words, where the heap merge loop runs', () => {
    let seed = 12345;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const alphabet = 'abcdefghijklmnopqrstuvwxyzéßøЖж日本';
    for (const len of [47, 48, 49, 64, 200, 1000]) {
      let w = '';
      for (let i = 0; i < len; i++) w += alphabet[rand(alphabet.length)];
      expect(gpt2.encode(w), `len ${len}`).toEqual(r50k.encode(w));
      expect(gpt2.encode(w.replace(/[^a-z]/g, 'e')), `ascii len ${len}`).toEqual(r50k.encode(w.replace(/[^a-z]/g, 'e')));
    }
  });

  it('keeps <|endoftext|> whole and drops it only when asked', () => {
    const ids = gpt2.encode('a<|endoftext|>b');
    expect(ids).toEqual([64, 50256, 65]);
    expect(gpt2.decode(ids)).toBe('a<|endoftext|>b');
    expect(gpt2.decode(ids, { skipSpecialTokens: true })).toBe('ab');
    expect(gpt2.isSpecial(50256)).toBe(true);
  });

  it('encodes batches like single texts', () => {
    const batch = texts.slice(0, 10).map((t) => t.text);
    expect(gpt2.encodeBatch(batch)).toEqual(batch.map((t) => gpt2.encode(t)));
  });

  it('is linear-logarithmic on a 1 MB line of one repeated character (merge steps counted)', () => {
    for (const ch of ['a', '1', 'é']) {
      const n = 1 << 20;
      const s = ch.repeat(n / ch.length);
      bpeCounters.steps = 0;
      const ids = gpt2.encode(s);
      const symbols = new TextEncoder().encode(s).length;
      // Each merge pushes at most two heap entries and each entry pops once: steps <= 3 * symbols.
      // A quadratic loop would need ~symbols^2 / 2 = 5e11 here.
      expect(bpeCounters.steps, ch).toBeLessThanOrEqual(3 * symbols);
      expect(gpt2.decode(ids), ch).toBe(s);
      expect(ids.length).toBeLessThan(symbols);
    }
  });
});

describe('GPT-2 tokenizer.json against the Hugging Face tokenizers package', () => {
  const json = gpt2TokenizerJson();
  const ours = Tokenizer.fromJSON(json);
  const ref = hf.Tokenizer.fromString(json);

  it('gives the same ids, trimmed offsets and decoded text', async () => {
    for (const { name, text } of texts) {
      const e = await ref.encode(text);
      const m = ours.encodeWithOffsets(text);
      expect(m.ids, name).toEqual(e.getIds());
      expect(ours.encode(text), name).toEqual(e.getIds());
      expect(m.offsets, name).toEqual(toUtf16Offsets(text, e.getOffsets()));
      expect(ours.decode(m.ids), name).toBe(await ref.decode(m.ids, false));
      expect(m.ids, name).toEqual(gpt2.encode(text));
    }
  });

  it('treats whitespace as Unicode White_Space like the Rust references, not as JavaScript \\s', async () => {
    // U+FEFF is JavaScript \s but not White_Space; U+0085 is the reverse.
    for (const text of ['\ufeff\ufeffx', 'a\u0085\u0085b', 'x \u0085\ufeff y']) {
      const want = (await ref.encode(text)).getIds();
      expect(ours.encode(text), JSON.stringify(text)).toEqual(want);
      expect(gpt2.encode(text), JSON.stringify(text)).toEqual(want);
      expect(gpt2.decode(want)).toBe(text);
    }
  });

  it('offsets slice the original text back for plain text', () => {
    const text = 'Hello wörld, 😀 done';
    const m = ours.encodeWithOffsets(text);
    expect(m.offsets.map(([a, b]) => text.slice(a, b))).toEqual(['Hello', 'w', 'ör', 'ld', ',', '😀', '😀', 'done']);
  });
});

describe('RoBERTa layout (byte-level BPE with RobertaProcessing) against the reference', () => {
  it.each([false, true])('add_prefix_space %s: ids, trimmed offsets, masks, pairs', async (prefix) => {
    const j = JSON.parse(gpt2TokenizerJson()) as Record<string, unknown>;
    j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: true };
    j.post_processor = { type: 'RobertaProcessing', sep: ['<|endoftext|>', 50256], cls: ['<|endoftext|>', 50256], trim_offsets: true, add_prefix_space: prefix };
    const json = JSON.stringify(j);
    const ours = Tokenizer.fromJSON(json);
    const ref = hf.Tokenizer.fromString(json);
    for (const { name, text } of texts) {
      const e = await ref.encode(text);
      const m = ours.encodeWithOffsets(text);
      expect(m.ids, name).toEqual(e.getIds());
      expect(ours.encode(text), name).toEqual(e.getIds());
      expect(m.offsets, name).toEqual(toUtf16Offsets(text, e.getOffsets()));
      expect(m.specialTokensMask, name).toEqual(e.getSpecialTokensMask());
    }
    const e = await ref.encode('Hello there', 'General Kenobi');
    const m = ours.encodeWithOffsets('Hello there', { pair: 'General Kenobi' });
    expect(m.ids).toEqual(e.getIds());
    expect(m.typeIds).toEqual(e.getTypeIds());
    expect(ours.encode('Hello there', { pair: 'General Kenobi' })).toEqual(e.getIds());
  });
});

describe('streaming decoder', () => {
  it('emits nothing until a character split across byte tokens is complete', () => {
    const ids = gpt2.encode('😀');
    expect(ids.length).toBeGreaterThan(1);
    const s = gpt2.createStreamDecoder();
    const parts = ids.map((id) => s.push(id));
    expect(parts.slice(0, -1).every((p) => p === '')).toBe(true);
    expect(parts[parts.length - 1]).toBe('😀');
    expect(s.flush()).toBe('');
  });

  it('streams every corpus text to exactly decode(ids), never printing U+FFFD for valid text', () => {
    for (const { name, text } of texts) {
      const ids = gpt2.encode(text);
      const s = gpt2.createStreamDecoder();
      const parts = ids.map((id) => s.push(id));
      parts.push(s.flush());
      expect(parts.join(''), name).toBe(gpt2.decode(ids));
      if (utf8RoundTrip(text) === text) for (const p of parts) expect(p.includes('\ufffd'), name).toBe(false);
    }
  });

  it('flushes an unfinished character as U+FFFD at the end', () => {
    const ids = gpt2.encode('😀');
    const s = gpt2.createStreamDecoder();
    expect(s.push(ids.slice(0, -1))).toBe('');
    expect(s.flush()).toBe('\ufffd');
  });
});
