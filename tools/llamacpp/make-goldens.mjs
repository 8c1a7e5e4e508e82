// Quantizes the llama-k256 fixture's f32 GGUF with llama.cpp into every legacy and k-quant type it
// makes without an importance matrix, and records llama.cpp's logits and greedy continuations for
// each file as goldens (test/gguf-llamacpp.test.ts reads them). Not the fixture itself
// (tools/reference/make_llamacpp_fixture.py) and not needed at test time.
//
//   node tools/llamacpp/make-goldens.mjs [--dir test/fixtures/models/llama-k256] [--keep TYPE,...]
//
// Every type is quantized and evaluated; --keep names the files to leave in the fixture folder
// (F32, F16 and quantized types; the rest are deleted once their goldens are written, to keep the
// repository small; make_llamacpp_fixture.py writes the F32 and F16 files again). The committed set:
//   --keep F16,Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q3_K_M,Q4_K_M,Q5_K_M,Q6_K,IQ4_NL,IQ4_XS
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluate, findLibraries, quantize, runClient, tensorTypes } from './llamacpp.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
const LAYOUT_VERSION = 1;
/** Logits kept per prompt: the last LAST positions (all of the shorter prompts). */
const LAST = 8;
const GREEDY = 16;
/** Rounding of the recorded logits (absolute), far below every format's budget. */
const DECIMALS = 5;
/** llama.cpp's ftype names, in enum order; each becomes model-<lower-case name>.gguf. */
export const QUANT_TYPES = ['Q4_0', 'Q4_1', 'Q8_0', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q4_K_S', 'Q4_K_M',
  'Q5_K_S', 'Q5_K_M', 'Q6_K', 'IQ4_NL', 'IQ4_XS'];

const { values: opts } = parseArgs({ options: { dir: { type: 'string' }, keep: { type: 'string' } } });
const dir = resolve(opts.dir ?? join(ROOT, 'test', 'fixtures', 'models', 'llama-k256'));
const BASE_TYPES = ['F32', 'F16'];
const keep = new Set((opts.keep ?? [...BASE_TYPES, ...QUANT_TYPES].join(',')).split(',').filter(Boolean));
for (const t of keep) {
  if (!QUANT_TYPES.includes(t) && !BASE_TYPES.includes(t)) throw new Error(`--keep: unknown type ${t} (expected some of ${[...BASE_TYPES, ...QUANT_TYPES].join(',')})`);
}

const torch = JSON.parse(readFileSync(join(dir, 'torch-goldens.json'), 'utf8'));
const prompts = torch.prompts.map((p) => p.prompt);
const libs = findLibraries();
const version = JSON.parse(runClient(['version'])).llama_cpp_version;
const round = (x) => Number(x.toFixed(DECIMALS));
const sha256 = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');

function record(file, type, ftypeName) {
  const r = evaluate(file, prompts, { last: LAST, greedy: GREEDY });
  return {
    type, ftype_name: ftypeName, bytes: statSync(file).size, sha256: sha256(file), desc: r.desc,
    tensor_types: tensorTypes(file),
    prompts: r.prompts.map((p) => ({ logits_from: p.logits_from, logits: p.logits.map((row) => row.map(round)), greedy: p.greedy,
      greedy_top2_gaps: p.greedy_top2_gaps.map(round) })),
  };
}

const files = {};
const f32 = join(dir, 'model-f32.gguf');
files['model-f32.gguf'] = { ...record(f32, 'F32', 'all F32'), committed: keep.has('F32') };
files['model-f16.gguf'] = { ...record(join(dir, 'model-f16.gguf'), 'F16', 'F16'), committed: keep.has('F16') };
for (const type of QUANT_TYPES) {
  const name = `model-${type.toLowerCase()}.gguf`;
  const out = join(dir, name);
  const q = quantize(f32, out, type);
  files[name] = { ...record(out, type, q.ftype_name), committed: keep.has(type) };
  if (!keep.has(type)) rmSync(out);
  process.stderr.write(`${type}: ${files[name].bytes} bytes, greedy ${files[name].prompts.map((p) => p.greedy.slice(0, 4).join(' ')).join(' | ')}\n`);
}

if (!keep.has('F16')) rmSync(join(dir, 'model-f16.gguf'));
if (!keep.has('F32')) rmSync(f32);

const goldens = {
  header: {
    script: 'tools/llamacpp/make-goldens.mjs', fixture_script: torch.header.script, seed: torch.header.seed,
    reference: `llama.cpp ${libs.release} (${libs.repo}; llama_version ${version}), CPU libraries of node-llama-cpp ${libs.nodeLlamaCpp}`,
    settings: { kv_cache: 'f32', flash_attn: 'off', threads: 1, quantize: 'llama_model_quantize defaults, no imatrix, 1 thread' },
    layout_version: LAYOUT_VERSION,
    note: `per file: logits of the last ${LAST} positions of each prompt (rounded to ${DECIMALS} decimals), greedy continuations of ${GREEDY} tokens, ggml's tensor types; files with committed false were quantized and measured but are not in the repository`,
  },
  source: relative(dir, f32), prompts, files,
};
writeFileSync(join(dir, 'llamacpp-goldens.json'), JSON.stringify(goldens));
process.stderr.write(`wrote ${join(dir, 'llamacpp-goldens.json')}\n`);
