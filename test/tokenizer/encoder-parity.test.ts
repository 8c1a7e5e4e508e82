// Encoder-model tokenizers (BERT WordPiece uncased and cased, RoBERTa byte-level BPE, XLM-R
// Unigram + Precompiled) against Hugging Face `tokenizers`: single texts, pairs, truncation.
import { describe, expect, it } from 'vitest';
import { Tokenizer, type EncodeResult, type TruncationOptions } from '../../ts/tokenizer/index.js';
import { ENCODER_TOKENIZERS } from './encoder-fixtures.js';
import { corpusTexts, hf, toUtf16Offsets } from './util.js';

type HfEncoding = Awaited<ReturnType<InstanceType<typeof hf.Tokenizer>['encode']>>;

// Words past WordPiece's 100-character limit, counted in code points (the emoji are two units each).
const texts = [...corpusTexts(), { name: 'long words', text: `${'x'.repeat(101)} ${'é'.repeat(100)} ${'😀'.repeat(60)} ${'😀'.repeat(101)} end` }];
// Pairs of neighbouring corpus lines, so every script meets another, plus an empty partner.
const lines = texts.filter((t) => t.name.includes(':'));
const pairs: [string, string][] = lines.slice(0, -1).map((t, i) => [t.text, lines[i + 1]!.text]);
pairs.push(['', 'only the second'], ['only the first', '']);

const STRATEGY = { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' } as const;
const TRUNCATIONS: TruncationOptions[] = [
  { maxLength: 16 },
  { maxLength: 12, strategy: 'longest_first', stride: 2 },
  { maxLength: 24, strategy: 'only_first' },
  { maxLength: 24, strategy: 'only_second', stride: 3 },
  { maxLength: 11, direction: 'left', stride: 1 },
];

/** Ours and the reference's encodings agree field by field; offsets only where asked. */
function same(ours: EncodeResult, ref: HfEncoding, a: string, b: string | null, what: string, offsets: boolean): void {
  expect(ours.ids, `${what} ids`).toEqual(ref.getIds());
  expect(ours.typeIds, `${what} type ids`).toEqual(ref.getTypeIds());
  expect(ours.attentionMask, `${what} attention`).toEqual(ref.getAttentionMask());
  expect(ours.specialTokensMask, `${what} special mask`).toEqual(ref.getSpecialTokensMask());
  if (offsets) {
    // The reference counts code points in the sequence a token came from.
    const seq = ref.getSequenceIds();
    const codePoints = ref.getOffsets();
    const want = codePoints.map((o, i) => (seq[i] === null || seq[i] === undefined ? [0, 0] : toUtf16Offsets(seq[i] === 1 ? b! : a, [o])[0]!));
    expect(ours.offsets, `${what} offsets`).toEqual(want);
  }
  const over = ref.getOverflowing();
  expect(ours.overflowing.map((e) => e.ids), `${what} overflowing`).toEqual(over.map((e) => e.getIds()));
  ours.overflowing.forEach((e, i) => expect(e.typeIds, `${what} overflowing[${i}] type ids`).toEqual(over[i]!.getTypeIds()));
}

// Composition merges characters and the reference then maps a composed character to the first
// original one only, where ours spans the whole cluster: offsets of the Unicode normalizers are
// compared on stable text only. Precompiled follows the reference's alignment everywhere.
const nfkcStable = (s: string): boolean => s.normalize('NFKC') === s;

describe.each(ENCODER_TOKENIZERS)('%s', (_name, load, exactOffsets) => {
  const json = load();
  const stable = (s: string): boolean => exactOffsets || nfkcStable(s);
  const ours = Tokenizer.fromJSON(json);
  const ref = hf.Tokenizer.fromString(json);

  it('encodes the corpus like the reference: ids, masks, offsets', async () => {
    for (const { name, text } of texts) {
      for (const addSpecialTokens of [true, false]) {
        const e = await ref.encode(text, null, { addSpecialTokens });
        expect(ours.encode(text, { addSpecialTokens }), `${name} special=${addSpecialTokens}`).toEqual(e.getIds());
        same(ours.encodeWithOffsets(text, { addSpecialTokens }), e, text, null, name, stable(text));
      }
    }
  });

  it('encodes sentence pairs like the reference', async () => {
    for (const [a, b] of pairs) {
      for (const addSpecialTokens of [true, false]) {
        const e = await ref.encode(a, b, { addSpecialTokens });
        const what = `${JSON.stringify(a.slice(0, 30))} + ${JSON.stringify(b.slice(0, 30))} special=${addSpecialTokens}`;
        expect(ours.encode(a, { pair: b, addSpecialTokens }), what).toEqual(e.getIds());
        same(ours.encodeWithOffsets(a, { pair: b, addSpecialTokens }), e, a, b, what, stable(a) && stable(b));
      }
    }
  });

  it.each(TRUNCATIONS)('truncates pairs and single texts like the reference: %j', async (t) => {
    const r = hf.Tokenizer.fromString(json);
    r.setTruncation(t.maxLength, { strategy: STRATEGY[t.strategy ?? 'longest_first'] as never, stride: t.stride ?? 0, direction: t.direction ?? 'right' });
    let cut = 0;
    let refusedStride = 0;
    for (const [a, b] of pairs) {
      for (const pair of [b, null]) {
        const what = `${JSON.stringify(a.slice(0, 30))} + ${JSON.stringify(pair?.slice(0, 30))}`;
        const options = { truncation: t, ...(pair === null ? {} : { pair }) };
        let mine: unknown = null;
        try { ours.encodeWithOffsets(a, options); } catch (err) { mine = err; }
        // A stride as long as a sequence's share is an assertion (a panic that ends the process)
        // in the reference, so those inputs only check that ours refuses them.
        if (mine instanceof RangeError && /\.stride/.test(mine.message)) { refusedStride++; continue; }
        let e: HfEncoding | null = null;
        try { e = await r.encode(a, pair); } catch { e = null; }
        if (e === null) {
          // The reference refuses (sequence too short for the budget, no second sequence).
          expect(() => ours.encodeWithOffsets(a, options), what).toThrow(RangeError);
          continue;
        }
        expect(ours.encode(a, options), what).toEqual(e.getIds());
        const m = ours.encodeWithOffsets(a, options);
        same(m, e, a, pair, what, stable(a) && (pair === null || stable(pair)));
        if (m.overflowing.length > 0) cut++;
      }
    }
    expect(cut, 'some inputs were long enough to be cut').toBeGreaterThan(0);
    expect(refusedStride, 'stride refusals stay the exception').toBeLessThan(pairs.length / 2);
  });
});

describe('truncation options', () => {
  const json = ENCODER_TOKENIZERS[0]![1]();
  const ours = Tokenizer.fromJSON(json);
  it('give overflowing windows only within the first words holding maxLength tokens, as the reference does', async () => {
    const text = 'a b c d e f g h i j';
    const r = hf.Tokenizer.fromString(json);
    r.setTruncation(6, { stride: 1 });
    const e = await r.encode(text, null);
    const m = ours.encodeWithOffsets(text, { truncation: { maxLength: 6, stride: 1 } });
    expect(m.tokens).toEqual(e.getTokens());
    // Each sequence is first cut to whole words holding maxLength tokens (a..f); g..j are gone.
    expect(m.overflowing.map((o) => o.tokens.join(' '))).toEqual(['[CLS] d e f [SEP]']);
    expect(e.getOverflowing().map((o) => o.getTokens().join(' '))).toEqual(['[CLS] d e f [SEP]']);
  });

  it('name the argument at fault', () => {
    expect(() => ours.encode('a b c', { truncation: { maxLength: -1 } })).toThrow(/options\.truncation\.maxLength/);
    expect(() => ours.encode('a b c', { truncation: { maxLength: 4, strategy: 'middle' as never } })).toThrow(/options\.truncation\.strategy/);
    expect(() => ours.encode('a b c', { truncation: { maxLength: 1 } })).toThrow(/special tokens/);
    expect(() => ours.encode('a b c d e f', { truncation: { maxLength: 4, stride: 2 } })).toThrow(/options\.truncation\.stride/);
    expect(() => ours.encode('a b c d e f', { truncation: { maxLength: 4, strategy: 'only_second' } })).toThrow(/needs a second sequence/);
  });
  it('counts special tokens per template', () => {
    expect(ours.numSpecialTokens(false)).toBe(2);
    expect(ours.numSpecialTokens(true)).toBe(3);
  });
});
