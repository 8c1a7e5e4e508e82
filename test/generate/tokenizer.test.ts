// The GGUF-embedded GPT-2 tokenizer against js-tiktoken's r50k_base (byte-identical to GPT-2).
import { readFileSync } from 'node:fs';
import { getEncoding } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import { gpt2Tokenizer } from './gpt2-vocab.js';

const SAMPLES = [
  'Hello, world!',
  'Once upon a time, there was a little program that could.',
  "It's 3:14 pm; they'll say we've won 1,000,000 times...",
  '  leading spaces,\ttabs\nand\n\nnewlines   trailing  ',
  'Unicode: café, naïve, Straße, 東京, Привет, emoji 😀🤖 and é composed',
  'special <|endoftext|> in the middle<|endoftext|>',
  '',
];

describe('GPT-2 byte-level BPE from the embedded vocabulary', () => {
  const tok = gpt2Tokenizer();
  const ref = getEncoding('r50k_base');

  it('encodes exactly like r50k_base and round-trips', () => {
    for (const s of SAMPLES) {
      expect(tok.encode(s)).toEqual(ref.encode(s, 'all'));
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('matches r50k_base on a real text (the README of this package)', () => {
    const text = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const ids = tok.encode(text);
    expect(ids).toEqual(ref.encode(text, 'all'));
    expect(tok.decode(ids)).toBe(text);
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => tok.decode([50257])).toThrow(/ids must be in/);
    expect(() => tok.decode([-1])).toThrow(/ids must be in/);
  });
});
