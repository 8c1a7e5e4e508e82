// loadEncoder and EncoderModel: an encoder-only checkpoint (BERT, RoBERTa, XLM-RoBERTa,
// DistilBERT) bound to a planned graph, run as one packed pass over a ragged batch (segments, no
// padding). No sequence state, no generation loop and no tokenizer: ids in, per-sequence hidden
// states, pooled vectors, head logits and (when asked) every layer's states and attention out.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { checkBackendName, createBackend, type BackendName } from '../backend/backends.js';
import { PlanExecutor } from '../graph/executor.js';
import { plan, type Plan } from '../graph/planner.js';
import type { ValueRef } from '../graph/ir.js';
import { readConfig } from '../io/config.js';
import { GGUFFile } from '../io/gguf.js';
import type { MappedTensor } from '../io/mapped.js';
import { SafetensorsCheckpoint } from '../io/safetensors.js';
import { WEIGHT_DTYPES, isWeightDType } from '../tensor/formats.js';
import { Tensor } from '../tensor/tensor.js';
import { checkOptionNames } from '../util/names.js';
import { encoderGraph, encoderParameters, readsFirst, type EncoderFamily } from './encoder-graph.js';
import type { EncoderConfig } from './families/encoder-config.js';
import { ENCODER_MODEL_TYPES, encoderFamilyOf } from './families/encoders.js';
import { ENCODER_GGUF_ARCHITECTURES, bertConfigFromGGUF, bindBertGGUF } from './families/bert-gguf.js';
import { Binder, type WeightDType, type WeightFallback } from './weights.js';

export type { EncoderConfig, EncoderTask, EncoderArchitecture, EncoderPooling, ProblemType, SequenceHead } from './families/encoder-config.js';
export type { BertArchitecture } from './families/bert.js';
export { ENCODER_MODEL_TYPES } from './families/encoders.js';
export { ENCODER_GGUF_ARCHITECTURES } from './families/bert-gguf.js';

export interface LoadEncoderOptions {
  /** As loadModel's: a backend name ('native' default, 'webgpu', 'cuda', 'reference') or a Backend instance. */
  backend?: BackendName | Backend;
  /** Weight dtype of linear layers; default: as stored. */
  dtype?: WeightDType;
  /** Intra-op threads of the native backend; default: the addon's current pool size. */
  threads?: number;
  /** Most sequences one forward() takes; default 16. */
  maxBatch?: number;
  /**
   * Most tokens of all sequences of one forward() together (the plan's rows); default
   * min(maxBatch x the longest sequence, 4096). Activations are planned for this many rows.
   */
  maxTokens?: number;
}

export interface EncodeOptions {
  /** Token type (segment A/B) ids, shaped as the batch; default all 0 (the only type RoBERTa and DistilBERT have). */
  tokenTypeIds?: ArrayLike<number> | readonly ArrayLike<number>[];
  /**
   * Also give `hiddenStates`: the embeddings' output and every layer's, as HF's
   * output_hidden_states (default false). The first pass that asks plans a second graph.
   */
  outputHiddenStates?: boolean;
  /** Also give `attentions`: every layer's softmax probabilities, as HF's output_attentions (default false). */
  outputAttentions?: boolean;
}

/** One sequence's outputs. */
export interface EncoderOutput {
  /** (T, H) f32, row-major: the last layer's hidden state of every token. */
  lastHiddenState: Float32Array;
  /** (H) f32: tanh(dense([CLS] row)), when the model has a pooler. */
  pooled?: Float32Array;
  /** The head's: masked LM (T, V), sequence classification (numLabels), token classification (T, numLabels). */
  logits?: Float32Array;
  /** With outputHiddenStates: layers + 1 arrays (T, H), the embeddings' output first and lastHiddenState last. */
  hiddenStates?: Float32Array[];
  /** With outputAttentions: one (heads, T, T) array per layer, row i the probabilities query i gives every key. */
  attentions?: Float32Array[];
}

/** The model loadModel gives for an encoder checkpoint; `kind` tells it from a DecoderModel. */
export class EncoderModel {
  readonly kind = 'encoder' as const;
  readonly plan: Plan;
  private readonly executor: PlanExecutor;
  /** The plan with every layer's states and q, k as outputs, built when a pass first asks for them. */
  private everyLayer: PlanExecutor | undefined;
  private disposed = false;
  private running = false;

  /** @internal loadEncoder builds it. */
  constructor(
    readonly config: EncoderConfig,
    readonly backend: Backend,
    private readonly binder: Binder,
    private readonly files: { dispose(): void },
    /** Whether the model has a pooler (and so `pooled` outputs). */
    readonly hasPooler: boolean,
    readonly maxBatch: number,
    readonly maxTokens: number,
    private readonly ownsBackend: boolean,
  ) {
    this.plan = this.planOf(false);
    this.executor = new PlanExecutor(this.plan, backend, binder.params, config.layers);
  }

  /** Linear weights stored in another format than `dtype` asked for (rows not whole blocks), by parameter name. */
  get weightFallbacks(): ReadonlyMap<string, WeightFallback> {
    return this.binder.fallbacks;
  }

  private planOf(everyLayer: boolean): Plan {
    const { graph, outputs } = encoderGraph(this.config, this.hasPooler, everyLayer);
    return plan(graph.build(outputs as Record<string, ValueRef>), this.maxTokens, this.maxBatch);
  }

  /**
   * Runs every sequence of `batch` (token-id arrays of any lengths, or one array) in one packed
   * pass and resolves to one EncoderOutput per sequence, in order (one array: a one-item list).
   */
  async forward(batch: ArrayLike<number> | readonly ArrayLike<number>[], options: EncodeOptions = {}): Promise<EncoderOutput[]> {
    if (this.disposed) throw new Error('forward: the model was disposed');
    if (this.running) throw new Error('forward: a forward pass is already running on this model; await it first');
    if (typeof options !== 'object' || options === null) throw new TypeError('forward: options must be an object');
    checkOptionNames(options, ['tokenTypeIds', 'outputHiddenStates', 'outputAttentions'], 'forward');
    for (const k of ['outputHiddenStates', 'outputAttentions'] as const)
      if (options[k] !== undefined && typeof options[k] !== 'boolean') throw new TypeError(`forward: '${k}' must be a boolean, got ${JSON.stringify(options[k])}`);
    const seqs = asBatch(batch, 'batch');
    const types = options.tokenTypeIds === undefined ? undefined : asBatch(options.tokenTypeIds, 'tokenTypeIds');
    const { vocabSize: V, maxSequence, typeVocabSize, architecture } = this.config;
    if (seqs.length > this.maxBatch) throw new RangeError(`forward: 'batch' holds ${seqs.length} sequences, more than maxBatch ${this.maxBatch}`);
    if (types && types.length !== seqs.length) throw new RangeError(`forward: 'tokenTypeIds' holds ${types.length} sequences, 'batch' ${seqs.length}`);
    const one = seqs.length === 1 && !isNested(batch);
    const at = (name: string, n: number) => (one ? name : `${name}[${n}]`);
    const { maxPositions, padTokenId } = this.config;
    const longest = maxSequence === maxPositions ? `max_position_embeddings ${maxPositions}` : `the ${maxSequence} that max_position_embeddings ${maxPositions} leaves after pad_token_id ${padTokenId}`;
    let total = 0;
    seqs.forEach((s, n) => {
      if (s.length < 1) throw new RangeError(`forward: '${at('batch', n)}' is empty; every sequence needs at least one token`);
      if (s.length > maxSequence) throw new RangeError(`forward: '${at('batch', n)}' has ${s.length} tokens, more than ${longest}`);
      if (types && types[n]!.length !== s.length) throw new RangeError(`forward: '${at('tokenTypeIds', n)}' has ${types[n]!.length} ids, '${at('batch', n)}' ${s.length}`);
      total += s.length;
    });
    if (total > this.maxTokens) throw new RangeError(`forward: 'batch' holds ${total} tokens, more than the ${this.maxTokens} one pass holds (loadEncoder's maxTokens)`);
    // A model without token types (DistilBERT) takes only type 0, as its one segment.
    const typeLimit = Math.max(1, typeVocabSize);
    const ids = new Int32Array(total);
    const tt = new Int32Array(total);
    const pos = new Int32Array(total);
    const first = new Int32Array(seqs.length);
    let row = 0;
    seqs.forEach((s, n) => {
      first[n] = row;
      const start = row;
      for (let i = 0; i < s.length; i++, row++) {
        const id = s[i]!;
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`forward: '${at('batch', n)}[${i}]' = ${id} is outside [0, ${V})`);
        const t = types ? types[n]![i]! : 0;
        if (!Number.isInteger(t) || t < 0 || t >= typeLimit)
          throw new RangeError(`forward: '${at('tokenTypeIds', n)}[${i}]' = ${t} is outside [0, ${typeLimit}) (${typeVocabSize > 0 ? 'type_vocab_size' : `${architecture} has no token types`})`);
        ids[row] = id;
        tt[row] = t;
      }
      ENCODER_POSITIONS[this.config.positions](ids.subarray(start, row), this.config.padTokenId ?? 0, pos.subarray(start, row));
    });
    const inputs = [ids, ...(typeVocabSize > 0 ? [tt] : []), pos, ...(readsFirst(this.config, this.hasPooler) ? [first] : [])];
    const wantHidden = options.outputHiddenStates === true;
    const wantAttn = options.outputAttentions === true;
    this.running = true;
    try {
      const exec = wantHidden || wantAttn ? (this.everyLayer ??= new PlanExecutor(this.planOf(true), this.backend, this.binder.params, this.config.layers)) : this.executor;
      const out = await exec.runOutputs(inputs, seqs.map((s) => ({ t: s.length, p: 0 })));
      const res = this.split(out, seqs, wantHidden);
      if (wantAttn) await this.attentions(out, res);
      return res;
    } finally {
      this.running = false;
    }
  }

  // Copies each sequence's rows out of the plan's slots (they are reused by the next pass).
  private split(out: Record<string, Tensor>, seqs: readonly ArrayLike<number>[], hiddenStates: boolean): EncoderOutput[] {
    const { hidden: C, task, vocabSize: V, numLabels: L, layers } = this.config;
    const rows = (name: string, width: number, from: number, n: number) => (out[name]!.data as Float32Array).slice(from * width, (from + n) * width);
    let first = 0;
    return seqs.map((s, n) => {
      const t = s.length;
      const o: EncoderOutput = { lastHiddenState: rows('hidden', C, first, t) };
      if (this.hasPooler) o.pooled = rows('pooled', C, n, 1);
      if (task === 'maskedLM') o.logits = rows('logits', V, first, t);
      else if (task === 'sequenceClassification') o.logits = rows('logits', L, n, 1);
      else if (task === 'tokenClassification') o.logits = rows('logits', L, first, t);
      if (hiddenStates) o.hiddenStates = Array.from({ length: layers + 1 }, (_, i) => rows(`hidden.${i}`, C, first, t));
      first += t;
      return o;
    });
  }

  /**
   * Every layer's attention probabilities softmax(q k^T / sqrt(D)), per sequence, from the q and k
   * the every-layer plan gives. The fused attention op never forms them, so they are composed from
   * the backend's matmul and softmax ops, only for passes that ask: (H, t, D) x (H, t, D)^T -> (H, t, t).
   */
  private async attentions(out: Record<string, Tensor>, res: EncoderOutput[]): Promise<void> {
    const { heads: H, headDim: D, layers } = this.config;
    let first = 0;
    for (const o of res) {
      const t = o.lastHiddenState.length / this.config.hidden;
      o.attentions = [];
      for (let i = 0; i < layers; i++) {
        const heads = (name: string) => out[name]!.slice(0, first, first + t).transpose(0, 1).contiguous(); // (H, t, D)
        const scores = await this.backend.run('matmul', { a: heads(`q.${i}`), b: heads(`k.${i}`), transB: true, alpha: 1 / Math.sqrt(D), out: Tensor.zeros('f32', [H, t, t]) });
        const probs = await this.backend.run('softmax', { x: scores, out: Tensor.zeros('f32', [H, t, t]) });
        o.attentions.push(Float32Array.from(probs.data as Float32Array));
      }
      first += t;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.executor.dispose();
    this.everyLayer?.dispose();
    this.binder.dispose();
    this.files.dispose();
    if (this.ownsBackend) this.backend.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Position ids of one sequence, by scheme. 'afterPadding' is HF's
 * create_position_ids_from_input_ids: cumsum of the non-pad mask, times the mask, plus padding_idx
 * (so pads sit at padding_idx and the first real token at padding_idx + 1).
 */
export const ENCODER_POSITIONS: Readonly<Record<EncoderConfig['positions'], (ids: Int32Array, pad: number, out: Int32Array) => void>> = {
  index(ids, _pad, out) {
    for (let i = 0; i < ids.length; i++) out[i] = i;
  },
  afterPadding(ids, pad, out) {
    let seen = 0;
    for (let i = 0; i < ids.length; i++) {
      const real = ids[i] !== pad ? 1 : 0;
      seen += real;
      out[i] = seen * real + pad;
    }
  },
};

function isNested(b: unknown): boolean {
  return Array.isArray(b) && b.length > 0 && typeof b[0] === 'object' && b[0] !== null;
}

// One array of ids, or an array of them, as a list of sequences; TypeError naming the argument.
function asBatch(b: unknown, name: string): readonly ArrayLike<number>[] {
  const isIds = (x: unknown): x is ArrayLike<number> => Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
  if (!isIds(b)) throw new TypeError(`forward: '${name}' must be an array of token ids or an array of such arrays`);
  if (b.length === 0) throw new RangeError(`forward: '${name}' is empty`);
  if (!isNested(b)) return [b];
  const list = b as readonly unknown[];
  list.forEach((s, n) => {
    if (!isIds(s)) throw new TypeError(`forward: '${name}[${n}]' must be an array of token ids`);
  });
  return list as readonly ArrayLike<number>[];
}

const LOAD_ENCODER_OPTIONS: readonly (keyof LoadEncoderOptions)[] = ['backend', 'dtype', 'threads', 'maxBatch', 'maxTokens'];

/** Whether a config.json names an encoder-only family (model_type in ENCODER_MODEL_TYPES). */
export function isEncoderConfig(cfg: Record<string, unknown>): boolean {
  return encoderFamilyOf(cfg) !== undefined;
}

/** Whether a GGUF file's general.architecture is an encoder loadEncoder reads (ENCODER_GGUF_ARCHITECTURES). */
export function isEncoderGGUF(g: GGUFFile): boolean {
  return ENCODER_GGUF_ARCHITECTURES.includes(String(g.get('general.architecture')));
}

/**
 * Loads an encoder as an EncoderModel: a Hugging Face directory (config.json + model.safetensors:
 * BERT, RoBERTa, XLM-RoBERTa, DistilBERT) or a llama.cpp GGUF file (general.architecture 'bert').
 */
export async function loadEncoder(path: string, options: LoadEncoderOptions = {}, fn = 'loadEncoder'): Promise<EncoderModel> {
  if (typeof path !== 'string') throw new TypeError(`${fn}: 'path' must be a string`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: options must be an object`);
  checkOptionNames(options, LOAD_ENCODER_OPTIONS, fn);
  const isGGUF = path.endsWith('.gguf') && existsSync(path) && statSync(path).isFile();
  if (!isGGUF && (!existsSync(path) || !statSync(path).isDirectory()))
    throw new RangeError(`${fn}: '${path}' is not a checkpoint directory (looked for ${join(path, 'config.json')}) nor a .gguf file`);
  if (options.dtype !== undefined && !isWeightDType(options.dtype))
    throw new RangeError(`${fn}: 'dtype' must be one of ${WEIGHT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(options.dtype)}`);
  let files: SafetensorsCheckpoint | GGUFFile | undefined;
  let binder: Binder | undefined;
  let backend: Backend | undefined;
  const owned = typeof options.backend !== 'object' || options.backend === null;
  try {
    // What the file is and how to bind it, before any backend exists.
    let config: EncoderConfig;
    let bind: (b: Binder) => boolean;
    let source: SafetensorsCheckpoint | { has(n: string): boolean; tensor(n: string): MappedTensor };
    if (isGGUF) {
      const g = new GGUFFile(path);
      files = g;
      if (!isEncoderGGUF(g))
        throw new RangeError(`${fn}: general.architecture ${JSON.stringify(g.get('general.architecture'))} is not an encoder; supported: ${ENCODER_GGUF_ARCHITECTURES.join(', ')}`);
      config = bertConfigFromGGUF(g);
      source = { has: (n) => g.tensors.has(n), tensor: (n) => g.tensor(n) };
      bind = (b) => (bindBertGGUF(b, config), false);
    } else {
      const { config: raw } = readConfig(path);
      const family: EncoderFamily | undefined = encoderFamilyOf(raw);
      if (!family) throw new RangeError(`${fn}: model_type ${JSON.stringify(raw.model_type)} is not an encoder family; supported: ${ENCODER_MODEL_TYPES.join(', ')}`);
      config = family.configFromHF(raw);
      const st = new SafetensorsCheckpoint(path);
      files = st;
      source = st;
      bind = (b) => {
        const pooler = family.hasPooler(config, st);
        family.bind(b, config, pooler);
        return pooler;
      };
    }
    const maxBatch = options.maxBatch ?? 16;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`${fn}: 'maxBatch' must be a positive integer, got ${String(options.maxBatch)}`);
    const maxTokens = options.maxTokens ?? Math.min(maxBatch * config.maxSequence, 4096);
    if (!Number.isInteger(maxTokens) || maxTokens < maxBatch) throw new RangeError(`${fn}: 'maxTokens' must be an integer >= maxBatch (${maxBatch}), got ${String(options.maxTokens)}`);
    backend = owned
      ? await createBackend(checkBackendName((options.backend as BackendName | undefined) ?? 'native', fn), options.threads === undefined ? {} : { threads: options.threads })
      : (options.backend as Backend);
    binder = new Binder(source, backend, options.dtype);
    const pooler = bind(binder);
    binder.checkParameters(encoderParameters(config, pooler));
    return new EncoderModel(config, backend, binder, files, pooler, maxBatch, maxTokens, owned);
  } catch (e) {
    binder?.dispose();
    files?.dispose();
    if (owned) backend?.dispose();
    throw e;
  }
}
