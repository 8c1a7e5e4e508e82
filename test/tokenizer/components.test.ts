// Each normalizer, pre-tokenizer and decoder type, swapped into one tokenizer.json and run
// against the Hugging Face `tokenizers` package on the corpus: same ids, spans and text.
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../ts/tokenizer/index.js';
import { corpusTexts, hf, readFixture, toUtf16Offsets } from './util.js';

const texts = corpusTexts();
const base = JSON.parse(readFixture('wordpiece-bert.json')) as Record<string, unknown>;
const lower = { type: 'Lowercase' };

function variant(parts: Record<string, unknown>): string {
  return JSON.stringify({ ...base, ...parts });
}

const NORMALIZERS: Record<string, unknown> = {
  NFC: { type: 'NFC' },
  NFD: { type: 'NFD' },
  NFKC: { type: 'NFKC' },
  NFKD: { type: 'NFKD' },
  Lowercase: lower,
  'NFD+StripAccents+Lowercase': { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, lower] },
  'BertNormalizer (cased, no CJK split)': { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: false, strip_accents: false, lowercase: false },
  'BertNormalizer (strip accents, keep case)': { type: 'BertNormalizer', clean_text: false, handle_chinese_chars: true, strip_accents: true, lowercase: false },
  'Replace (regex) + Strip + Prepend': { type: 'Sequence', normalizers: [
    { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Strip', strip_left: true, strip_right: true }, { type: 'Prepend', prepend: '>> ' }, lower] },
};

const PRE_TOKENIZERS: Record<string, unknown> = {
  Whitespace: { type: 'Whitespace' },
  WhitespaceSplit: { type: 'WhitespaceSplit' },
  'Punctuation (contiguous)': { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Contiguous' }] },
  'Digits (grouped)': { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Digits', individual_digits: false }] },
  CharDelimiterSplit: { type: 'CharDelimiterSplit', delimiter: 'e' },
  'Split Removed': { type: 'Split', pattern: { String: ' ' }, behavior: 'Removed', invert: false },
  'Split MergedWithPrevious': { type: 'Split', pattern: { Regex: '[,.:;!?]' }, behavior: 'MergedWithPrevious', invert: false },
  'Split MergedWithNext': { type: 'Split', pattern: { Regex: '\\s' }, behavior: 'MergedWithNext', invert: false },
  'Split Contiguous': { type: 'Split', pattern: { Regex: '\\p{P}' }, behavior: 'Contiguous', invert: false },
  'Split inverted': { type: 'Split', pattern: { Regex: '\\p{L}+' }, behavior: 'Isolated', invert: true },
  'Metaspace first': { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: true },
  'Metaspace never, no split': { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'never', split: false },
};

const DECODERS: Record<string, unknown> = {
  'WordPiece without cleanup': { type: 'WordPiece', prefix: '##', cleanup: false },
  'Strip + Replace + Fuse': { type: 'Sequence', decoders: [{ type: 'Strip', content: '#', start: 2, stop: 0 }, { type: 'Replace', pattern: { String: 'e' }, content: 'E' }, { type: 'Fuse' }] },
  BPEDecoder: { type: 'BPEDecoder', suffix: '##' },
  'Metaspace decoder': { type: 'Metaspace', replacement: '#', prepend_scheme: 'always', split: true },
  none: null,
};

async function compare(json: string, offsets: boolean): Promise<number> {
  const ours = Tokenizer.fromJSON(json);
  const ref = hf.Tokenizer.fromString(json);
  let spans = 0;
  for (const { name, text } of texts) {
    const e = await ref.encode(text);
    const m = ours.encodeWithOffsets(text);
    expect(m.ids, name).toEqual(e.getIds());
    expect(ours.encode(text), name).toEqual(e.getIds());
    if (offsets && text.normalize('NFKC') === text) {
      expect(m.offsets, name).toEqual(toUtf16Offsets(text, e.getOffsets()));
      spans++;
    }
  }
  return spans;
}

describe('normalizers', () => {
  it.each(Object.entries(NORMALIZERS))('%s', async (_name, normalizer) => {
    await compare(variant({ normalizer }), true);
  });
});

describe('pre-tokenizers', () => {
  it.each(Object.entries(PRE_TOKENIZERS))('%s', async (_name, pre_tokenizer) => {
    expect(await compare(variant({ pre_tokenizer }), true)).toBeGreaterThan(20);
  });
});

describe('decoders', () => {
  it.each(Object.entries(DECODERS))('%s', async (_name, decoder) => {
    const json = variant({ decoder });
    const ours = Tokenizer.fromJSON(json);
    const ref = hf.Tokenizer.fromString(json);
    for (const { name, text } of texts) {
      const ids = ours.encode(text);
      expect(ours.decode(ids), name).toBe(await ref.decode(ids, false));
      expect(ours.decode(ids, { skipSpecialTokens: true }), name).toBe(await ref.decode(ids, true));
    }
  });
});

describe('added tokens', () => {
  it('honours lstrip, rstrip and single_word like the reference', async () => {
    // A token already in the vocabulary keeps its id; a new one gets the next free id.
    const vocab = (base.model as { vocab: Record<string, number> }).vocab;
    let next = Object.keys(vocab).length;
    const idOf = (t: string): number => vocab[t] ?? next++;
    const added = [
      ...(base.added_tokens as object[]),
      { id: idOf('<mask>'), content: '<mask>', single_word: false, lstrip: true, rstrip: true, normalized: false, special: true },
      { id: idOf('ing'), content: 'ing', single_word: true, lstrip: false, rstrip: false, normalized: false, special: false },
    ];
    const json = variant({ added_tokens: added });
    const ours = Tokenizer.fromJSON(json);
    const ref = hf.Tokenizer.fromString(json);
    for (const text of ['a <mask>  b', 'x<mask>y', 'sing ing ring ing.', 'ing', ' [CLS] [SEP][MASK]', ...texts.slice(0, 20).map((t) => t.text)]) {
      const e = await ref.encode(text);
      const m = ours.encodeWithOffsets(text);
      expect(m.ids, text).toEqual(e.getIds());
      expect(m.offsets, text).toEqual(toUtf16Offsets(text, e.getOffsets()));
      expect(ours.decode(m.ids, { skipSpecialTokens: true }), text).toBe(await ref.decode(m.ids, true));
    }
  });
});
