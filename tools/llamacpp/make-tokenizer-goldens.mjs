// Goldens for GGUF byte-level vocabularies by tokenizer.ggml.pre type, recorded by llama.cpp's own
// tokenizer: the vocabulary of test/fixtures/tokenizers/bpe-bytelevel-digits.json with the merges
// below added, written once per pre type into a vocabulary-only GGUF file, and each corpus file
// (test/fixtures/tokenizer-corpus) tokenized by llama.cpp (no special tokens added or parsed).
// test/tokenizer/gguf-pre.test.ts checks attnode's ids against them.
//
//   npm run build:ts && node tools/llamacpp/make-tokenizer-goldens.mjs
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findLibraries, runClient } from './llamacpp.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { writeGGUF } = await import(join(ROOT, 'dist', 'io', 'gguf-write.js'));
const { GGUF_PRE_TYPES } = await import(join(ROOT, 'dist', 'tokenizer', 'gguf.js'));
const CORPUS = join(ROOT, 'test', 'fixtures', 'tokenizer-corpus');
const OUT = join(ROOT, 'test', 'fixtures', 'tokenizers', 'gguf-pre-goldens.json');

/** Merges across the boundaries the types draw differently, so that the splits show in the ids. */
export const EXTRA_MERGES = ['Ġ 1', '1 2', '12 3', '123 4', 'o W', "' S", 'Ċ Ġ', 'Ġ Ċ', 'S t', 'H e', ': Ġ'];

const fixture = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'tokenizers', 'bpe-bytelevel-digits.json'), 'utf8'));
const tokens = [];
for (const [t, id] of Object.entries(fixture.model.vocab)) tokens[id] = t;
const merges = [...fixture.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' '))), ...EXTRA_MERGES];
for (const m of EXTRA_MERGES) if (!tokens.includes(m.replace(' ', ''))) tokens.push(m.replace(' ', ''));

const u32 = (value) => ({ type: 'u32', value });
function vocabFile(path, pre) {
  // llama.cpp reads an architecture's hyperparameters even for a vocabulary-only load.
  writeGGUF(path, [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['llama.context_length', u32(64)], ['llama.embedding_length', u32(8)], ['llama.feed_forward_length', u32(16)],
    ['llama.block_count', u32(1)], ['llama.attention.head_count', u32(2)], ['llama.rope.dimension_count', u32(4)],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', values: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', of: 'i32', values: tokens.map((_, i) => (i === 0 ? 3 : 1)) }],
    ['tokenizer.ggml.merges', { type: 'array', of: 'string', values: merges }],
    ['tokenizer.ggml.bos_token_id', u32(0)], ['tokenizer.ggml.eos_token_id', u32(0)],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ], []);
}

const files = readdirSync(CORPUS).sort();
const work = mkdtempSync(join(tmpdir(), 'attnode-pre-'));
const types = {};
// attnode's own aliases that llama.cpp does not know (it refuses the file).
const refused = [];
const nfcInput = {};
try {
  for (const pre of Object.keys(GGUF_PRE_TYPES)) {
    const path = join(work, `${pre}.gguf`);
    vocabFile(path, pre);
    let out;
    try {
      out = runClient(['tokenize', path, ...files.map((f) => join(CORPUS, f))]);
    } catch (e) {
      if (!String(e.message).includes(`unknown pre-tokenizer type: '${pre}'`)) throw e;
      refused.push(pre);
      process.stdout.write(`${pre}: not a llama.cpp type\n`);
      continue;
    }
    const res = JSON.parse(out);
    types[pre] = Object.fromEntries(res.files.map((r, i) => [files[i], r.ids]));
    if (GGUF_PRE_TYPES[pre].nfc) {
      // Qwen's tokenizer.json normalizes to NFC and llama.cpp does not: its ids of the NFC text too.
      const nfc = files.map((f) => {
        const p = join(work, `nfc-${f}`);
        writeFileSync(p, readFileSync(join(CORPUS, f), 'utf8').normalize('NFC'));
        return p;
      });
      nfcInput[pre] = Object.fromEntries(JSON.parse(runClient(['tokenize', path, ...nfc])).files.map((r, i) => [files[i], r.ids]));
    }
    process.stdout.write(`${pre}: ${res.files.reduce((n, r) => n + r.ids.length, 0)} ids\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const libs = findLibraries();
writeFileSync(OUT, JSON.stringify({
  header: { script: 'tools/llamacpp/make-tokenizer-goldens.mjs', reference: `llama.cpp ${libs.release} (node-llama-cpp ${libs.nodeLlamaCpp}) llama_tokenize, vocabulary only`,
    vocabulary: 'test/fixtures/tokenizers/bpe-bytelevel-digits.json plus extra_merges', layout_version: 1 },
  extra_merges: EXTRA_MERGES, types, nfc_input: nfcInput, llama_cpp_refuses: refused,
}));
