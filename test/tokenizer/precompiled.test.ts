// The Precompiled normalizer: the XLM-R-style fixture against sentencepiece's own ids (goldens
// from tools/make-spm-tokenizer.py) and against NFKC, the approximation it must not be.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../ts/tokenizer/index.js';
import { Charsmap } from '../../ts/tokenizer/precompiled.js';
import { fixtureDir, hf, readFixture } from './util.js';

interface Goldens {
  header: { made_by: string; version: number };
  cases: { name: string; text: string; ids: number[] }[];
  shortest_match: { text: string; ids: number[] }[];
}

const json = readFixture('unigram-xlmr-precompiled.json');
const ours = Tokenizer.fromJSON(json);
const goldens = JSON.parse(fs.readFileSync(path.join(fixtureDir, 'xlmr-spm-goldens.json'), 'utf8')) as Goldens;

/** The same tokenizer.json with NFKC where Precompiled was: what transformers.js does. */
function nfkcInstead(): Tokenizer {
  const j = JSON.parse(json) as { normalizer: { normalizers: unknown[] } };
  j.normalizer.normalizers[0] = { type: 'NFKC' };
  return Tokenizer.fromJSON(j);
}

// nmt_nfkc drops control characters and turns zero-width and Ogham spaces into spaces; NFKC
// keeps them, so the NFKC stand-in gives <unk> or other pieces.
const NOT_NFKC = ['zero\u200bwidth space', 'bell\u0007 and tab', 'Ogham\u1680space', 'marks\u200e\u200f'];

describe('Precompiled (XLM-R style, nmt_nfkc)', () => {
  it('gives sentencepiece\'s ids on the corpus', () => {
    expect(goldens.header.made_by).toBe('tools/make-spm-tokenizer.py');
    expect(goldens.cases.length).toBeGreaterThan(30);
    for (const c of goldens.cases) {
      // sentencepiece strips leading and trailing whitespace (remove_extra_whitespaces); the
      // converted tokenizer.json, like the reference, keeps a trailing '▁' for it.
      expect(ours.encode(c.text.trim(), { addSpecialTokens: false }), c.name).toEqual(c.ids);
    }
  });

  it('is needed: an NFKC stand-in misses sentencepiece\'s ids on part of the corpus', () => {
    const nfkc = nfkcInstead();
    const wrong = goldens.cases.filter((c) => JSON.stringify(nfkc.encode(c.text.trim(), { addSpecialTokens: false })) !== JSON.stringify(c.ids));
    expect(wrong.map((c) => c.name)).toContain('controls.txt');
  });

  it('matches the reference where NFKC does not, and NFKC gets those inputs wrong', async () => {
    const ref = hf.Tokenizer.fromString(json);
    const nfkc = nfkcInstead();
    for (const text of NOT_NFKC) {
      const want = (await ref.encode(text)).getIds();
      expect(ours.encode(text), text).toEqual(want);
      expect(nfkc.encode(text), `NFKC on ${JSON.stringify(text)}`).not.toEqual(want);
    }
  });

  it('takes the first (shortest) key inside a grapheme, like the reference and unlike sentencepiece', async () => {
    const ref = hf.Tokenizer.fromString(json);
    expect(goldens.shortest_match.length).toBeGreaterThan(0);
    for (const c of goldens.shortest_match) {
      const ids = ours.encode(c.text, { addSpecialTokens: false });
      expect(ids, c.text).toEqual((await ref.encode(c.text, null, { addSpecialTokens: false })).getIds());
      // sentencepiece's longest match keeps the accent (then unknown to this small vocabulary).
      expect(ids, c.text).not.toEqual(c.ids);
    }
  });

  it('looks graphemes of 6 or more UTF-8 bytes up code point by code point, as the reference does', async () => {
    const ref = hf.Tokenizer.fromString(json);
    // Halfwidth KA + voiced mark is one 6-byte grapheme: whole, its first key (KA) would swallow the mark.
    for (const text of ['\uff76\uff9e', 'x\uff8a\uff9f y', 'e\u0301\u0301\u0301']) {
      expect(ours.encode(text), JSON.stringify(text)).toEqual((await ref.encode(text)).getIds());
    }
  });

  it('refuses a charsmap whose trie does not fit, naming the field', () => {
    expect(() => new Charsmap(new Uint8Array([0xff, 0, 0, 0, 1, 2]))).toThrow(/precompiled_charsmap: trie size/);
    const bad = JSON.parse(json) as { normalizer: { normalizers: { precompiled_charsmap?: string }[] } };
    bad.normalizer.normalizers[0]!.precompiled_charsmap = 'not base64!';
    expect(() => Tokenizer.fromJSON(bad)).toThrow(/normalizer\.normalizers\[0\]\.precompiled_charsmap/);
  });
});
