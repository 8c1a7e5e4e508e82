// llama.cpp's goldens for T5 GGUF files that `attnode convert` writes: the t5-gguf-* fixtures
// (tools/reference/make_t5_gguf.py) converted to F32, F16 and Q8_0, each evaluated by llama.cpp
// (llama_encode over the input, teacher-forced llama_decode over the decoder ids of the PyTorch
// goldens; and greedy ids from the decoder start token alone), and the tokenizer corpus tokenized by llama.cpp's 't5'
// (UGM) vocabulary of the F32 file. test/t5-gguf-llamacpp.test.ts converts the fixtures again,
// checks that the bytes are the ones recorded here (sha256), and compares attnode with them.
//
//   npm run build:ts && node tools/llamacpp/make-t5-goldens.mjs
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { evaluateSeq2Seq, findLibraries, runClient, tensorTypes } from './llamacpp.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures', 'models');
const CORPUS = join(ROOT, 'test', 'fixtures', 'tokenizer-corpus');
const { convertHFToGGUF } = await import(join(ROOT, 'dist', 'convert', 'hf-to-gguf.js'));
const LAYOUT_VERSION = 1;
const MODELS = ['t5-gguf-tiny', 't5-gguf-tied'];
const TYPES = ['f32', 'f16', 'q8_0'];
const GREEDY = 12;
/** Rounding of the recorded logits (absolute), far below every format's budget. */
const DECIMALS = 5;
const round = (x) => Number(x.toFixed(DECIMALS));

const torch = JSON.parse(readFileSync(join(FIX, 't5-gguf-goldens.json'), 'utf8'));
const libs = findLibraries();
const version = JSON.parse(runClient(['version'])).llama_cpp_version;
const work = mkdtempSync(join(tmpdir(), 't5-gguf-'));
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
      reference: `llama.cpp ${libs.release} (${libs.repo}; llama_version ${version}), CPU libraries of node-llama-cpp ${libs.nodeLlamaCpp}`,
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
