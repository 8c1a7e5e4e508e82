// Marian tokenization (source.spm + vocab.json in, target vocabulary + target.spm out) against
// MarianTokenizer's semantics as tools/reference/make_bart_marian.py computes them with sentencepiece.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer, tokenizerFromMarian, TokenizerFormatError } from '../../ts/tokenizer/index.js';
import { tokenizerFromDirectory } from '../../ts/tokenizer/files.js';

const dir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/models/marian-tiny');
const goldens = JSON.parse(fs.readFileSync(path.join(dir, '../bart-marian-goldens.json'), 'utf8')) as {
  marianTokenizer: { text: string; ids: number[] }[];
  marianDecode: { ids: number[]; text: string; skipSpecial: string }[];
};
const files = () => ({
  source: new Uint8Array(fs.readFileSync(path.join(dir, 'source.spm'))),
  target: new Uint8Array(fs.readFileSync(path.join(dir, 'target.spm'))),
  vocab: fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8'),
  config: JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
});

describe('Marian tokenizer', () => {
  const tok = tokenizerFromMarian(files());

  it('encodes as MarianTokenizer: source.spm pieces through vocab.json, </s> appended', () => {
    expect(goldens.marianTokenizer.length).toBeGreaterThan(4);
    for (const c of goldens.marianTokenizer) expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
    // The vocabulary's ids, not the sentencepiece model's: </s> is 0 in vocab.json, 2 in source.spm.
    expect(tok.encode('')).toEqual([tok.tokenToId('</s>')]);
    expect(tok.encode('Hello', { addSpecialTokens: false }).at(-1)).not.toBe(tok.tokenToId('</s>'));
  });

  it('decodes through the target vocabulary and target.spm, with and without special tokens', () => {
    for (const d of goldens.marianDecode) {
      expect(tok.decode(d.ids), JSON.stringify(d.ids)).toBe(d.text);
      expect(tok.decode(d.ids, { skipSpecialTokens: true }), JSON.stringify(d.ids)).toBe(d.skipSpecial);
    }
  });

  it('reads a separate target vocabulary for decoding', () => {
    const f = files();
    const v = JSON.parse(f.vocab) as Record<string, number>;
    // The same pieces at shifted ids: decoding must use this table, encoding the source one.
    const shifted = Object.fromEntries(Object.entries(v).map(([p, id]) => [p, id + 1000]));
    const sep = tokenizerFromMarian({ ...f, targetVocab: JSON.stringify(shifted) });
    const ids = sep.encode('Hello world', { addSpecialTokens: false });
    expect(ids).toEqual(tok.encode('Hello world', { addSpecialTokens: false }));
    expect(sep.decode(ids.map((i) => i + 1000))).toBe(tok.decode(ids));
  });

  it('refuses a vocabulary without its special tokens, naming the file', () => {
    const f = files();
    const v = JSON.parse(f.vocab) as Record<string, number>;
    delete v['</s>'];
    expect(() => tokenizerFromMarian({ ...f, vocab: JSON.stringify(v) }, 'opus-mt')).toThrow(/opus-mt\/vocab\.json: has no eos_token '<\/s>'/);
    expect(() => tokenizerFromMarian({ ...f, vocab: '{oops' })).toThrow(TokenizerFormatError);
    expect(() => tokenizerFromMarian({ ...f, source: new Uint8Array([1, 2, 3]) }, 'opus-mt')).toThrow(/opus-mt\/source\.spm/);
  });
});

describe('tokenizer files of a checkpoint directory', () => {
  const tmp = (files: Record<string, Uint8Array | string>): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tokdir-'));
    for (const [n, v] of Object.entries(files)) fs.writeFileSync(path.join(d, n), v);
    return d;
  };

  it('reads Marian\'s source.spm, target.spm and vocab.json when there is no tokenizer.json', () => {
    const t = tokenizerFromDirectory(dir, 'load');
    for (const c of goldens.marianTokenizer) expect(t.encode(c.text)).toEqual(c.ids);
  });

  it('reads a T5-style spiece.model: sentencepiece ids, special tokens, sentinels, </s> appended', () => {
    const bytes = fs.readFileSync(path.join(dir, '../../tokenizers/spm-unigram-nfkc.model'));
    const d = tmp({ 'spiece.model': bytes, 'tokenizer_config.json': JSON.stringify({ extra_ids: 3 }) });
    const t = tokenizerFromDirectory(d, 'load');
    const sp = Tokenizer.fromSentencePiece(new Uint8Array(bytes));
    const eos = sp.tokenToId('</s>')!;
    expect(t.encode('Hello world')).toEqual([...sp.encode('Hello world'), eos]);
    expect(t.encode('a <extra_id_0> b </s>', { addSpecialTokens: false })).toEqual([...sp.encode('a '), sp.vocabSize + 2, ...sp.encode(' b '), eos]);
    expect(t.tokenToId('<extra_id_2>')).toBe(sp.vocabSize);
    expect(t.decode(t.encode('Hello world'), { skipSpecialTokens: true })).toBe('Hello world');
  });

  it('names what is missing', () => {
    expect(() => tokenizerFromDirectory(tmp({}), 'load')).toThrow(/load: .* has no tokenizer\.json, spiece\.model, source\.spm, sentencepiece\.bpe\.model, or vocab\.json with merges\.txt/);
    expect(() => tokenizerFromDirectory(tmp({ 'source.spm': fs.readFileSync(path.join(dir, 'source.spm')) }), 'load')).toThrow(/has source\.spm but no target\.spm/);
    expect(() => tokenizerFromDirectory(tmp({ 'spiece.model': 'not a model' }), 'load')).toThrow(/spiece\.model/);
  });
});
