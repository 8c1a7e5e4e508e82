// tokenizer.json files of each model type (WordPiece, Unigram, character BPE with byte
// fallback, byte-level BPE) against the Hugging Face `tokenizers` package on the whole corpus.
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../ts/tokenizer/index.js';
import { corpusTexts, hf, readFixture, toUtf16Offsets } from './util.js';

const texts = corpusTexts();
// Llama 3's split: scoped case-insensitive contractions, at most three digits, and a
// byte-level step without its own regex; plus ignore_merges and a BOS template.
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function llama3Style(): string {
  const j = JSON.parse(readFixture('bpe-bytelevel-digits.json')) as Record<string, Record<string, unknown>>;
  j.normalizer = null as unknown as Record<string, unknown>;
  j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ] };
  j.model!.ignore_merges = true;
  j.post_processor = { type: 'Sequence', processors: [
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [0], tokens: ['<|endoftext|>'] } } },
  ] };
  return JSON.stringify(j);
}

const FIXTURES: [string, () => string][] = [
  ...['wordpiece-bert.json', 'unigram-metaspace.json', 'bpe-bytefallback.json', 'bpe-bytelevel-digits.json'].map((f): [string, () => string] => [f, () => readFixture(f)]),
  ['llama3-style split (from bpe-bytelevel-digits.json)', llama3Style],
];

describe.each(FIXTURES)('%s', (_name, load) => {
  const json = load();
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
