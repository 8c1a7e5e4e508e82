// tokenizer.json files of each model type (WordPiece, Unigram, character BPE with byte
// fallback, byte-level BPE) against the Hugging Face `tokenizers` package on the whole corpus.
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../ts/tokenizer/index.js';
import { corpusTexts, hf, readFixture, toUtf16Offsets } from './util.js';

const texts = corpusTexts();
const FIXTURES = ['wordpiece-bert.json', 'unigram-metaspace.json', 'bpe-bytefallback.json', 'bpe-bytelevel-digits.json'];

describe.each(FIXTURES)('%s', (file) => {
  const json = readFixture(file);
  const ours = Tokenizer.fromJSON(json);
  const ref = hf.Tokenizer.fromString(json);

  it('gives the same ids with and without special tokens', async () => {
    for (const { name, text } of texts) {
      for (const addSpecialTokens of [true, false]) {
        const e = await ref.encode(text, null, { addSpecialTokens });
        expect(ours.encode(text, { addSpecialTokens }), `${name} special=${addSpecialTokens}`).toEqual(e.getIds());
        expect(ours.encodeWithOffsets(text, { addSpecialTokens }).ids, name).toEqual(e.getIds());
      }
    }
  });

  it('gives the same offsets and special-token mask', async () => {
    let compared = 0;
    for (const { name, text } of texts) {
      const e = await ref.encode(text);
      const m = ours.encodeWithOffsets(text);
      expect(m.specialTokensMask, name).toEqual(e.getSpecialTokensMask());
      // Where Unicode composition merges characters, the reference maps the composed character
      // to the first original one only; ours spans the whole original cluster.
      if (text.normalize('NFKC') !== text) continue;
      expect(m.offsets, name).toEqual(toUtf16Offsets(text, e.getOffsets()));
      compared++;
    }
    expect(compared).toBeGreaterThan(30);
  });

  it('decodes like the reference, with and without special tokens, in one go or streamed', async () => {
    for (const { name, text } of texts) {
      const ids = ours.encode(text);
      for (const skipSpecialTokens of [false, true]) {
        const want = await ref.decode(ids, skipSpecialTokens);
        expect(ours.decode(ids, { skipSpecialTokens }), name).toBe(want);
        const s = ours.createStreamDecoder({ skipSpecialTokens });
        const streamed = ids.map((id) => s.push(id)).join('') + s.flush();
        expect(streamed, `${name} streamed`).toBe(want);
      }
    }
  });

  it('encodes sentence pairs like the reference', async () => {
    const e = await ref.encode('The first sentence.', 'And the second one!');
    const m = ours.encodeWithOffsets('The first sentence.', { pair: 'And the second one!' });
    expect(m.ids).toEqual(e.getIds());
    expect(m.typeIds).toEqual(e.getTypeIds());
  });
});

describe('byte fallback', () => {
  it('spells characters outside the vocabulary as <0xNN> tokens and decodes them back', async () => {
    const json = readFixture('bpe-bytefallback.json');
    const ours = Tokenizer.fromJSON(json);
    const text = 'naïve 🦀 ꙮ';
    const ids = ours.encode(text, { addSpecialTokens: false });
    const tokens = ids.map((id) => ours.idToToken(id));
    expect(tokens.some((t) => /^<0x[0-9A-F]{2}>$/.test(t ?? ''))).toBe(true);
    expect(ours.decode(ids)).toBe(text);
    const s = ours.createStreamDecoder();
    const parts = ids.map((id) => s.push(id));
    expect(parts.join('') + s.flush()).toBe(text);
    expect(parts.some((p) => p.includes('\ufffd'))).toBe(false);
  });
});
