// Where attnode and llama.cpp read a GGUF file differently, tensor by tensor, with ggml's own code
// (ggml-rows.c against node-llama-cpp's prebuilt libraries) as the reference:
//  1. dequantized values: ggml's to_float against attnode's reference dequantizer, bit for bit;
//  2. row dot products (--dot): llama.cpp's CPU matmul (the CPU library its loader picks, and the
//     portable *_generic kernels) and attnode's native linear, against the f64 dot product of the
//     dequantized row, on activations from a fixed seed (N(0, 1) rows, and rows with one outlier).
// Prints one JSON line per tensor. Needs `npm run build:ts` (reads dist/). Not used by the tests.
//
//   node tools/llamacpp/diff-formats.mjs FILE.gguf [--dot] [--tensor NAME]...
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildRowsTool, dequantizeWithGgml, findLibraries } from './llamacpp.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
/** A file's bytes as f32 values (copied: a small file's Buffer is a view into a shared pool). */
const readF32 = (path) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);
const { GGUFFile } = await dist('io/gguf.js');
const { WEIGHT_FORMATS, WEIGHT_DTYPES } = await dist('tensor/formats.js');
const { Tensor } = await dist('tensor/tensor.js');
const { NativeBackend } = await dist('backend/native.js');

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--tensor');
if (!file) {
  process.stderr.write('usage: diff-formats.mjs FILE.gguf [--dot] [--tensor NAME]...\n');
  process.exit(2);
}
const wantDot = args.includes('--dot');
const only = args.flatMap((a, i) => (a === '--tensor' ? [args[i + 1]] : []));
const libs = findLibraries();
const exe = buildRowsTool(libs);
const work = mkdtempSync(join(tmpdir(), 'attnode-diff-formats-'));
const byId = new Map(WEIGHT_DTYPES.map((d) => [WEIGHT_FORMATS[d].ggufType, d]));

/** Seeded N(0, 1) (xorshift32 + Box-Muller), so runs are repeatable. */
function normals(n, seed) {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

const native = new NativeBackend();
try {
  dequantizeWithGgml(file, work, libs);
  const g = new GGUFFile(file);
  for (const t of g.tensors.values()) {
    if (only.length && !only.includes(t.name)) continue;
    const dtype = byId.get(t.type);
    const bytes = g.file.read(t.byteOffset, t.byteLength);
    // F32 bytes are the values (copied: the mapped view need not be 4-byte aligned).
    const ours = dtype === 'f32' ? new Float32Array(bytes.slice().buffer) : WEIGHT_FORMATS[dtype].dequantize(bytes);
    const theirs = readF32(join(work, `${t.name}.f32`));
    let differ = 0, first = -1, maxAbs = 0;
    for (let i = 0; i < ours.length; i++)
      if (!Object.is(ours[i], theirs[i])) {
        differ++;
        if (first < 0) first = i;
        maxAbs = Math.max(maxAbs, Math.abs(ours[i] - theirs[i]));
      }
    const line = { tensor: t.name, type: t.typeName, values: ours.length, dequant_bits_differ: differ, first_differ: first, dequant_max_abs: maxAbs };
    // token_embd is read by rows (dequantized per lookup), not multiplied.
    if (wantDot && t.shape.length === 2 && dtype !== 'f32' && t.name !== 'token_embd.weight') {
      const [n, k] = t.shape; // (N, K): N rows of K
      const m = 8;
      const x = normals(m * k, 1234 + k);
      // Rows 4..7: one activation 30x the others', as a transformer's outlier channels are.
      for (let r = 4; r < m; r++) x[r * k + ((r * 97) % k)] *= 30;
      writeFileSync(join(work, 'x.f32'), x);
      const run = (kind) => {
        execFileSync(exe, ['dot', libs.bins, file, t.name, String(k), join(work, 'x.f32'), join(work, `o-${kind}.f32`), ...(kind === 'generic' ? ['generic'] : [])], { stdio: ['ignore', 'ignore', 'ignore'] });
        return readF32(join(work, `o-${kind}.f32`));
      };
      const simd = run('simd');
      const generic = run('generic');
      const w = native.packWeight(Tensor.fromArray(dtype, [n, k], bytes));
      const att = (await native.run('linear', { x: Tensor.fromValues(x, [m, k]), weight: w })).toFloat32();
      w.dispose();
      const stat = (a, b) => {
        let worst = 0, at = -1;
        for (let i = 0; i < a.length; i++) {
          const d = Math.abs(a[i] - b[i]);
          if (d > worst) { worst = d; at = i; }
        }
        return { max_abs: Number(worst.toPrecision(3)), at: at < 0 ? null : [Math.floor(at / n), at % n] };
      };
      const exact = new Float64Array(m * n);
      for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += x[r * k + j] * theirs[c * k + j];
        exact[r * n + c] = s;
      }
      Object.assign(line, { llamacpp_simd_vs_generic: stat(simd, generic), attnode_vs_llamacpp_simd: stat(att, simd), attnode_vs_generic: stat(att, generic), llamacpp_simd_vs_f64: stat(simd, exact), attnode_vs_f64: stat(att, exact) });
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
  g.dispose();
} finally {
  native.dispose();
  rmSync(work, { recursive: true, force: true });
}
