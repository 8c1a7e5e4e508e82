// loadEncoder and EncoderModel: an encoder-only checkpoint (BERT) bound to a planned graph, run as
// one packed pass over a ragged batch (segments, no padding). No sequence state, no generation
// loop and no tokenizer: ids in, per-sequence hidden states, pooled vectors and head logits out.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { checkBackendName, createBackend, type BackendName } from '../backend/backends.js';
import { PlanExecutor } from '../graph/executor.js';
import { plan, type Plan } from '../graph/planner.js';
import type { ValueRef } from '../graph/ir.js';
import { readConfig } from '../io/config.js';
import { SafetensorsCheckpoint } from '../io/safetensors.js';
import { WEIGHT_DTYPES, isWeightDType } from '../tensor/formats.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkOptionNames } from '../util/names.js';
import { bertConfigFromHF, bertGraph, bertHasPooler, bertParameters, bindBert, type EncoderConfig } from './families/bert.js';
import { Binder, type WeightDType, type WeightFallback } from './weights.js';

export type { EncoderConfig, EncoderTask, BertArchitecture } from './families/bert.js';

/** HF model_type values loadEncoder builds. */
export const ENCODER_MODEL_TYPES: readonly string[] = ['bert'];

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
   * min(maxBatch x max_position_embeddings, 4096). Activations are planned for this many rows.
   */
  maxTokens?: number;
}

export interface EncodeOptions {
  /** Token type (segment A/B) ids, shaped as the batch; default all 0. */
  tokenTypeIds?: ArrayLike<number> | readonly ArrayLike<number>[];
}

/** One sequence's outputs. */
export interface EncoderOutput {
  /** (T, H) f32, row-major: the last layer's hidden state of every token. */
  lastHiddenState: Float32Array;
  /** (H) f32: tanh(dense([CLS] row)), when the model has a pooler. */
  pooled?: Float32Array;
  /** The head's: masked LM (T, V), sequence classification (numLabels), token classification (T, numLabels). */
  logits?: Float32Array;
}

/** The model loadModel gives for an encoder checkpoint; `kind` tells it from a DecoderModel. */
export class EncoderModel {
  readonly kind = 'encoder' as const;
  readonly plan: Plan;
  private readonly executor: PlanExecutor;
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
    const { graph, outputs } = bertGraph(config, hasPooler);
    this.plan = plan(graph.build(outputs as Record<string, ValueRef>), maxTokens, maxBatch);
    this.executor = new PlanExecutor(this.plan, backend, binder.params, config.layers);
  }

  /** Linear weights stored in another format than `dtype` asked for (rows not whole blocks), by parameter name. */
  get weightFallbacks(): ReadonlyMap<string, WeightFallback> {
    return this.binder.fallbacks;
  }

  /**
   * Runs every sequence of `batch` (token-id arrays of any lengths, or one array) in one packed
   * pass and resolves to one EncoderOutput per sequence, in order (one array: a one-item list).
   */
  async forward(batch: ArrayLike<number> | readonly ArrayLike<number>[], options: EncodeOptions = {}): Promise<EncoderOutput[]> {
    if (this.disposed) throw new Error('forward: the model was disposed');
    if (this.running) throw new Error('forward: a forward pass is already running on this model; await it first');
    if (typeof options !== 'object' || options === null) throw new TypeError('forward: options must be an object');
    checkOptionNames(options, ['tokenTypeIds'], 'forward');
    const seqs = asBatch(batch, 'batch');
    const types = options.tokenTypeIds === undefined ? undefined : asBatch(options.tokenTypeIds, 'tokenTypeIds');
    const { vocabSize: V, maxPositions, typeVocabSize } = this.config;
    if (seqs.length > this.maxBatch) throw new RangeError(`forward: 'batch' holds ${seqs.length} sequences, more than maxBatch ${this.maxBatch}`);
    if (types && types.length !== seqs.length) throw new RangeError(`forward: 'tokenTypeIds' holds ${types.length} sequences, 'batch' ${seqs.length}`);
    const one = seqs.length === 1 && !isNested(batch);
    const at = (name: string, n: number) => (one ? name : `${name}[${n}]`);
    let total = 0;
    seqs.forEach((s, n) => {
      if (s.length < 1) throw new RangeError(`forward: '${at('batch', n)}' is empty; every sequence needs at least one token`);
      if (s.length > maxPositions) throw new RangeError(`forward: '${at('batch', n)}' has ${s.length} tokens, more than max_position_embeddings ${maxPositions}`);
      if (types && types[n]!.length !== s.length) throw new RangeError(`forward: '${at('tokenTypeIds', n)}' has ${types[n]!.length} ids, '${at('batch', n)}' ${s.length}`);
      total += s.length;
    });
    if (total > this.maxTokens) throw new RangeError(`forward: 'batch' holds ${total} tokens, more than the ${this.maxTokens} one pass holds (loadEncoder's maxTokens)`);
    const ids = new Int32Array(total);
    const tt = new Int32Array(total);
    const pos = new Int32Array(total);
    const first = new Int32Array(seqs.length);
    let row = 0;
    seqs.forEach((s, n) => {
      first[n] = row;
      for (let i = 0; i < s.length; i++, row++) {
        const id = s[i]!;
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`forward: '${at('batch', n)}[${i}]' = ${id} is outside [0, ${V})`);
        const t = types ? types[n]![i]! : 0;
        if (!Number.isInteger(t) || t < 0 || t >= typeVocabSize)
          throw new RangeError(`forward: '${at('tokenTypeIds', n)}[${i}]' = ${t} is outside [0, ${typeVocabSize}) (type_vocab_size)`);
        ids[row] = id;
        tt[row] = t;
        // Absolute positions restart at 0 in every sequence of the pack.
        pos[row] = i;
      }
    });
    this.running = true;
    try {
      const out = await this.executor.runOutputs(this.hasPooler ? [ids, tt, pos, first] : [ids, tt, pos], seqs.map((s) => ({ t: s.length, p: 0 })));
      return this.split(out, seqs);
    } finally {
      this.running = false;
    }
  }

  // Copies each sequence's rows out of the plan's slots (they are reused by the next pass).
  private split(out: Record<string, Tensor>, seqs: readonly ArrayLike<number>[]): EncoderOutput[] {
    const { hidden: C, task, vocabSize: V, numLabels: L } = this.config;
    const rows = (name: string, width: number, from: number, n: number) => (out[name]!.data as Float32Array).slice(from * width, (from + n) * width);
    let first = 0;
    return seqs.map((s, n) => {
      const t = s.length;
      const o: EncoderOutput = { lastHiddenState: rows('hidden', C, first, t) };
      if (this.hasPooler) o.pooled = rows('pooled', C, n, 1);
      if (task === 'maskedLM') o.logits = rows('logits', V, first, t);
      else if (task === 'sequenceClassification') o.logits = rows('logits', L, n, 1);
      else if (task === 'tokenClassification') o.logits = rows('logits', L, first, t);
      first += t;
      return o;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.executor.dispose();
    this.binder.dispose();
    this.files.dispose();
    if (this.ownsBackend) this.backend.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

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
  return typeof cfg.model_type === 'string' && ENCODER_MODEL_TYPES.includes(cfg.model_type);
}

/** Loads a Hugging Face BERT directory (config.json + model.safetensors) as an EncoderModel. */
export async function loadEncoder(dir: string, options: LoadEncoderOptions = {}, fn = 'loadEncoder'): Promise<EncoderModel> {
  if (typeof dir !== 'string') throw new TypeError(`${fn}: 'dir' must be a string`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: options must be an object`);
  checkOptionNames(options, LOAD_ENCODER_OPTIONS, fn);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RangeError(`${fn}: '${dir}' is not a checkpoint directory (looked for ${join(dir, 'config.json')})`);
  if (options.dtype !== undefined && !isWeightDType(options.dtype))
    throw new RangeError(`${fn}: 'dtype' must be one of ${WEIGHT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(options.dtype)}`);
  const { config: raw } = readConfig(dir);
  if (!isEncoderConfig(raw)) throw new RangeError(`${fn}: model_type ${JSON.stringify(raw.model_type)} is not an encoder family; supported: ${ENCODER_MODEL_TYPES.join(', ')}`);
  const config = bertConfigFromHF(raw);
  const maxBatch = options.maxBatch ?? 16;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`${fn}: 'maxBatch' must be a positive integer, got ${String(options.maxBatch)}`);
  const maxTokens = options.maxTokens ?? Math.min(maxBatch * config.maxPositions, 4096);
  if (!Number.isInteger(maxTokens) || maxTokens < maxBatch) throw new RangeError(`${fn}: 'maxTokens' must be an integer >= maxBatch (${maxBatch}), got ${String(options.maxTokens)}`);
  const owned = typeof options.backend !== 'object' || options.backend === null;
  const backend = owned
    ? await createBackend(checkBackendName((options.backend as BackendName | undefined) ?? 'native', fn), options.threads === undefined ? {} : { threads: options.threads })
    : (options.backend as Backend);
  let files: SafetensorsCheckpoint | undefined;
  let binder: Binder | undefined;
  try {
    files = new SafetensorsCheckpoint(dir);
    const pooler = bertHasPooler(config, files);
    binder = new Binder(files, backend, options.dtype);
    bindBert(binder, config, pooler);
    binder.checkParameters(bertParameters(config, pooler));
    return new EncoderModel(config, backend, binder, files, pooler, maxBatch, maxTokens, owned);
  } catch (e) {
    binder?.dispose();
    files?.dispose();
    if (owned) backend.dispose();
    throw e;
  }
}
