// mBART checkpoints that ship only sentencepiece.bpe.model: MBartTokenizer's and MBart50Tokenizer's
// ids (fairseq offset, language codes, <mask>) and decoding against tools/reference/make_mbart_spm.py
// (python3-sentencepiece + the tokenizers' fairseq logic), and an mBART checkpoint run from text.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LanguageModel } from '../../ts/generate/model.js';
import { loadSeq2Seq } from '../../ts/models/seq2seq.js';
import { tokenizerFromDirectory } from '../../ts/tokenizer/files.js';
import { MBART50_LANGUAGE_CODES, MBART_LANGUAGE_CODES, tokenizerFromMBart } from '../../ts/tokenizer/mbart.js';

const TOK = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
const MODELS = join(import.meta.dirname, '..', 'fixtures', 'models');
const DIR = join(TOK, 'mbart-spm');

interface Variant {
  srcLang: string; vocabSize: number; mask: number;
  encode: { text: string; ids: number[]; plain: number[] }[];
  decode: { ids: number[]; text: string; skipSpecial: string }[];
}
const G = JSON.parse(readFileSync(join(TOK, 'mbart-spm-goldens.json'), 'utf8')) as { header: { pieces: number }; variants: Record<'mbart' | 'mbart50', Variant> };

/** A copy of `from` (files only) with tokenizer_config.json (and config.json when given) written over. */
function dirWith(from: string, tokenizerConfig: Record<string, unknown> | null, extra: Record<string, string> = {}, skip: string[] = []): string {
  const d = mkdtempSync(join(tmpdir(), 'mbart-spm-'));
  for (const f of readdirSync(from)) if (!skip.includes(f)) copyFileSync(join(from, f), join(d, f));
  if (tokenizerConfig !== null) writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(d, f), text);
  return d;
}

describe('mBART tokenizer from sentencepiece.bpe.model', () => {
  for (const variant of ['mbart', 'mbart50'] as const) {
    const g = G.variants[variant];
    const dir = variant === 'mbart' ? DIR : dirWith(DIR, { tokenizer_class: 'MBart50Tokenizer', src_lang: g.srcLang });

    it(`${variant}: ids equal the reference on ${g.encode.length} texts, with and without special tokens`, () => {
      const tok = tokenizerFromDirectory(dir, 'test');
      expect(tok.vocabSize).toBe(g.vocabSize);
      expect(tok.vocabSize).toBe(G.header.pieces + (variant === 'mbart' ? MBART_LANGUAGE_CODES : MBART50_LANGUAGE_CODES).length + 2);
      for (const c of g.encode) {
        expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
        expect(tok.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(c.plain);
      }
    });

    it(`${variant}: decoding equals MBart${variant === 'mbart50' ? '50' : ''}Tokenizer's convert_tokens_to_string, with and without special tokens`, () => {
      const tok = tokenizerFromDirectory(dir, 'test');
      for (const c of g.decode) {
        expect(tok.decode(c.ids), JSON.stringify(c.ids)).toBe(c.text);
        expect(tok.decode(c.ids, { skipSpecialTokens: true }), JSON.stringify(c.ids)).toBe(c.skipSpecial);
      }
    });

    it(`${variant}: fairseq ids of the specials, codes and <mask>`, () => {
      const tok = tokenizerFromDirectory(dir, 'test');
      expect(['<s>', '<pad>', '</s>', '<unk>'].map((t) => tok.tokenToId(t))).toEqual([0, 1, 2, 3]);
      expect(tok.tokenToId('<mask>')).toBe(g.mask);
      expect(tok.tokenToId('ar_AR')).toBe(G.header.pieces + 1);
      expect(tok.isSpecial(tok.tokenToId(g.srcLang)!)).toBe(true);
      const ids = tok.encode('Hello world');
      if (variant === 'mbart') expect(ids.slice(-2)).toEqual([2, tok.tokenToId(g.srcLang)]);
      else expect([ids[0], ids.at(-1)]).toEqual([tok.tokenToId(g.srcLang), 2]);
    });
  }

  it('takes the source language from tokenizer_config.json and refuses an unknown one', () => {
    const tok = tokenizerFromDirectory(dirWith(DIR, { tokenizer_class: 'MBartTokenizer', src_lang: 'ro_RO' }), 'test');
    expect(tok.encode('x').at(-1)).toBe(tok.tokenToId('ro_RO'));
    expect(() => tokenizerFromDirectory(dirWith(DIR, { tokenizer_class: 'MBartTokenizer', src_lang: 'xx_YY' }), 'test')).toThrow(/src_lang 'xx_YY' is not one of the 25/);
    // MBart50's own codes are not MBartTokenizer's.
    expect(() => tokenizerFromMBart(readFileSync(join(DIR, 'sentencepiece.bpe.model')), { variant: 'mbart', srcLang: 'sl_SI' })).toThrow(RangeError);
    expect(tokenizerFromMBart(readFileSync(join(DIR, 'sentencepiece.bpe.model')), { variant: 'mbart50', srcLang: 'sl_SI' }).tokenToId('sl_SI')).toBe(G.header.pieces + 52);
  });

  it('refuses a sentencepiece.bpe.model it cannot place (another tokenizer_class; no class and no mBART config)', () => {
    expect(() => tokenizerFromDirectory(dirWith(DIR, { tokenizer_class: 'XLMRobertaTokenizer' }), 'test')).toThrow(/tokenizer_class "XLMRobertaTokenizer" is not supported without tokenizer.json/);
    expect(() => tokenizerFromDirectory(dirWith(DIR, {}), 'test')).toThrow(/needs tokenizer_config.json's tokenizer_class/);
    // config.json's model_type mbart stands in for the class.
    const byType = dirWith(DIR, {}, { 'config.json': JSON.stringify({ model_type: 'mbart' }) });
    expect(tokenizerFromDirectory(byType, 'test').encode('Hello world, the end.')).toEqual(tokenizerFromDirectory(DIR, 'test').encode('Hello world, the end.'));
  });

  it('an mBART checkpoint with only sentencepiece.bpe.model runs from text: its ids are the model\'s, special tokens out of the text', async () => {
    // mbart-tiny's weights (vocab 461 rows, more than this tokenizer's ids) with this tokenizer instead of tokenizer.json.
    const d = dirWith(join(MODELS, 'mbart-tiny'), { tokenizer_class: 'MBartTokenizer', src_lang: 'en_XX' }, {}, ['tokenizer.json', 'vocab.json', 'merges.txt']);
    copyFileSync(join(DIR, 'sentencepiece.bpe.model'), join(d, 'sentencepiece.bpe.model'));
    const lm = await LanguageModel.load(d, { contextLength: 32 });
    const model = await loadSeq2Seq(d, { contextLength: 32 });
    try {
      const ids = lm.tokenizer.encode('Hello world');
      expect(ids.slice(-2)).toEqual([2, lm.tokenizer.tokenToId('en_XX')]);
      const r = await lm.generate('Hello world', { numBeams: 1, temperature: 0, maxTokens: 6, noRepeatNgramSize: 0 });
      // Ids past the tokenizer's vocabulary have no text and are never chosen: the model's greedy ids with them banned.
      const badWordIds: number[][] = [];
      for (let id = lm.tokenizer.vocabSize; id < model.decoderVocabSize; id++) badWordIds.push([id]);
      const want = await model.generate(ids, { numBeams: 1, maxTokens: 6, noRepeatNgramSize: 0, badWordIds });
      expect(r.ids).toEqual(want.sequences[0]!.ids);
      expect(r.ids.every((id) => id < lm.tokenizer.vocabSize)).toBe(true);
      expect(r.text).toBe(lm.tokenizer.decode(r.ids, { skipSpecialTokens: true }));
    } finally {
      lm.dispose();
      model.dispose();
    }
  });
});
