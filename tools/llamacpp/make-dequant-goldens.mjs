// Goldens of ggml's own dequantization (to_float of libggml-base, node-llama-cpp 3.21.1's
// prebuilt libraries) for every block tensor of the llama-k256 files: llama.cpp's committed
// quantizations and `attnode quantize`'s output of each type. Per tensor, the sha256 of ggml's f32
// values (little-endian bytes); test/ggml-dequant.test.ts checks that attnode's reference
// dequantizers give the same bits.
//
//   npm run build:ts && node tools/llamacpp/make-dequant-goldens.mjs
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dequantizeWithGgml, findLibraries } from './llamacpp.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { convertHFToGGUF } = await import(join(ROOT, 'dist', 'convert', 'hf-to-gguf.js'));
const { quantizeGGUF } = await import(join(ROOT, 'dist', 'convert', 'quantize.js'));
const { GGUFFile } = await import(join(ROOT, 'dist', 'io', 'gguf.js'));
const DIR = join(ROOT, 'test', 'fixtures', 'models', 'llama-k256');
const OUT = join(DIR, 'ggml-dequant-goldens.json');
const LAYOUT_VERSION = 1;
/** The types test/convert.test.ts has llama.cpp read back from `attnode quantize`. */
const QUANTIZE_TYPES = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k_m', 'q4_k_m', 'q5_k_m', 'q6_k', 'iq4_nl', 'iq4_xs'];

const libs = findLibraries();
const work = mkdtempSync(join(tmpdir(), 'attnode-dequant-goldens-'));
/** tensor -> sha256 of ggml's f32 values, for the block-format tensors of `file`. */
function hashes(file) {
  const dir = mkdtempSync(join(work, 'd-'));
  dequantizeWithGgml(file, dir, libs);
  const g = new GGUFFile(file);
  const out = {};
  for (const t of g.tensors.values()) if (t.typeName !== 'F32' && t.typeName !== 'F16') out[t.name] = { type: t.typeName, sha256: createHash('sha256').update(readFileSync(join(dir, `${t.name}.f32`))).digest('hex') };
  g.dispose();
  return out;
}
try {
  const files = {};
  for (const f of readdirSync(DIR).filter((n) => /^model-.*\.gguf$/.test(n) && n !== 'model-f16.gguf').sort()) files[f] = hashes(join(DIR, f));
  const f32 = join(work, 'k256-f32.gguf');
  convertHFToGGUF(DIR, f32, { type: 'f32', name: 'llama-k256' });
  for (const t of QUANTIZE_TYPES) {
    const out = join(work, `k256-${t}.gguf`);
    quantizeGGUF(f32, out, t);
    files[`quantize f32 ${t}`] = hashes(out);
  }
  const header = {
    script: 'tools/llamacpp/make-dequant-goldens.mjs', layout_version: LAYOUT_VERSION,
    reference: `ggml to_float (libggml-base) of llama.cpp ${libs.release}, node-llama-cpp ${libs.nodeLlamaCpp}`,
    note: "per file (a committed llama.cpp quantization, or 'quantize f32 <type>': attnode quantize of the fixture converted to f32), per block tensor: sha256 of ggml's dequantized f32 values",
  };
  writeFileSync(OUT, JSON.stringify({ header, files }, null, 1) + '\n');
  process.stdout.write(`wrote ${OUT}: ${Object.keys(files).length} files\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
