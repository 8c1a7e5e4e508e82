// Goldens for `attnode convert` / `attnode quantize` recorded by llama.cpp on the files they write:
// the llama-k256 fixture converted to f32, f16 and q8_0 (and requantized f32 -> q8_0), and each
// tiny HF fixture (gpt2, llama, mistral, qwen2, qwen3) converted to f32 with a stand-in tokenizer.
// test/convert.test.ts checks that attnode writes the very same bytes (sha256) and agrees with them.
//
//   npm run build:ts && node tools/llamacpp/make-convert-goldens.mjs
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { evaluate, findLibraries, runClient } from './llamacpp.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { convertHFToGGUF } = await import(join(ROOT, 'dist', 'convert', 'hf-to-gguf.js'));
const { quantizeGGUF } = await import(join(ROOT, 'dist', 'convert', 'quantize.js'));
const MODELS = join(ROOT, 'test', 'fixtures', 'models');
const TOKENIZERS = join(ROOT, 'test', 'fixtures', 'tokenizers');
const LAYOUT_VERSION = 1;
/** The block formats and mixes `attnode quantize` writes that llama.cpp is asked to read back. */
export const QUANTIZE_TYPES = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k_m', 'q4_k_m', 'q5_k_m', 'q6_k', 'iq4_nl', 'iq4_xs'];
const DECIMALS = 5;
const round = (x) => Number(x.toFixed(DECIMALS));
const sha256 = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** GPT-2's byte -> printable character map (the byte-level BPE alphabet). */
function byteLevelAlphabet() {
  const keep = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return out;
}

/** Stand-in 256-token tokenizers for the tiny fixtures (their goldens use ids only). */
export function standInTokenizers() {
  const bytes = byteLevelAlphabet();
  const byteLevel = {
    version: '1.0', added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
      vocab: Object.fromEntries(bytes.map((c, i) => [c, i])), merges: [] },
  };
  const specials = ['<unk>', '<s>', '</s>'];
  const spmVocab = [...specials, ...Array.from({ length: 253 }, (_, i) => `<0x${(i + 3).toString(16).toUpperCase().padStart(2, '0')}>`)];
  const spm = {
    version: '1.0',
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
    pre_tokenizer: null, post_processor: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true,
      vocab: Object.fromEntries(spmVocab.map((t, i) => [t, i])), merges: [] },
  };
  return { byteLevel, spm };
}

const libs = findLibraries();
const version = JSON.parse(runClient(['version'])).llama_cpp_version;
const work = mkdtempSync(join(tmpdir(), 'attnode-convert-'));
const out = { header: {
  script: 'tools/llamacpp/make-convert-goldens.mjs', layout_version: LAYOUT_VERSION,
  reference: `llama.cpp ${libs.release} (${libs.repo}; llama_version ${version}), CPU libraries of node-llama-cpp ${libs.nodeLlamaCpp}`,
  settings: { kv_cache: 'f32', flash_attn: 'off', threads: 1 },
  note: 'per output: sha256 of the file attnode wrote, llama.cpp logits of the last positions (rounded) and greedy ids; tiny fixtures: also max |llama.cpp - PyTorch| on last-position logits',
}, k256: {}, tiny: {} };

try {
  // llama-k256, whose prompts and goldens are in its own folder.
  const k256 = join(MODELS, 'llama-k256');
  const prompts = JSON.parse(readFileSync(join(k256, 'llamacpp-goldens.json'), 'utf8')).prompts;
  const record = (file) => {
    const r = evaluate(file, prompts, { last: 8, greedy: 16 });
    return { sha256: sha256(file), prompts: r.prompts.map((p) => ({ logits_from: p.logits_from, logits: p.logits.map((row) => row.map(round)), greedy: p.greedy, greedy_top2_gaps: p.greedy_top2_gaps.map(round) })) };
  };
  for (const type of ['f32', 'f16', 'q8_0']) {
    const f = join(work, `k256-${type}.gguf`);
    convertHFToGGUF(k256, f, { type, name: 'llama-k256' });
    out.k256[`convert ${type}`] = { type: type.toUpperCase(), ...record(f) };
  }
  const q = join(work, 'k256-requant-q8_0.gguf');
  quantizeGGUF(join(work, 'k256-f32.gguf'), q, 'q8_0');
  out.k256['quantize f32 q8_0'] = { type: 'Q8_0', ...record(q) };
  // attnode's own block quantizers, whose files llama.cpp must load and agree with.
  for (const type of QUANTIZE_TYPES) {
    const f = join(work, `k256-requant-${type}.gguf`);
    quantizeGGUF(join(work, 'k256-f32.gguf'), f, type);
    out.k256[`quantize f32 ${type}`] = { type: type.toUpperCase(), ...record(f) };
  }

  // The tiny fixtures, each with a stand-in tokenizer, against their PyTorch goldens.
  const { byteLevel, spm } = standInTokenizers();
  writeFileSync(join(TOKENIZERS, 'stand-in-bytelevel-256.json'), JSON.stringify(byteLevel));
  writeFileSync(join(TOKENIZERS, 'stand-in-spm-256.json'), JSON.stringify(spm));
  const torch = JSON.parse(readFileSync(join(MODELS, 'goldens.json'), 'utf8')).models;
  for (const [name, tok] of [['gpt2-tiny', 'bytelevel'], ['llama-tiny', 'spm'], ['mistral-tiny', 'spm'], ['qwen2-tiny', 'bytelevel'], ['qwen3-tiny', 'bytelevel']]) {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) {
      copyFileSync(join(MODELS, name, f), join(dir, f));
    }
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok === 'spm' ? spm : byteLevel));
    const f = join(work, `${name}.gguf`);
    convertHFToGGUF(dir, f, { type: 'f32', name });
    const ps = torch[name].prompts;
    const r = evaluate(f, ps.map((p) => p.prompt), { last: 1, greedy: 16 });
    out.tiny[name] = {
      tokenizer: `stand-in-${tok === 'spm' ? 'spm' : 'bytelevel'}-256.json`, sha256: sha256(f), architecture: r.architecture,
      prompts: r.prompts.map((p, i) => {
        const want = ps[i].logits;
        const diff = Math.max(...p.logits[0].map((v, j) => Math.abs(v - want[j])));
        return { prompt_length: ps[i].prompt.length, max_abs_diff_vs_torch: diff, greedy: p.greedy, torch_greedy: ps[i].greedy, logits: p.logits[0].map(round) };
      }),
    };
    process.stderr.write(`${name}: ${r.architecture}, max |llama.cpp - torch| ${out.tiny[name].prompts.map((p) => p.max_abs_diff_vs_torch.toExponential(1)).join(' ')}\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
writeFileSync(join(MODELS, 'convert-goldens.json'), JSON.stringify(out));
process.stderr.write(`wrote ${join(MODELS, 'convert-goldens.json')}\n`);
