// The original GPT-2 files: vocab.json (token -> id, also shipped as encoder.json) and
// merges.txt (also vocab.bpe). Not tokenizer.json (load.ts).
import { AddedTokens } from './added.js';
import { BpeModel } from './bpe.js';
import { byteLevelDecoder } from './decoders.js';
import { TokenizerFormatError } from './json.js';
import { readVocabMap } from './load.js';
import { byteLevelPreTokenizer } from './pretokenizers.js';
import { Tokenizer } from './tokenizer.js';

/** GPT-2's end-of-text token, special in every GPT-2 vocabulary. */
export const GPT2_END_OF_TEXT = '<|endoftext|>';

/** Parses merges.txt: an optional `#version` line, then one "left right" pair per line. */
export function parseMergesText(text: string, file = 'merges.txt'): [string, string][] {
  const out: [string, string][] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0 || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw new TokenizerFormatError(`${file}:${i + 1}`, `expected "left right", got ${JSON.stringify(line)}`);
    out.push([parts[0]!, parts[1]!]);
  });
  return out;
}

/** A byte-level BPE tokenizer from GPT-2's vocab.json text (or object) and merges.txt text. */
export function tokenizerFromGPT2(vocabJson: string | object, mergesText: string): Tokenizer {
  let v: unknown = vocabJson;
  if (typeof vocabJson === 'string') {
    try { v = JSON.parse(vocabJson); } catch (e) { throw new TokenizerFormatError('vocab.json', `not valid JSON: ${(e as Error).message}`); }
  }
  const { vocab, ids } = readVocabMap(v, 'vocab.json');
  const merges = parseMergesText(mergesText);
  const model = new BpeModel(vocab, ids, merges, {
    byteLevel: true, unkToken: null, continuingSubwordPrefix: null, endOfWordSuffix: null, fuseUnk: false, byteFallback: false, ignoreMerges: false,
  }, { vocab: 'vocab.json', merges: 'merges.txt', unk: 'vocab.json' });
  const eot = vocab.get(GPT2_END_OF_TEXT);
  const added = new AddedTokens(eot === undefined ? [] : [{ id: eot, content: GPT2_END_OF_TEXT, special: true, lstrip: false, rstrip: false, singleWord: false }]);
  return new Tokenizer({
    model, normalizer: null, preTokenizer: byteLevelPreTokenizer(false, true), postProcessor: null, decoder: byteLevelDecoder, byteLevelDecoder: true, added,
  });
}
