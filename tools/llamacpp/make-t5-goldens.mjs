// llama.cpp's goldens for T5 GGUF files that `attnode convert` writes: the t5-gguf-* fixtures
// (tools/reference/make_t5_gguf.py) converted to F32, F16 and Q8_0, each evaluated by llama.cpp
// (llama_encode over the input, teacher-forced llama_decode over the decoder ids of the PyTorch
// goldens; and greedy ids from the decoder start token alone), and the tokenizer corpus tokenized by llama.cpp's 't5'
// (UGM) vocabulary of the F32 file. test/t5-gguf-llamacpp.test.ts converts the fixtures again,
// checks that the bytes are the ones recorded here (sha256), and compares attnode with them.
//
// With --k256 DIR instead: the k-quant files of a wider T5 quantized by llama.cpp (see k256()).
//
//   npm run build:ts && node tools/llamacpp/make-t5-goldens.mjs
//   python3 tools/reference/make_t5_gguf.py --k256 /tmp/k256 && node tools/llamacpp/make-t5-goldens.mjs --k256 /tmp/k256
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateSeq2Seq, findLibraries, quantize, runClient, tensorTypes } from './llamacpp.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures', 'models');
const CORPUS = join(ROOT, 'test', 'fixtures', 'tokenizer-corpus');
const { convertHFToGGUF } = await import(join(ROOT, 'dist', 'convert', 'hf-to-gguf.js'));
const LAYOUT_VERSION = 1;
const MODELS = ['t5-gguf-tiny', 't5-gguf-tied'];
const TYPES = ['f32', 'f16', 'q8_0'];
/** llama.cpp's k-quant ftypes for the t5-k256 files (--k256). */
const K_TYPES = ['Q2_K', 'Q3_K_M', 'Q4_K_M', 'Q5_K_M', 'Q6_K'];
/** The ones kept in the repository, per variant: together they hold Q2_K, Q3_K, Q4_K, Q5_K and Q6_K tensors. */
const K_KEEP = { gated: ['Q4_K_M'], relu: ['Q2_K', 'Q5_K_M'] };
const GREEDY = 12;
/** Rounding of the recorded logits (absolute), far below every format's budget. */
const DECIMALS = 5;
const round = (x) => Number(x.toFixed(DECIMALS));

const torch = JSON.parse(readFileSync(join(FIX, 't5-gguf-goldens.json'), 'utf8'));
const libs = findLibraries();
const version = JSON.parse(runClient(['version'])).llama_cpp_version;
const work = mkdtempSync(join(tmpdir(), 't5-gguf-'));
const reference = `llama.cpp ${libs.release} (${libs.repo}; llama_version ${version}), CPU libraries of node-llama-cpp ${libs.nodeLlamaCpp}`;
const { values: opts } = parseArgs({ options: { k256: { type: 'string' } } });
if (opts.k256) {
  k256(resolve(opts.k256));
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

/**
 * --k256 DIR (make_t5_gguf.py --k256 DIR's gated-GELU and ReLU checkpoints): each converted to F32
 * by attnode convert, then quantized by llama.cpp into the k-quant types, some of which are kept in
 * test/fixtures/models/t5-k256, with llama.cpp's logits and greedy ids of each (and of the F32 files).
 */
function k256(dir) {
  const out = join(FIX, 't5-k256');
  mkdirSync(out, { recursive: true });
  const cases = torch.models['t5-gguf-tiny'];
  const run = (file) => {
    const r = evaluateSeq2Seq(file, cases.map((c) => ({ input: c.input, decoder: c.decoderIds })), { greedy: 1 });
    const g = evaluateSeq2Seq(file, cases.map((c) => ({ input: c.input, decoder: [c.decoderIds[0]] })), { greedy: GREEDY });
    return r.cases.map((c, i) => ({ logits: c.logits.map((row) => row.map(round)), greedy: g.cases[i].greedy, greedy_top2_gaps: g.cases[i].greedy_top2_gaps.map(round) }));
  };
  const files = {};
  for (const variant of ['gated', 'relu']) {
    const f32 = join(work, `t5-k256-${variant}-f32.gguf`);
    convertHFToGGUF(join(dir, variant), f32, { type: 'f32', name: `t5-k256-${variant}` });
    files[`model-${variant}-f32.gguf`] = { variant, type: 'F32', committed: false, cases: run(f32) };
    for (const type of K_TYPES) {
      const name = `model-${variant}-${type.toLowerCase()}.gguf`;
      const file = join(out, name);
      const q = quantize(f32, file, type);
      const bytes = readFileSync(file);
      const keep = K_KEEP[variant].includes(type);
      files[name] = { variant, type, ftype_name: q.ftype_name, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex'), committed: keep,
        tensor_types: tensorTypes(file), cases: run(file) };
      if (!keep) rmSync(file);
      process.stderr.write(`t5-k256 ${variant} ${type}: greedy ${files[name].cases.map((c) => c.greedy.join(' ')).join(' | ')}\n`);
    }
  }
  writeFileSync(join(out, 'llamacpp-goldens.json'), JSON.stringify({
    header: {
      script: 'tools/llamacpp/make-t5-goldens.mjs --k256', fixture_script: `${torch.header.script} --k256`, reference,
      settings: { kv_cache: 'f32', flash_attn: 'off', threads: 1, quantize: 'llama_model_quantize defaults, no imatrix, 1 thread', source: 'attnode convert --type f32' },
      layout_version: LAYOUT_VERSION,
      note: `inputs and decoder ids: the t5-gguf-tiny cases of ${torch.header.script}'s goldens; per file: llama.cpp's logits of every decoder position, greedy ids (${GREEDY}) from the start token; files with committed false were quantized and measured but are not in the repository`,
    },
    cases: cases.map((c) => ({ input: c.input, decoderIds: c.decoderIds })), files,
  }));
  process.stderr.write(`wrote ${join(out, 'llamacpp-goldens.json')}\n`);
}

const models = {};
try {
  for (const name of MODELS) {
    const forced = torch.models[name].map((c) => ({ input: c.input, decoder: c.decoderIds }));
    // Greedy from the decoder start token alone, as the PyTorch goldens' greedy ids are.
    const fromStart = torch.models[name].map((c) => ({ input: c.input, decoder: [c.decoderIds[0]] }));
    models[name] = {};
    for (const type of TYPES) {
      const file = join(work, `${name}-${type}.gguf`);
      convertHFToGGUF(join(FIX, name), file, { type, name });
      const r = evaluateSeq2Seq(file, forced, { greedy: 1 });
      const g = evaluateSeq2Seq(file, fromStart, { greedy: GREEDY });
      const bytes = readFileSync(file);
      models[name][type] = {
        bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex'), desc: r.desc,
        decoder_start_token: r.decoder_start_token, n_vocab: r.n_vocab, tensor_types: tensorTypes(file),
        cases: r.cases.map((c, i) => ({ logits: c.logits.map((row) => row.map(round)), greedy: g.cases[i].greedy, greedy_top2_gaps: g.cases[i].greedy_top2_gaps.map(round) })),
      };
      process.stderr.write(`${name} ${type}: greedy ${g.cases.map((c) => c.greedy.join(' ')).join(' | ')}\n`);
    }
  }
  // llama.cpp's tokenization of each corpus file (no special tokens added or parsed) with the F32 file's vocabulary.
  const files = readdirSync(CORPUS).sort().map((f) => join(CORPUS, f));
  const tok = JSON.parse(runClient(['tokenize', join(work, `${MODELS[0]}-f32.gguf`), ...files]));
  const tokenizer = tok.files.map((f) => ({ file: f.file.slice(CORPUS.length + 1), ids: f.ids }));
  const goldens = {
    header: {
      script: 'tools/llamacpp/make-t5-goldens.mjs', fixture_script: torch.header.script, seed: torch.header.seed,
      reference,
      settings: { kv_cache: 'f32', flash_attn: 'off', threads: 1, converter: 'attnode convert (dist/convert/hf-to-gguf.js)' },
      layout_version: LAYOUT_VERSION,
      note: `per model and type: llama.cpp's logits of every decoder position of each case of ${torch.header.script}'s goldens (rounded to ${DECIMALS} decimals), ` +
        `greedy ids (${GREEDY}) from the decoder start token alone with their top-2 gaps, ggml's tensor types; tokenizer: the corpus files tokenized by the ${MODELS[0]} F32 file's vocabulary`,
    },
    types: TYPES, models, tokenizer,
  };
  writeFileSync(join(FIX, 't5-gguf-llamacpp.json'), JSON.stringify(goldens));
  process.stderr.write(`wrote ${join(FIX, 't5-gguf-llamacpp.json')}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
