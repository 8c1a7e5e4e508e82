// Driver for llamacpp-ref.c: finds llama.cpp's prebuilt CPU libraries in an on-demand install of
// node-llama-cpp, compiles the C client with gcc, and runs its `quantize` and `eval` commands.
// llama.cpp is a reference here, never a dependency of attnode; nothing in the tests needs it.
//
//   node tools/llamacpp/llamacpp.mjs version
//   node tools/llamacpp/llamacpp.mjs quantize IN.gguf OUT.gguf Q4_K_M [--pure]
//   node tools/llamacpp/llamacpp.mjs eval MODEL.gguf --prompt 1,2,3 [--prompt ...] [--last N]
//        [--greedy 16] [--kv f32|f16] [--flash-attn off|on|auto] [--ctx N] [--dump DIR]   (JSON on stdout)
//   node tools/llamacpp/llamacpp.mjs eval-seq2seq MODEL.gguf --input 1,2,3 --decoder 0,5 [...] [--greedy 16]
//   node tools/llamacpp/llamacpp.mjs tensors FILE.gguf   (tensor name -> ggml type, by ggml's reader)
//   node tools/llamacpp/llamacpp.mjs tokenize MODEL.gguf TEXT_FILE...   (ids, vocabulary only)
//
// The libraries are looked up in $NODE_LLAMA_CPP_MODULES (a node_modules folder holding
// node-llama-cpp@3.21.1 and @node-llama-cpp/linux-x64), else in the node_modules folders above the
// current directory, then in ~/peer and in the folder where `attnode bench` installs the peer
// (bench/lib/llama-peer.ts). Install them outside the project, for example:
//   mkdir -p ~/peer && cd ~/peer && npm init -y && npm i -E --no-save node-llama-cpp@3.21.1
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const SOURCE = join(HERE, 'llamacpp-ref.c');
const PLATFORM_PACKAGE = join('@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');

function candidateModuleDirs() {
  const out = [];
  if (process.env.NODE_LLAMA_CPP_MODULES) out.push(resolve(process.env.NODE_LLAMA_CPP_MODULES));
  for (let d = process.cwd(); ; d = dirname(d)) {
    out.push(join(d, 'node_modules'));
    if (dirname(d) === d) break;
  }
  if (process.env.HOME) out.push(join(process.env.HOME, 'peer', 'node_modules'));
  // Where `attnode bench` installs the peer on demand (bench/lib/peers.ts: peerCacheDir()).
  const cache = process.env.ATTNODE_BENCH_CACHE || join(process.env.XDG_CACHE_HOME || join(process.env.HOME || '', '.cache'), 'attnode-bench');
  out.push(join(cache, `node-llama-cpp-3.21.1-${process.platform}-${process.arch}`, 'node_modules'));
  return out;
}

/** The folder holding libllama*.so and the ggml CPU backends, with the release they were built from. */
export function findLibraries() {
  for (const m of candidateModuleDirs()) {
    const bins = join(m, PLATFORM_PACKAGE);
    const meta = join(bins, '_nlcBuildMetadata.json');
    if (!existsSync(meta)) continue;
    const info = JSON.parse(readFileSync(meta, 'utf8'));
    const release = info?.buildOptions?.llamaCpp?.release;
    if (typeof release !== 'string') throw new Error(`${meta}: expected buildOptions.llamaCpp.release`);
    const pkg = JSON.parse(readFileSync(join(m, 'node-llama-cpp', 'package.json'), 'utf8'));
    return { bins, release, repo: info.buildOptions.llamaCpp.repo, nodeLlamaCpp: pkg.version };
  }
  throw new Error('llama.cpp libraries not found: set NODE_LLAMA_CPP_MODULES to a node_modules folder with ' +
    'node-llama-cpp@3.21.1 installed (npm i -E --no-save node-llama-cpp@3.21.1, outside this project)');
}

/** Compiles llamacpp-ref.c against the libraries (once per source change) and returns its path. */
export function buildClient(libs = findLibraries()) {
  const outDir = join(ROOT, 'build', 'llamacpp-ref');
  const exe = join(outDir, 'llamacpp-ref');
  if (existsSync(exe) && statSync(exe).mtimeMs > statSync(SOURCE).mtimeMs) return exe;
  mkdirSync(outDir, { recursive: true });
  const lib = `llama.${libs.release}.so`;
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-std=c11', '-o', exe, SOURCE, `-L${libs.bins}`,
    `-l:lib${lib}`, `-l:libggml.${libs.release}.so`, '-lggml-base', `-Wl,-rpath,${libs.bins}`], { stdio: 'inherit' });
  return exe;
}

/** Compiles ggml-rows.c (ggml's to_float and vec_dot per tensor) against the libraries; returns its path. */
export function buildRowsTool(libs = findLibraries()) {
  const src = join(HERE, 'ggml-rows.c');
  const exe = join(ROOT, 'build', 'llamacpp-ref', 'ggml-rows');
  if (existsSync(exe) && statSync(exe).mtimeMs > statSync(src).mtimeMs) return exe;
  mkdirSync(dirname(exe), { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-std=c11', '-o', exe, src, `-L${libs.bins}`, '-lggml-base', '-ldl', `-Wl,-rpath,${libs.bins}`], { stdio: 'inherit' });
  return exe;
}

/** ggml's to_float of every tensor of `file`, as OUT_DIR/<tensor>.f32 files. */
export function dequantizeWithGgml(file, outDir, libs = findLibraries()) {
  execFileSync(buildRowsTool(libs), ['dequant', libs.bins, file, outDir], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Runs the client; returns its stdout (JSON text). Throws with llama.cpp's messages on failure. */
export function runClient(args) {
  const libs = findLibraries();
  const exe = buildClient(libs);
  const r = spawnSync(exe, [libs.bins, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`llamacpp-ref ${args[0]} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/** Quantizes `input` into `output` with llama.cpp's rules for `type` (Q4_0 ... IQ4_XS). */
export function quantize(input, output, type, { pure = false } = {}) {
  return JSON.parse(runClient(['quantize', input, output, type, ...(pure ? ['--pure'] : [])]));
}

/**
 * Evaluates `model` on each prompt: logits of the last `last` positions (all when omitted) and a
 * greedy continuation of `greedy` ids, with f32 K/V and flash attention off unless asked.
 */
export function evaluate(model, prompts, { last, greedy = 16, kv = 'f32', flashAttn = 'off' } = {}) {
  const args = ['eval', model, ...prompts.flatMap((p) => ['--prompt', p.join(',')]), '--greedy', String(greedy),
    '--kv', kv, '--flash-attn', flashAttn];
  if (last !== undefined) args.push('--last', String(last));
  return JSON.parse(runClient(args));
}

/**
 * Evaluates an encoder-decoder `model` (T5) on each { input, decoder } pair: llama_encode over the
 * input, the logits of every decoder position (teacher-forced), and a greedy continuation.
 */
export function evaluateSeq2Seq(model, cases, { greedy = 16, kv = 'f32' } = {}) {
  const args = ['eval-seq2seq', model, ...cases.flatMap((c) => ['--input', c.input.join(','), '--decoder', c.decoder.join(',')]),
    '--greedy', String(greedy), '--kv', kv];
  return JSON.parse(runClient(args));
}

/** Tensor name -> ggml type name, as ggml's own GGUF reader lists them. */
export function tensorTypes(file) {
  return JSON.parse(runClient(['tensors', file]));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!cmd || !['version', 'quantize', 'eval', 'eval-seq2seq', 'tensors', 'tokenize'].includes(cmd)) {
    process.stderr.write('usage: llamacpp.mjs version | quantize IN OUT TYPE [--pure] | eval MODEL --prompt IDS ... | eval-seq2seq MODEL --input IDS --decoder IDS ... | tensors FILE | tokenize MODEL FILE...\n');
    process.exit(2);
  }
  try {
    const libs = findLibraries();
    if (cmd === 'version') {
      const v = JSON.parse(runClient(['version']));
      process.stdout.write(JSON.stringify({ ...v, release: libs.release, repo: libs.repo, nodeLlamaCpp: libs.nodeLlamaCpp }) + '\n');
    } else {
      process.stdout.write(runClient([cmd, ...rest]));
    }
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
