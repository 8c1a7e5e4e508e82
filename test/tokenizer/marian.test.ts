// Marian tokenization (source.spm + vocab.json in, target vocabulary + target.spm out) against
// MarianTokenizer's semantics as tools/reference/make_bart_marian.py computes them with sentencepiece.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenizerFromMarian, TokenizerFormatError } from '../../ts/tokenizer/index.js';

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
