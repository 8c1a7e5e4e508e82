#!/usr/bin/env node
// The `attnode` command: generate (streams text), inspect (parameters and memory), bench, demo.
// Argument parsing and printing only; the work is done by the library modules it imports.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { packageRoot } from './native.js';
import { BACKENDS, DTYPES, KV_DTYPES, LanguageModel, defaultModelPath, type BackendName } from './generate/model.js';
import type { KVDType } from './graph/ir.js';
import type { WeightDType } from './models/weights.js';
import type { GenerationResult } from './generate/generate.js';
import { validateGenerateOptions, type CheckedGenerateOptions, type GenerateOptions } from './generate/options.js';
import { beamSettings } from './generate/beam-search.js';
import { resolveTask, taskSpecificParams, type TaskName } from './generate/tasks.js';
import { GGUFFile } from './io/gguf.js';
import { BYTES_PER_PARAM, countParameters, kvCacheBytes, matrixAccounting, type MatrixAccounting } from './models/params.js';
import { PRESETS } from './models/presets.js';
import { configFromGGUF } from './models/families/index.js';
import type { DecoderConfig } from './models/config.js';
import { formatBytes, formatCount } from './util/format.js';
import { ENCODER_COMMANDS, ENCODER_USAGE, runEncoderCommand, type EncoderCommand } from './cli-encoder.js';
import { CONVERT_MODEL_TYPES, convertHFToGGUF } from './convert/hf-to-gguf.js';
import { MIXES } from './convert/mixes.js';
import { quantizeGGUF } from './convert/quantize.js';

class UsageError extends Error {}

const COMMANDS = ['generate', 'translate', 'summarize', 'inspect', 'bench', 'demo', 'serve', ...ENCODER_COMMANDS, 'convert', 'quantize', 'help'] as const;

const USAGE = `usage: attnode <command> [options]

commands:
  generate [prompt]   stream a continuation of the prompt (or of stdin) to stdout
  translate [text]    an encoder-decoder's translation of the text (or of stdin): generate with
                      the model's task prefix and settings (T5's task_specific_params; --from en
                      --to de picks translation_en_to_de where it has several); needs --model
  summarize [text]    the same with its summarization task
  inspect             architecture, parameters per component, memory per dtype, KV cache
  bench [suite...]    run the benchmark suites in bench/ (all when none is named)
  demo                three prompts through the default model, with timings
  serve               OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions,
                      /health, /metrics; /v1/embeddings and /v1/rerank for an encoder
                      model) on a pool of worker threads
  convert <hf-dir> <out.gguf> [--type t]   Hugging Face checkpoint (${CONVERT_MODEL_TYPES.join(', ')}) -> GGUF
  quantize <in.gguf> <out.gguf> --type t   requantize a GGUF file
                      t: ${Object.keys(MIXES).join(' | ')} (convert default f16);
                      mixes such as q4_k_m follow llama.cpp's per-tensor rules

generate options:
  --model <file.gguf>        default: the bundled default model
  --backend <name>           ${BACKENDS.join(' | ')} (default native)
  --dtype <dtype>            ${DTYPES.join(' | ')} (default: as stored)
  --kv-dtype <dtype>         f32 | f16: the KV cache's element type (default f32)
  --threads <n>              intra-op threads of the native backend
  --max-tokens <n>           most new tokens (default 64)
  --seed <n>                 RNG seed (default: random, printed with --stats)
  --temperature <t>          0 = greedy (default 0.8)
  --top-k <k>                0 = off (default 40)
  --top-p <p>                1 = off (default 0.95)
  --min-p <p>                0 = off (default 0)
  --typical-p <p>            1 = off (default 1)
  --repetition-penalty <r>   1 = off (default 1.1)
  --presence-penalty <x>     0 = off
  --frequency-penalty <x>    0 = off
  --no-repeat-ngram <n>      0 = off
  --logit-bias <id=bias>     repeatable, e.g. --logit-bias 50256=-100
  --bad-word <text>          repeatable: text never to produce
  --stop <text>              repeatable: stop before this text
  --ignore-eos               keep going past end-of-sequence
  --num-beams <n>            beam search with n beams (default 1: sampling); the best beam is
                             printed once the search is over, the sampling flags are refused
  --num-return-sequences <n> with beams: also print the next best n - 1 (to stderr, with scores); without beams: n samples
  --length-penalty <x>       with beams: score = sum of logprobs / new tokens ** x (default 1)
  --early-stopping <when>    with beams: true | false | never (default false, as Hugging Face)
  --min-new-tokens <n>       end-of-sequence is banned before n new tokens
  --stats                    print seed, finish reason and tokens/s to stderr
  --chat                     the prompt is a user message, rendered with the model's own chat
                             template (tokenizer.chat_template); prints only the answer
  --system <text>            with --chat: a system message before it

inspect options:
  --model <file.gguf> | --config <${Object.keys(PRESETS).join(' | ')}>   --json

${ENCODER_USAGE}`;

function num(flag: string, v: string | undefined, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  const bad = v.trim() === '' || !Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max);
  if (bad) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`--${flag} must be ${opts.int ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got '${v}'`);
  }
  return n;
}

function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals: boolean) {
  try {
    return parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new UsageError(`${msg}\nallowed options: ${Object.keys(options).map((o) => `--${o}`).join(', ')}`);
  }
}

const GENERATE_OPTIONS = {
  model: { type: 'string' }, backend: { type: 'string' }, dtype: { type: 'string' }, 'kv-dtype': { type: 'string' }, threads: { type: 'string' },
  'max-tokens': { type: 'string' }, seed: { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' },
  'top-p': { type: 'string' }, 'min-p': { type: 'string' }, 'typical-p': { type: 'string' },
  'repetition-penalty': { type: 'string' }, 'presence-penalty': { type: 'string' }, 'frequency-penalty': { type: 'string' },
  'no-repeat-ngram': { type: 'string' }, 'logit-bias': { type: 'string', multiple: true }, 'bad-word': { type: 'string', multiple: true },
  stop: { type: 'string', multiple: true }, 'ignore-eos': { type: 'boolean' }, stats: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  chat: { type: 'boolean' }, system: { type: 'string' },
  'num-beams': { type: 'string' }, 'num-return-sequences': { type: 'string' }, 'length-penalty': { type: 'string' }, 'early-stopping': { type: 'string' },
  'min-new-tokens': { type: 'string' },
} as const;

/** Default sampler settings of the CLI: mild truncation that keeps a small model on topic. */
export const CLI_SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1 } as const;

/** The generate flags that set a generation option, and the option each sets. */
const GENERATION_FLAGS = {
  'max-tokens': 'maxTokens', seed: 'seed', temperature: 'temperature', 'top-k': 'topK', 'top-p': 'topP', 'min-p': 'minP', 'typical-p': 'typicalP',
  'repetition-penalty': 'repetitionPenalty', 'presence-penalty': 'presencePenalty', 'frequency-penalty': 'frequencyPenalty',
  'no-repeat-ngram': 'noRepeatNgramSize', 'logit-bias': 'logitBias', 'bad-word': 'badWords', stop: 'stop', 'ignore-eos': 'ignoreEos',
  'num-beams': 'numBeams', 'num-return-sequences': 'numReturnSequences', 'length-penalty': 'lengthPenalty', 'early-stopping': 'earlyStopping',
  'min-new-tokens': 'minNewTokens',
} as const satisfies Record<string, keyof GenerateOptions>;

/**
 * The generate flags as generation options, checked by the library's validator: its message,
 * with the option renamed to the flag, is the usage error. A flag that is not a number reaches
 * the validator as the string typed, so the message shows it.
 */
function generateOptions(v: Record<string, string | boolean | string[] | undefined>): CheckedGenerateOptions {
  // A beam search keeps the best candidates: the sampling defaults do not apply to it.
  const beams = v['num-beams'] !== undefined && Number(v['num-beams']) > 1;
  const o: Record<string, unknown> = { maxTokens: 64, ...(beams ? {} : CLI_SAMPLING) };
  const words: Record<string, boolean | 'never'> = { true: true, false: false, never: 'never' };
  for (const [flag, option] of Object.entries(GENERATION_FLAGS)) {
    const x = v[flag];
    if (x === undefined || flag === 'logit-bias') continue; // parsed below
    if (flag === 'early-stopping' && typeof x === 'string' && Object.hasOwn(words, x)) o[option] = words[x];
    else o[option] = typeof x === 'string' && x.trim() !== '' && !Number.isNaN(Number(x)) ? Number(x) : x;
  }
  const bias = new Map<number, number>();
  for (const entry of (v['logit-bias'] as string[] | undefined) ?? []) {
    const m = /^(\d+)=(.+)$/.exec(entry);
    const b = m ? Number(m[2]) : NaN;
    if (!m || Number.isNaN(b)) throw new UsageError(`--logit-bias must look like <token id>=<bias>, e.g. 50256=-100, got '${entry}'`);
    bias.set(Number(m[1]), b);
  }
  o.logitBias = bias.size > 0 ? bias : undefined;
  try {
    const checked = validateGenerateOptions(o);
    beamSettings(checked);
    return checked;
  } catch (e) {
    if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
    const flags = new Map<string, string>(Object.entries(GENERATION_FLAGS).map(([flag, option]) => [option, flag]));
    throw new UsageError(e.message.replace(/'([A-Za-z]+)'/g, (whole, option: string) => (flags.has(option) ? `--${flags.get(option)}` : whole)));
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function loadModel(v: Record<string, unknown>): Promise<LanguageModel> {
  const path = (v.model as string | undefined) ?? defaultModelPath();
  const backend = oneOf<BackendName>('backend', v.backend as string | undefined, BACKENDS) ?? 'native';
  const dtype = oneOf<WeightDType>('dtype', v.dtype as string | undefined, DTYPES);
  const kvDtype = oneOf<KVDType>('kv-dtype', v['kv-dtype'] as string | undefined, KV_DTYPES);
  const threads = num('threads', v.threads as string | undefined, { int: true, min: 1, max: 1024 });
  if (!existsSync(path)) throw new UsageError(`--model: file '${path}' does not exist`);
  const bar = await progress(`loading ${path.replace(packageRoot + '/', '')}`, 1);
  const m = await LanguageModel.load(path, {
    backend, ...(dtype === undefined ? {} : { dtype }), ...(kvDtype === undefined ? {} : { kvDtype }), ...(threads === undefined ? {} : { threads }),
  });
  bar.done();
  return m;
}

/** The part of cli-progress used here (the package ships no type declarations). */
interface CliProgress {
  SingleBar: new (opts: Record<string, unknown>, preset: unknown) => {
    start(total: number, value: number): void;
    increment(): void;
    update(value: number): void;
    stop(): void;
  };
  Presets: { shades_classic: unknown };
}

/** A cli-progress bar on a terminal; plain start/done lines on stderr otherwise. */
async function progress(label: string, total: number): Promise<{ tick(): void; done(): void }> {
  if (!process.stderr.isTTY) {
    process.stderr.write(`${label} ...\n`);
    return { tick() {}, done: () => process.stderr.write(`${label}: done\n`) };
  }
  const require = createRequire(import.meta.url);
  const cp = require('cli-progress') as CliProgress;
  const bar = new cp.SingleBar({ format: `${label} [{bar}] {value}/{total}`, stream: process.stderr, clearOnComplete: true }, cp.Presets.shades_classic);
  bar.start(total, 0);
  return { tick: () => bar.increment(), done: () => { bar.update(total); bar.stop(); } };
}

function printStats(r: GenerationResult): void {
  const t = r.timings;
  process.stderr.write(
    `\n[seed ${r.seed}, finish ${r.finishReason}, ${t.promptTokens} prompt + ${t.generatedTokens} generated tokens; ` +
      `prefill ${Number.isNaN(t.prefillTokensPerSecond) ? '-' : t.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${Number.isNaN(t.decodeTokensPerSecond) ? '-' : t.decodeTokensPerSecond.toFixed(1)} tok/s, ` +
      `first token ${(t.timeToFirstToken * 1000).toFixed(0)} ms]\n`,
  );
}

async function cmdGenerate(args: string[]): Promise<void> {
  const { values: v, positionals } = parse(args, GENERATE_OPTIONS, true);
  if (v.help) return void console.log(USAGE);
  const options = generateOptions(v);
  let prompt = positionals.join(' ');
  if (prompt === '' && !process.stdin.isTTY) prompt = (await readStdin()).replace(/\n$/, '');
  if (prompt === '') throw new UsageError('generate needs a prompt: an argument or text on stdin');
  if (v.system !== undefined && !v.chat) throw new UsageError('--system needs --chat');
  const model = await loadModel(v);
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    // --chat: the model's template turns the prompt into its conversation format; only the answer is echoed.
    const text = v.chat
      ? model.applyChatTemplate([...(v.system !== undefined ? [{ role: 'system', content: v.system }] : []), { role: 'user', content: prompt }])
      : prompt;
    const s = model.stream(text, { ...options, signal: ac.signal });
    // An encoder-decoder's output is not a continuation of its input: only the output is printed.
    const echo = v.chat || model.kind === 'encoder-decoder' ? '' : prompt;
    process.stdout.write(echo);
    for await (const chunk of s) process.stdout.write(chunk.text);
    process.stdout.write('\n');
    const r = await s.result;
    for (const [i, q] of (r.sequences ?? []).entries()) if (i > 0) process.stderr.write(`[${i + 1}] score ${q.score.toFixed(4)}: ${echo}${q.text}\n`);
    if (r.sequences && r.sequences.length > 1) process.stderr.write(`[1] score ${r.sequences[0]!.score.toFixed(4)} (printed above)\n`);
    if (v.stats) printStats(r);
  } finally {
    process.off('SIGINT', onSigint);
    model.dispose();
  }
}

/**
 * translate / summarize: generate on an encoder-decoder with the task's prefix before the input
 * and the task's settings (beams, lengths) under the flags given. Unlike generate, no CLI
 * sampling defaults apply: where neither the flags nor the task say otherwise, the model's own
 * generation defaults do (greedy for most checkpoints).
 */
async function cmdTask(task: TaskName, args: string[]): Promise<void> {
  const { values: v, positionals } = parse(args, { ...GENERATE_OPTIONS, from: { type: 'string' }, to: { type: 'string' } }, true);
  if (v.help) return void console.log(USAGE);
  if (v.chat || v.system !== undefined) throw new UsageError(`${task} takes no --chat / --system`);
  if (v.model === undefined) throw new UsageError(`${task} needs an encoder-decoder model: --model <dir | file.gguf> (T5, BART, mBART, Marian; the bundled default is a decoder)`);
  let resolved;
  try {
    resolved = resolveTask(taskSpecificParams(v.model), task, { from: v.from, to: v.to });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`${task}: ${e.message}`);
    throw e;
  }
  // Only the flags given: generateOptions' defaults (64 tokens, CLI sampling) are not the task's.
  const given: Record<string, unknown> = {};
  for (const [flag, option] of Object.entries(GENERATION_FLAGS)) if (v[flag as keyof typeof v] !== undefined) given[option] = true;
  const flags = Object.keys(given).length > 0 ? generateOptions({ ...v, ...(v['num-beams'] === undefined ? { 'num-beams': undefined } : {}) }) : {};
  const picked = Object.fromEntries(Object.entries(flags).filter(([k]) => given[k] !== undefined)) as GenerateOptions;
  const sampling = ['temperature', 'topK', 'topP', 'minP', 'typicalP', 'seed'].some((k) => given[k] !== undefined);
  // Sampling flags ask for sampling: the task's beam settings give way to them.
  const taskOptions: Record<string, unknown> = { ...resolved.options };
  if (sampling) for (const k of ['numBeams', 'lengthPenalty', 'earlyStopping', 'numReturnSequences']) delete taskOptions[k];
  const options = { ...(taskOptions as GenerateOptions), ...picked };
  let text = positionals.join(' ');
  if (text === '' && !process.stdin.isTTY) text = (await readStdin()).replace(/\n$/, '');
  if (text === '') throw new UsageError(`${task} needs text: an argument or text on stdin`);
  const model = await loadModel(v);
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    if (model.kind !== 'encoder-decoder') throw new UsageError(`${task} needs an encoder-decoder model (T5, BART, mBART, Marian); ${v.model} is a decoder: use generate`);
    const s = model.stream(resolved.prefix + text, { ...options, signal: ac.signal });
    for await (const chunk of s) process.stdout.write(chunk.text);
    process.stdout.write('\n');
    const r = await s.result;
    if (v.stats) {
      process.stderr.write(`task: ${resolved.key ?? '(none in the checkpoint: the model\'s own defaults)'}${resolved.prefix ? `, prefix ${JSON.stringify(resolved.prefix)}` : ''}\n`);
      printStats(r);
    }
  } finally {
    process.off('SIGINT', onSigint);
    model.dispose();
  }
}

/** A GGUF file's config, read by its family as loadModel reads it, and the name inspect prints. */
function configOfGGUF(path: string): { title: string; config: DecoderConfig } {
  const f = new GGUFFile(path);
  try {
    const config = configFromGGUF(f);
    return { title: `${String(f.metadata.get('general.name') ?? path)} (${config.architecture})`, config };
  } finally {
    f.dispose();
  }
}

function cmdInspect(args: string[]): void {
  const { values: v } = parse(args, { model: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } }, false);
  if (v.model !== undefined && v.config !== undefined) throw new UsageError('inspect takes --model or --config, not both');
  const preset = oneOf('config', v.config, Object.keys(PRESETS));
  const { title, config: cfg } = preset ? { title: PRESETS[preset]!.title, config: PRESETS[preset]! } : configOfGGUF(v.model ?? defaultModelPath());
  const { rows, total } = countParameters(cfg);
  const contexts = [128, 512, 1024, 2048, 4096, 8192].filter((c) => c <= cfg.maxPositions);
  if (!contexts.includes(cfg.maxPositions)) contexts.push(cfg.maxPositions);
  if (v.json) {
    console.log(JSON.stringify({
      title, config: cfg, parameters: rows, total, matrixAccounting: matrixAccounting(cfg),
      weightBytes: Object.fromEntries(Object.entries(BYTES_PER_PARAM).map(([d, b]) => [d, Math.round(total * b)])),
      kvCacheBytes: Object.fromEntries(contexts.map((c) => [c, { f32: kvCacheBytes(cfg, c, 4), f16: kvCacheBytes(cfg, c, 2) }])),
    }, null, 1));
    return;
  }
  console.log(title);
  console.log(`  vocab ${cfg.vocabSize}, context ${cfg.maxPositions}, d_model ${cfg.hidden}, layers ${cfg.layers}, heads ${cfg.heads} x ${cfg.headDim}` +
    `${cfg.kvHeads && cfg.kvHeads !== cfg.heads ? ` (kv heads ${cfg.kvHeads})` : ''}, MLP ${cfg.ffn}${cfg.tiedEmbeddings ? ', tied embeddings' : ''}\n`);
  console.log(`${'component'.padEnd(24)}${'per layer'.padStart(14)}${'total'.padStart(18)}${'share'.padStart(9)}`);
  for (const r of rows)
    console.log(`${r.component.padEnd(24)}${(r.perLayer ? r.perLayer.toLocaleString('en-US') : '').padStart(14)}${r.total.toLocaleString('en-US').padStart(18)}${((100 * r.total) / total).toFixed(2).padStart(8)}%`);
  console.log(`${'total'.padEnd(24)}${''.padStart(14)}${total.toLocaleString('en-US').padStart(18)}   (${formatCount(total)})\n`);
  printMatrixAccounting(matrixAccounting(cfg), total);
  console.log('weights by dtype: ' + Object.entries(BYTES_PER_PARAM).map(([d, b]) => `${d} ${formatBytes(total * b)}`).join(', '));
  console.log('\nKV cache per sequence:');
  console.log(`${'context'.padEnd(10)}${'f32'.padStart(12)}${'f16'.padStart(12)}`);
  for (const c of contexts) console.log(`${String(c).padEnd(10)}${formatBytes(kvCacheBytes(cfg, c, 4)).padStart(12)}${formatBytes(kvCacheBytes(cfg, c, 2)).padStart(12)}`);
}

/** The weight matrices alone, as 3Blue1Brown's videos count them, and why the exact count differs. */
function printMatrixAccounting(m: MatrixAccounting, exact: number): void {
  const n = (x: number) => x.toLocaleString('en-US');
  console.log("weight matrices as 3Blue1Brown's accounting lays them out:");
  console.log(`${'matrix'.padEnd(24)}${'per layer'.padStart(14)}${'total'.padStart(18)}`);
  for (const r of m.rows) console.log(`${r.component.padEnd(24)}${(r.perLayer ? n(r.perLayer) : '').padStart(14)}${n(r.total).padStart(18)}`);
  console.log(`${'total'.padEnd(24)}${''.padStart(14)}${n(m.total).padStart(18)}   (exact count ${n(exact)})`);
  const d = m.difference;
  const parts = [
    d.biases ? `biases ${n(d.biases)}` : '',
    d.positions ? `position embedding ${n(d.positions)}` : '',
    d.norms ? `norm weights ${n(d.norms)}` : '',
  ].filter((x) => x.length > 0);
  const other = d.total - d.biases - d.positions - d.norms - d.tiedUnembedding;
  console.log(`difference ${d.total >= 0 ? '+' : ''}${n(d.total)}: the exact count ${parts.length ? `adds ${parts.join(', ')}` : 'adds nothing the matrices leave out'}` +
    `${d.tiedUnembedding ? ` and counts the tied unembedding once, as the embedding (${n(d.tiedUnembedding)})` : ''}` +
    `${other ? `; ${n(other)} in other tensors` : ''}\n`);
}

async function cmdBench(args: string[]): Promise<number> {
  // The runner (bench/run.ts) parses and checks its own options (bench/lib/options.ts) and runs
  // from a source checkout through tsx, as the suites do.
  const runner = join(packageRoot, 'bench', 'run.ts');
  if (!existsSync(runner)) throw new UsageError(`bench: no runner at ${runner} (the benchmarks run from a source checkout)`);
  const tsx = join(packageRoot, 'node_modules', 'tsx');
  if (!existsSync(tsx)) throw new UsageError('bench: the suites need tsx (a dev dependency); run from a source checkout after npm ci');
  // The runner prints its own errors; its exit status is the command's (2: a bad option).
  const r = spawnSync(process.execPath, ['--import', 'tsx', runner, ...args], { cwd: packageRoot, stdio: 'inherit' });
  return r.status ?? 1;
}

export const DEMO_PROMPTS = ['Once upon a time', 'The secret of life is', 'A computer is'];

async function cmdDemo(args: string[]): Promise<void> {
  const { values: v } = parse(args, { model: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' }, seed: { type: 'string' } }, false);
  const seed = num('seed', v.seed, { int: true, min: 0 }) ?? 1;
  const model = await loadModel(v);
  try {
    for (const p of DEMO_PROMPTS) {
      const r = await model.generate(p, { ...CLI_SAMPLING, maxTokens: 48, seed });
      console.log(`\n> ${p}${r.text}`);
      console.log(`  [${r.ids.length} tokens, ${r.finishReason}; decode ${r.timings.decodeTokensPerSecond.toFixed(1)} tok/s, first token ${(r.timings.timeToFirstToken * 1000).toFixed(0)} ms]`);
    }
  } finally {
    model.dispose();
  }
}

const SERVE_OPTIONS = {
  model: { type: 'string' }, 'model-name': { type: 'string' }, backend: { type: 'string' }, dtype: { type: 'string' }, 'kv-dtype': { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
  workers: { type: 'string' }, 'threads-per-worker': { type: 'string' }, 'max-queue': { type: 'string' }, 'max-batch': { type: 'string' },
  'max-batch-tokens': { type: 'string' }, 'no-batching': { type: 'boolean' }, 'timeout-ms': { type: 'string' }, 'api-key': { type: 'string' },
  'allowed-hosts': { type: 'string' }, 'max-connections': { type: 'string' }, 'headers-timeout-ms': { type: 'string' }, 'request-timeout-ms': { type: 'string' },
  'keep-alive-timeout-ms': { type: 'string' }, 'drain-timeout-ms': { type: 'string' }, 'max-queue-per-client': { type: 'string' }, 'client-by': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const SERVE_USAGE = `usage: attnode serve [--model <file.gguf | dir>] [--model-name NAME] [--host 127.0.0.1] [--port 8080] [--workers 1] [--threads-per-worker N]
  [--max-queue 1024] [--max-batch 8] [--max-batch-tokens 128] [--no-batching] [--timeout-ms N] [--backend ${BACKENDS.join('|')}]
  [--dtype ${DTYPES.join('|')}] [--kv-dtype f32|f16] [--api-key KEY (or ATTNODE_API_KEY)] [--allowed-hosts h1,h2]
  [--max-connections 2048] [--headers-timeout-ms 10000] [--request-timeout-ms 30000] [--keep-alive-timeout-ms 5000] [--drain-timeout-ms 25000]
  [--max-queue-per-client N (or ATTNODE_MAX_QUEUE_PER_CLIENT)] [--client-by address|api-key]`;

async function cmdServe(args: string[]): Promise<void> {
  const { values: v } = parse(args, SERVE_OPTIONS, false);
  if (v.help) return void console.log(SERVE_USAGE);
  const { runServer, modelNameOf } = await import('./server/run.js');
  const { checkModelPath } = await import('./io/files.js');
  const { MAX_TIMEOUT_MS } = await import('./scheduler/pool.js');
  const backend = oneOf('backend', v.backend, BACKENDS);
  const dtype = oneOf<WeightDType>('dtype', v.dtype, DTYPES);
  const kvDtype = oneOf<KVDType>('kv-dtype', v['kv-dtype'], KV_DTYPES);
  const workers = num('workers', v.workers, { int: true, min: 1, max: 256 });
  const threadsPerWorker = num('threads-per-worker', v['threads-per-worker'], { int: true, min: 1, max: 1024 });
  const maxQueue = num('max-queue', v['max-queue'], { int: true, min: 0 });
  const maxBatch = num('max-batch', v['max-batch'], { int: true, min: 1, max: 1024 });
  const maxBatchTokens = num('max-batch-tokens', v['max-batch-tokens'], { int: true, min: 1 });
  const ms = (flag: keyof typeof SERVE_OPTIONS) => num(flag, v[flag] as string | undefined, { int: true, min: 1, max: MAX_TIMEOUT_MS });
  const timeoutMs = ms('timeout-ms');
  const port = num('port', v.port, { int: true, min: 0, max: 65535 }) ?? 8080;
  const maxConnections = num('max-connections', v['max-connections'], { int: true, min: 1 });
  const model = v.model ?? defaultModelPath();
  try {
    checkModelPath(model, '--model');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const apiKey = v['api-key'] ?? process.env.ATTNODE_API_KEY;
  if (apiKey !== undefined && apiKey.length === 0) throw new UsageError('--api-key (or ATTNODE_API_KEY) must not be empty');
  const allowedHosts = v['allowed-hosts']?.split(',').map((h) => h.trim()).filter((h) => h.length > 0);
  const headersTimeoutMs = ms('headers-timeout-ms');
  const requestTimeoutMs = ms('request-timeout-ms');
  const keepAliveTimeoutMs = ms('keep-alive-timeout-ms');
  const perClientFlag = v['max-queue-per-client'] !== undefined ? 'max-queue-per-client' : 'max-queue-per-client (ATTNODE_MAX_QUEUE_PER_CLIENT)';
  const maxQueuePerClient = num(perClientFlag, v['max-queue-per-client'] ?? process.env.ATTNODE_MAX_QUEUE_PER_CLIENT, { int: true, min: 1 });
  const clientIdentity = oneOf('client-by', v['client-by'], ['address', 'api-key'] as const);
  await runServer({
    pool: {
      model, ...(backend ? { backend } : {}), ...(dtype ? { dtype } : {}), ...(kvDtype ? { kvDtype } : {}), ...(workers ? { workers } : {}),
      ...(threadsPerWorker ? { threadsPerWorker } : {}), ...(maxQueue !== undefined ? { maxQueue } : {}),
      ...(maxBatch ? { maxBatch } : {}), ...(maxBatchTokens ? { maxBatchTokens } : {}), ...(v['no-batching'] ? { batching: false } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    },
    server: {
      modelName: v['model-name'] ?? modelNameOf(model), ...(apiKey !== undefined ? { apiKey } : {}), ...(allowedHosts?.length ? { allowedHosts } : {}),
      ...(maxConnections ? { maxConnections } : {}), ...(headersTimeoutMs ? { headersTimeoutMs } : {}), ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
      ...(keepAliveTimeoutMs ? { keepAliveTimeoutMs } : {}), ...(maxQueuePerClient ? { maxQueuePerClient } : {}), ...(clientIdentity ? { clientIdentity } : {}),
    },
    host: v.host ?? '127.0.0.1',
    port,
    drainTimeoutMs: ms('drain-timeout-ms') ?? 25_000,
    log: (line) => process.stderr.write(`${line}\n`),
  });
}

/** `convert <hf-dir> <out.gguf> [--type t]` and `quantize <in.gguf> <out.gguf> --type t`. */
function cmdConvertOrQuantize(cmd: 'convert' | 'quantize', args: string[]): void {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { type: { type: 'string' } } });
  if (positionals.length !== 2) throw new UsageError(`${cmd} takes an input and an output path, got ${positionals.length} paths`);
  if (cmd === 'quantize' && values.type === undefined) throw new UsageError('quantize needs --type (e.g. --type q8_0)');
  const type = values.type ?? 'f16';
  if (!Object.hasOwn(MIXES, type.toLowerCase())) throw new UsageError(`--type must be one of ${Object.keys(MIXES).join(', ')}, got '${type}'`);
  const [input, output] = positionals as [string, string];
  const plan = cmd === 'convert' ? convertHFToGGUF(input, output, { type }) : quantizeGGUF(input, output, type);
  const counts = new Map<string, number>();
  for (const t of plan.values()) counts.set(t, (counts.get(t) ?? 0) + 1);
  process.stderr.write(`attnode ${cmd}: wrote ${output} (${[...counts].map(([t, n]) => `${n} ${t}`).join(', ')} tensors)\n`);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'generate': await cmdGenerate(rest); break;
      case 'translate': case 'summarize': await cmdTask(cmd, rest); break;
      case 'inspect': cmdInspect(rest); break;
      case 'bench': return await cmdBench(rest);
      case 'demo': await cmdDemo(rest); break;
      case 'serve': await cmdServe(rest); break;
      case 'embed': case 'rerank': case 'classify': case 'ner': case 'fill-mask': await runEncoderCommand(cmd as EncoderCommand, rest, (m) => new UsageError(m)); break;
      case 'convert': case 'quantize': cmdConvertOrQuantize(cmd, rest); break;
      case undefined: case 'help': case '--help': case '-h': console.log(USAGE); break;
      default: throw new UsageError(`unknown command '${cmd}'; commands: ${COMMANDS.join(', ')}`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`attnode: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`attnode: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

// Run when executed directly (also through the bin symlink npm makes), not when imported by tests.
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (isMain()) {
  // `attnode generate ... | head` closes the pipe early: stop quietly, as Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
