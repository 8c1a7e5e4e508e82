// loadModel and DecoderModel: a checkpoint (HF directory or GGUF file) bound to a planned graph
// on a backend, with sequence state (K/V rows) owned by the backend's state pool.
// Not a generation loop: forward() gives last-position logits, forwardBatch() those of several
// sequences in one pass; sampling lives elsewhere.

import { ropeTables } from './rope.js';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { checkBackendName, createBackend, type BackendName } from '../backend/backends.js';
import { PlanExecutor } from '../graph/executor.js';
import { HostStatePool } from '../backend/host-state.js';
import type { SequenceState, StatePool, StatePoolStats } from '../backend/backend.js';
import { plan, type Plan } from '../graph/planner.js';
import type { KVDType } from '../graph/ir.js';
import { GGUFFile } from '../io/gguf.js';
import { MappedTensor } from '../io/mapped.js';
import { readConfig, type GenerationConfig } from '../io/config.js';
import { checkModelPath } from '../io/files.js';
import { SafetensorsCheckpoint } from '../io/safetensors.js';
import { Tensor } from '../tensor/tensor.js';
import type { DecoderConfig } from './config.js';
import { decoderGraph, familyOfGGUF, familyOfHF } from './families/index.js';
import { DECODER_OUTPUTS, type DecoderOutput } from './blocks.js';
import { Binder, type WeightDType, type WeightFallback } from './weights.js';
import { WEIGHT_DTYPES, isWeightDType } from '../tensor/formats.js';
import type { DType } from '../tensor/dtype.js';
import { checkOptionNames } from '../util/names.js';
import { validateGenerateOptions, type GenerateOptions } from '../generate/options.js';
import { beamSearch, beamSettings, type BeamSearchResult } from '../generate/beam-search.js';
import { DecoderModelBeams } from '../generate/beam-steppers.js';
import { ENCODER_GGUF_ARCHITECTURES, ENCODER_MODEL_TYPES, EncoderModel, isEncoderConfig, loadEncoder } from './encoder.js';
import { isSeq2SeqConfig, isSeq2SeqGGUFArchitecture } from './families/seq2seq.js';
import { EncoderDecoderModel, loadSeq2Seq, type Seq2SeqLoadOptions } from './seq2seq.js';

export interface LoadModelOptions {
  /**
   * A backend of the registry by name (backendNames(): 'native' (default, the C++ kernels),
   * 'webgpu', 'cuda', 'reference' (plain TypeScript, for tests)), or a Backend instance. One made
   * from a name belongs to the model: dispose() frees it.
   */
  backend?: BackendName | Backend;
  /** Weight dtype of linear layers; default: as stored in the file (f32 for Conv1D checkpoints). */
  dtype?: WeightDType;
  /** Intra-op threads of the native backend; default: the addon's current pool size. */
  threads?: number;
  /**
   * Most positions (cache rows) one sequence holds: its prompt and every token fed back;
   * default: the config's context, at most 2048; never more than the config's context.
   */
  contextLength?: number;
  /** Most sequences forwardBatch() takes in one pass; default 16 (at most contextLength). */
  maxBatch?: number;
  /**
   * Most bytes of sequence state (K/V pages of every sequence and the prefix cache) at once;
   * default: half of the machine's memory. A pass that needs more fails with a RangeError.
   */
  stateBudget?: number;
  /** Rows per page of sequence state (a power of two, 1 to 4096); default 32 (native backend). */
  pageRows?: number;
  /**
   * Element type of the KV caches: 'f32' (default) or 'f16', half the memory and half the bytes
   * attention reads per step, which is what long contexts spend their time on.
   */
  kvDtype?: KVDType;
  /**
   * What a pass computes (see DecoderOutput): default ['lastLogits'], what forward() returns.
   * forwardOutputs() returns each one asked for here; 'logits' plans contextLength x vocab floats.
   */
  outputs?: readonly DecoderOutput[];
}

/** loadModel's `kind` option. */
export interface ModelKindOption {
  /**
   * What the caller expects: 'any' (default: whatever the checkpoint is; tell them apart by
   * `model.kind`), 'decoder' (a DecoderModel; an encoder checkpoint is refused, naming this
   * option) or 'encoder' (an EncoderModel: BERT, RoBERTa, XLM-RoBERTa, DistilBERT; loadEncoder()
   * is the same), 'encoder-decoder' (an EncoderDecoderModel: T5). Encoders take backend, dtype,
   * threads and maxBatch; encoder-decoders all but outputs.
   */
  kind?: 'decoder' | 'encoder' | 'encoder-decoder' | 'any';
}

/** One sequence's outputs of a pass: rows for its new tokens (t), or its last position. */
export interface DecoderOutputs {
  /** (V) f32 */
  lastLogits?: Float32Array;
  /** (t, V) f32 */
  logits?: Float32Array;
  /** (t, C) f32 */
  hidden?: Float32Array;
}

/**
 * One sequence's K and V rows of every layer: a handle on state the backend owns (native
 * pages, or host buffers for other backends). `length` rows are filled; each forward pass
 * appends its tokens' rows. fork() shares rows copy-on-write, truncate() rolls back.
 */
export class KVCache {
  /** @internal */
  constructor(
    /** @internal the backend's state */
    readonly state: SequenceState,
    /** most rows the sequence may hold (the model's contextLength) */
    readonly capacity: number,
    private readonly model: DecoderModel,
  ) {}
  get length(): number {
    return this.state.length;
  }
  /** Forgets every row (its pages go back to the pool). */
  reset(): void {
    this.state.truncate(0);
  }
  /** Keeps the first n rows (n <= length): a rollback, for speculative decoding or retries. */
  truncate(n: number): void {
    this.state.truncate(n);
  }
  /** A cache with the same rows; they are shared until one of them writes (copy-on-write). */
  fork(): KVCache {
    return new KVCache(this.state.fork(), this.capacity, this.model);
  }
  /** Bytes of the pages it holds now (whole pages; host state: its whole capacity). */
  get bytes(): number {
    return this.state.bytes;
  }
  /** Pages it holds now. */
  get pages(): number {
    return this.state.pages;
  }
  get disposed(): boolean {
    return this.state.disposed;
  }
  /** Returns its pages now, device copies included; forward() rejects the cache afterwards. */
  dispose(): void {
    this.state.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface ForwardOptions {
  /** Continue this sequence: its rows are attended to and the new tokens' rows appended. */
  cache?: KVCache;
}

export class DecoderModel {
  readonly kind = 'decoder' as const;
  readonly plan: Plan;
  /** The backend's pages for this model's sequences (and its prefix cache). */
  readonly states: StatePool;
  private readonly executor: PlanExecutor;
  private readonly scratch: KVCache;
  private disposed = false;
  private running = false;

  constructor(
    readonly config: DecoderConfig,
    readonly backend: Backend,
    private readonly binder: Binder,
    private readonly files: { dispose(): void; checkUnchanged(): void },
    /** most positions one sequence's cache holds (loadModel's contextLength) */
    readonly contextLength: number,
    readonly maxBatch: number,
    readonly generation?: GenerationConfig,
    readonly kvDtype: KVDType = 'f32',
    /** Whether dispose() also disposes the backend (loadModel made it from a name). */
    private readonly ownsBackend = false,
    /** what each pass computes (loadModel's outputs) */
    readonly outputs: readonly DecoderOutput[] = ['lastLogits'],
    state: { budgetBytes?: number; pageRows?: number } = {},
  ) {
    const g = decoderGraph(config, kvDtype, outputs);
    this.plan = plan(g.build(g.outputs as Record<string, { kind: 'value'; id: number }>), contextLength, maxBatch);
    this.executor = new PlanExecutor(this.plan, backend, binder.params, config.layers);
    const layout = { layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim, dtype: kvDtype };
    const options = { capacity: contextLength, ...state };
    // Backends without their own pool (reference) get host buffers; native and WebGPU keep
    // pages of their own (a backend with device copies of host memory, one with release(),
    // cannot copy host rows: host state refuses fork and reorder there).
    this.states = backend.createStatePool?.(layout, options) ?? new HostStatePool(layout, options, backend, backend.release !== undefined);
    this.scratch = new KVCache(this.states.create(), contextLength, this);
  }

  /**
   * Throws ModelFileChangedError when a checkpoint file changed on disk since load (replaced,
   * truncated, rewritten): token tables are still read through the mapping, so a request would
   * read other bytes or fault. Generation calls it as each request starts.
   */
  checkFiles(): void {
    this.files.checkUnchanged();
  }

  /** A cache for one sequence (at most `capacity` rows, default contextLength); dispose() it when the sequence ends. */
  newCache(capacity = this.contextLength): KVCache {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > this.contextLength)
      throw new RangeError(`newCache: 'capacity' must be an integer in [1, ${this.contextLength}], got ${capacity}`);
    this.checkUsable('newCache', false);
    return new KVCache(this.states.create(), capacity, this);
  }

  /**
   * Beam selection: caches[i] takes the rows caches[parents[i]] had. Page tables move (native
   * backend); no full page is copied, and a page is copied only when a beam writes into a
   * page it still shares.
   */
  reorder(caches: readonly KVCache[], parents: readonly number[]): void {
    if (!Array.isArray(caches) || !caches.every((c) => c instanceof KVCache)) throw new TypeError('reorder: caches must come from model.newCache()');
    this.checkUsable('reorder', false);
    this.states.reorder(caches.map((c) => c.state), parents);
  }

  /**
   * Gives an empty cache the rows of the longest whole-page prefix of `ids` that an earlier
   * sequence left in the prefix cache (see publishPrefix), leaving at least one id to run;
   * returns how many rows it attached (0 when nothing matched, or on host state).
   */
  attachPrefix(cache: KVCache, ids: Int32Array): number {
    if (!(cache instanceof KVCache)) throw new TypeError("attachPrefix: 'cache' must come from model.newCache()");
    if (!(ids instanceof Int32Array)) throw new TypeError("attachPrefix: 'ids' must be an Int32Array");
    this.checkUsable('attachPrefix', false);
    return this.states.attachPrefix(cache.state, ids);
  }

  /** Offers the whole pages of `cache` that `ids` (its first rows: a prompt) cover to the prefix cache. */
  publishPrefix(cache: KVCache, ids: Int32Array): void {
    if (!(cache instanceof KVCache)) throw new TypeError("publishPrefix: 'cache' must come from model.newCache()");
    if (!(ids instanceof Int32Array)) throw new TypeError("publishPrefix: 'ids' must be an Int32Array");
    this.checkUsable('publishPrefix', false);
    this.states.publishPrefix(cache.state, ids);
  }

  /** Pages and bytes of sequence state in use, copy-on-write copies and prefix-cache reuse. */
  stateStats(): StatePoolStats {
    return this.states.stats();
  }

  /**
   * Runs ids (the new tokens) and returns the logits of the last position, (vocabSize) f32.
   * Without a cache the ids are a whole sequence; with one they continue it.
   */
  async forward(ids: ArrayLike<number>, options: ForwardOptions = {}): Promise<Float32Array> {
    this.needLastLogits('forward');
    return (await this.forwardOutputs(ids, options, 'forward')).lastLogits!;
  }

  /**
   * Runs ids as forward() does and returns every output the model was loaded with
   * (loadModel's `outputs`): per-position rows for the new tokens, or the last position.
   */
  async forwardOutputs(ids: ArrayLike<number>, options: ForwardOptions = {}, fn = 'forwardOutputs'): Promise<DecoderOutputs> {
    if (options.cache !== undefined && !(options.cache instanceof KVCache)) throw new TypeError(`${fn}: 'cache' must come from model.newCache()`);
    const cache = options.cache ?? this.scratch;
    this.checkUsable(fn);
    if (!options.cache) cache.reset();
    try {
      return (await this.pass(fn, [{ ids, cache }]))[0]!;
    } finally {
      // The model's own cache gives its pages back after each pass (the pool keeps a few mapped).
      if (!options.cache && !cache.disposed) cache.reset();
    }
  }

  private needLastLogits(fn: string): void {
    if (!this.outputs.includes('lastLogits'))
      throw new Error(`${fn}: the model was loaded with outputs [${this.outputs.join(', ')}], without 'lastLogits'; use forwardOutputs()`);
  }

  /**
   * One forward pass over several sequences at once: linear layers run over all their new
   * tokens together, attention per sequence on its own cache. Returns each item's last-position
   * logits in order; each cache grows by its ids. Items need distinct caches; at most
   * `maxBatch` items per pass.
   */
  async forwardBatch(items: readonly { ids: ArrayLike<number>; cache: KVCache }[]): Promise<Float32Array[]> {
    if (!Array.isArray(items) || items.length < 1) throw new TypeError('forwardBatch: items must be a non-empty array of { ids, cache }');
    if (items.length > this.maxBatch) throw new RangeError(`forwardBatch: ${items.length} items exceed maxBatch ${this.maxBatch}`);
    const seen = new Set<KVCache>();
    items.forEach((it, i) => {
      if (!(it?.cache instanceof KVCache)) throw new TypeError(`forwardBatch: items[${i}].cache must come from model.newCache()`);
      if (seen.has(it.cache)) throw new RangeError(`forwardBatch: items[${i}] uses a cache that another item uses`);
      seen.add(it.cache);
    });
    this.checkUsable('forwardBatch');
    this.needLastLogits('forwardBatch');
    return (await this.pass('forwardBatch', items)).map((o) => o.lastLogits!);
  }

  private checkUsable(fn: string, pass = true): void {
    if (this.disposed) throw new Error(`${fn}: the model was disposed`);
    if (pass && this.running) throw new Error(`${fn}: a forward pass is already running on this model; await it first`);
  }

  private async pass(fn: string, items: readonly { ids: ArrayLike<number>; cache: KVCache }[]): Promise<DecoderOutputs[]> {
    let total = 0;
    items.forEach(({ ids, cache }, n) => {
      const what = items.length > 1 ? `items[${n}]: ` : '';
      if (cache.disposed) throw new Error(`${fn}: ${what}the cache was disposed`);
      const t = ids?.length ?? 0;
      const limit = Math.min(cache.capacity, this.config.maxPositions);
      if (!Number.isInteger(t) || t < 1) throw new RangeError(`${fn}: ${what}ids must hold at least one token`);
      if (cache.length + t > limit) throw new RangeError(`${fn}: ${what}${cache.length} cached + ${t} new tokens exceed ${limit} positions`);
      total += t;
    });
    if (total > this.plan.tMax) throw new RangeError(`${fn}: ${total} new tokens exceed the ${this.plan.tMax} one pass holds`);
    const idv = new Int32Array(total);
    const pos = new Int32Array(total);
    const last = new Int32Array(items.length);
    let row = 0;
    items.forEach(({ ids, cache }, n) => {
      for (let i = 0; i < ids.length; i++, row++) {
        const id = ids[i]!;
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize)
          throw new RangeError(`${fn}: ${items.length > 1 ? `items[${n}].` : ''}ids[${i}] = ${id} is outside [0, ${this.config.vocabSize})`);
        idv[row] = id;
        pos[row] = cache.length + i;
      }
      last[n] = row - 1;
    });
    this.running = true;
    const before = items.map(({ cache }) => cache.length);
    try {
      let out: Record<string, Tensor>;
      try {
        out = await this.executor.runOutputs([idv, pos, last], items.map(({ ids, cache }, n) => ({ t: ids.length, p: before[n]!, state: cache.state })));
      } catch (e) {
        // A pass that failed after its states grew leaves rows nobody may read: roll them back.
        items.forEach(({ cache }, n) => {
          if (!cache.disposed && cache.length > before[n]!) cache.truncate(before[n]!);
        });
        throw e;
      }
      // Every layer attends over the window: pages wholly behind it are never read again.
      const w = this.config.slidingWindow;
      if (w !== undefined)
        for (const { cache } of items) if (cache !== this.scratch && !cache.disposed) cache.state.forget(Math.max(0, cache.length - w + 1));
      const { vocabSize: v, hidden: c } = this.config;
      const rows = (name: DecoderOutput, width: number, from: number, n: number) => (out[name]!.data as Float32Array).slice(from * width, (from + n) * width);
      let first = 0;
      return items.map(({ ids }, n) => {
        const o: DecoderOutputs = {};
        if (out.lastLogits) o.lastLogits = rows('lastLogits', v, n, 1);
        if (out.logits) o.logits = rows('logits', v, first, ids.length);
        if (out.hidden) o.hidden = rows('hidden', c, first, ids.length);
        first += ids.length;
        return o;
      });
    } finally {
      this.running = false;
    }
  }

  /**
   * Generates from token ids: beam search when numBeams > 1 (Hugging Face's BeamSearchScorer
   * semantics, see generate/beam-scorer.ts; the beams share one forwardBatch per step and are
   * reordered by page tables), the arg-max token each step otherwise. Resolves to the best
   * numReturnSequences sequences, best first: their new ids (EOS excluded) and scores. End of
   * sequence: options.eosTokenIds, else generation_config.json's or config.json's eos_token_id.
   * An aborted signal rejects with its reason at the next step.
   */
  async generate(inputIds: ArrayLike<number>, options: GenerateOptions = {}): Promise<BeamSearchResult> {
    const why = 'token-id generation is deterministic and has no text; LanguageModel.generate takes it';
    const o = validateGenerateOptions(options, {
      refused: { stop: why, badWords: why, logprobs: why, seed: why, topK: why, topP: why, minP: why, typicalP: why },
    });
    const s = beamSettings(o);
    if (typeof inputIds !== 'object' || inputIds === null || typeof inputIds.length !== 'number' || inputIds.length < 1)
      throw new TypeError("generate: 'inputIds' must be a non-empty array of token ids");
    const ids = Array.from(inputIds);
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) throw new RangeError(`generate: 'inputIds'[${i}] = ${id} is outside [0, ${this.config.vocabSize})`);
    });
    for (const id of o.eosTokenIds ?? [])
      if (id >= this.config.vocabSize) throw new RangeError(`generate: 'eosTokenIds' entries must be ids in [0, ${this.config.vocabSize}), got ${id}`);
    const limit = Math.min(this.contextLength, this.config.maxPositions);
    // The last chosen token is never fed back: prompt + maxTokens - 1 rows at most.
    if (ids.length + Math.max(0, s.maxNewTokens - 1) > limit)
      throw new RangeError(`generate: ${ids.length} prompt tokens + 'maxTokens' ${s.maxNewTokens} exceed the ${limit} positions a sequence holds`);
    this.checkUsable('generate', false);
    const fromConfig = this.generation?.eos_token_id ?? this.config.eosTokenId;
    const eos = o.eosTokenIds ?? (fromConfig === undefined ? [] : Array.isArray(fromConfig) ? fromConfig : [fromConfig as number]);
    return beamSearch(new DecoderModelBeams(this), ids, o, eos);
  }

  /**
   * Linear weights stored in another format than loadModel's `dtype` asked for because their rows
   * do not hold whole blocks (an FFN width of 172 with q4_k falls back to f16), by parameter name.
   */
  get weightFallbacks(): ReadonlyMap<string, WeightFallback> {
    return this.binder.fallbacks;
  }

  /** The dtype of every packed linear weight, by parameter name ('l0.q' -> 'f16'). */
  weightDTypes(): ReadonlyMap<string, DType> {
    const out = new Map<string, DType>();
    for (const [name, p] of this.binder.params) if (!(p instanceof Tensor) && !(p instanceof MappedTensor)) out.set(name, p.dtype);
    return out;
  }

  /** Bytes of packed weights, planned activations and the built-in cache. */
  get bytes(): { weights: number; activations: number; cache: number } {
    let weights = 0;
    // Mapped tables are counted as 0: their pages belong to the file mapping.
    for (const p of this.binder.params.values()) weights += p instanceof Tensor ? p.storage.byteLength : p instanceof MappedTensor ? 0 : p.bytes;
    return { weights, activations: this.executor.bytes, cache: this.scratch.bytes };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.executor.dispose();
    this.scratch.dispose();
    this.states.dispose();
    this.binder.dispose();
    this.files.dispose();
    if (this.ownsBackend) this.backend.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function makeBackend(o: LoadModelOptions): Promise<Backend> | Backend {
  const b = o.backend ?? 'native';
  if (typeof b === 'object' && b !== null) return b;
  return createBackend(checkBackendName(b, 'loadModel'), o.threads === undefined ? {} : { threads: o.threads });
}

/** Every option loadModel takes; any other name is a TypeError. */
const LOAD_MODEL_OPTIONS: readonly (keyof (LoadModelOptions & ModelKindOption))[] = ['backend', 'dtype', 'threads', 'contextLength', 'maxBatch', 'kvDtype', 'outputs', 'stateBudget', 'pageRows', 'kind'];
/** The options an encoder takes from loadModel's. */
const ENCODER_OPTIONS: readonly (keyof (LoadModelOptions & ModelKindOption))[] = ['backend', 'dtype', 'threads', 'maxBatch', 'kind'];

/** Runs a decoder-family lookup; when the caller takes either kind, its refusal also lists the encoder model_types. */
function withEncoderTypes<T>(lookup: () => T, kind: 'decoder' | 'encoder' | 'encoder-decoder' | 'any'): T {
  try {
    return lookup();
  } catch (e) {
    if (kind === 'any' && e instanceof RangeError) throw new RangeError(`${e.message}; encoder model_types: ${ENCODER_MODEL_TYPES.join(', ')}`);
    throw e;
  }
}

/** A GGUF file's general.architecture (the file is opened and closed again). */
export function ggufArchitecture(path: string): string {
  const g = new GGUFFile(path);
  try {
    return String(g.get('general.architecture'));
  } finally {
    g.dispose();
  }
}

/** Either kind of model loadModel gives; `kind` narrows it. */
export type Model = DecoderModel | EncoderModel | EncoderDecoderModel;

/**
 * Loads a checkpoint of a family in the tables (families/index.ts: GPT-2, Llama, Mistral, Qwen;
 * families/encoders.ts: BERT, RoBERTa, XLM-RoBERTa, DistilBERT; families/seq2seq.ts: T5, BART,
 * Marian, with T5 also from llama.cpp's 't5' GGUF): a Hugging Face directory
 * (config.json + model.safetensors or model.safetensors.index.json shards) or a .gguf file. The
 * family comes from config.json (model_type, architectures) or GGUF metadata
 * (general.architecture); one no family claims is a RangeError listing the supported ones. By
 * default the result is either kind (`model.kind` narrows it); `kind: 'decoder'` or 'encoder'
 * types it as that model and refuses a checkpoint of the other kind.
 */
export function loadModel(pathOrDir: string, options: LoadModelOptions & { kind: 'decoder' }): Promise<DecoderModel>;
export function loadModel(pathOrDir: string, options: LoadModelOptions & { kind: 'encoder' }): Promise<EncoderModel>;
export function loadModel(pathOrDir: string, options: LoadModelOptions & { kind: 'encoder-decoder' }): Promise<EncoderDecoderModel>;
export function loadModel(pathOrDir: string, options?: LoadModelOptions & { kind?: 'any' }): Promise<Model>;
export async function loadModel(pathOrDir: string, options: LoadModelOptions & ModelKindOption = {}): Promise<Model> {
  if (typeof pathOrDir !== 'string') throw new TypeError("loadModel: 'pathOrDir' must be a string");
  if (typeof options !== 'object' || options === null) throw new TypeError('loadModel: options must be an object');
  checkOptionNames(options, LOAD_MODEL_OPTIONS, 'loadModel', {
    maxTokens: "is now 'contextLength' (the most positions a sequence holds); how many tokens to generate is a generation option",
  });
  checkModelPath(pathOrDir, 'loadModel');
  const kind = options.kind ?? 'any';
  if (kind !== 'decoder' && kind !== 'encoder' && kind !== 'encoder-decoder' && kind !== 'any')
    throw new RangeError(`loadModel: 'kind' must be 'decoder', 'encoder', 'encoder-decoder' or 'any', got ${JSON.stringify(options.kind)}`);
  const hf = statSync(pathOrDir).isDirectory() && existsSync(join(pathOrDir, 'config.json')) ? readConfig(pathOrDir).config : undefined;
  const ggufArch = hf === undefined && pathOrDir.endsWith('.gguf') && statSync(pathOrDir).isFile() ? ggufArchitecture(pathOrDir) : undefined;
  const seq2seq = (hf !== undefined && isSeq2SeqConfig(hf)) || (ggufArch !== undefined && isSeq2SeqGGUFArchitecture(ggufArch));
  if (seq2seq && kind !== 'any' && kind !== 'encoder-decoder')
    throw new RangeError(
      `loadModel: '${pathOrDir}' is an encoder-decoder checkpoint (${hf ? `model_type '${String(hf.model_type)}'` : `general.architecture '${ggufArch}'`}); pass { kind: 'encoder-decoder' } (or 'any')`,
    );
  if (!seq2seq && kind === 'encoder-decoder') throw new RangeError(`loadModel: '${pathOrDir}' is not an encoder-decoder checkpoint, but 'kind' is 'encoder-decoder'`);
  if (seq2seq) {
    const { kind: _kind, ...rest } = options;
    if (rest.outputs !== undefined) throw new TypeError("loadModel: 'outputs' is a decoder option; an encoder-decoder's forward() gives the last position's logits");
    return loadSeq2Seq(pathOrDir, rest as Seq2SeqLoadOptions, 'loadModel');
  }
  const encoder = (hf !== undefined && isEncoderConfig(hf)) || (ggufArch !== undefined && ENCODER_GGUF_ARCHITECTURES.includes(ggufArch));
  if (encoder && kind === 'decoder')
    throw new RangeError(
      `loadModel: '${pathOrDir}' is an encoder checkpoint (${hf ? `model_type '${String(hf.model_type)}'` : `general.architecture '${ggufArch}'`}); pass { kind: 'encoder' } (or 'any'), or use loadEncoder()`,
    );
  if (!encoder && kind === 'encoder') throw new RangeError(`loadModel: '${pathOrDir}' is not an encoder checkpoint, but 'kind' is 'encoder'`);
  if (encoder) {
    for (const k of Object.keys(options))
      if (!(ENCODER_OPTIONS as readonly string[]).includes(k)) throw new TypeError(`loadModel: '${k}' is a decoder option; an encoder takes ${ENCODER_OPTIONS.join(', ')}`);
    const { backend, dtype, threads, maxBatch } = options;
    return loadEncoder(pathOrDir, { ...(backend === undefined ? {} : { backend }), ...(dtype === undefined ? {} : { dtype }), ...(threads === undefined ? {} : { threads }), ...(maxBatch === undefined ? {} : { maxBatch }) }, 'loadModel');
  }
  if (options.dtype !== undefined && !isWeightDType(options.dtype))
    throw new RangeError(`loadModel: 'dtype' must be one of ${WEIGHT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(options.dtype)}`);
  const owned = typeof options.backend !== 'object';
  const backend = await makeBackend(options);
  let files: { dispose(): void; checkUnchanged(): void } | undefined;
  let binder: Binder | undefined;
  try {
    let config: DecoderConfig;
    let generation: GenerationConfig | undefined;
    if (statSync(pathOrDir).isDirectory()) {
      const c = readConfig(pathOrDir);
      const fam = withEncoderTypes(() => familyOfHF(c.config), kind);
      config = fam.configFromHF(c.config);
      generation = c.generation;
      const st = new SafetensorsCheckpoint(pathOrDir);
      files = st;
      binder = new Binder(st, backend, options.dtype);
      fam.bindHF(binder, config);
      binder.checkParameters(fam.parameters(config));
    } else if (pathOrDir.endsWith('.gguf')) {
      const g = new GGUFFile(pathOrDir);
      files = g;
      const fam = familyOfGGUF(g);
      config = fam.configFromGGUF(g);
      binder = new Binder({ has: (n) => g.tensors.has(n), tensor: (n) => g.tensor(n) }, backend, options.dtype);
      fam.bindGGUF(binder, config);
      binder.checkParameters(fam.parameters(config));
    } else if (pathOrDir.endsWith('.safetensors')) {
      throw new RangeError(`loadModel: '${pathOrDir}' is a bare safetensors file; pass its directory (with config.json)`);
    } else {
      throw new RangeError(`loadModel: '${pathOrDir}' is neither a checkpoint directory nor a .gguf file (looked for ${join(pathOrDir, 'config.json')})`);
    }
    for (const [name, table] of ropeTables(config.ropeScaling)) binder.constant(name, table);
    const contextLength = Math.min(options.contextLength ?? Math.min(config.maxPositions, 2048), config.maxPositions);
    if (!Number.isInteger(contextLength) || contextLength < 1)
      throw new RangeError(`loadModel: 'contextLength' must be a positive integer, got ${options.contextLength}`);
    const maxBatch = options.maxBatch ?? Math.min(16, contextLength);
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > contextLength)
      throw new RangeError(`loadModel: 'maxBatch' must be an integer in [1, ${contextLength}], got ${options.maxBatch}`);
    const kvDtype = options.kvDtype ?? 'f32';
    const outputs = options.outputs ?? ['lastLogits'];
    if (!Array.isArray(outputs) || outputs.length === 0 || new Set(outputs).size !== outputs.length || !outputs.every((o) => DECODER_OUTPUTS.includes(o)))
      throw new RangeError(`loadModel: 'outputs' must be a non-empty list of distinct names from ${DECODER_OUTPUTS.join(', ')}, got ${JSON.stringify(outputs)}`);
    if (kvDtype !== 'f32' && kvDtype !== 'f16') throw new RangeError(`loadModel: 'kvDtype' must be 'f32' or 'f16', got ${String(options.kvDtype)}`);
    const { stateBudget, pageRows } = options;
    if (stateBudget !== undefined && !(Number.isSafeInteger(stateBudget) && stateBudget >= 1))
      throw new RangeError(`loadModel: 'stateBudget' must be a positive integer (bytes), got ${String(stateBudget)}`);
    if (pageRows !== undefined && !(Number.isInteger(pageRows) && pageRows >= 1 && pageRows <= 4096 && (pageRows & (pageRows - 1)) === 0))
      throw new RangeError(`loadModel: 'pageRows' must be a power of two in [1, 4096], got ${String(pageRows)}`);
    const state = { ...(stateBudget === undefined ? {} : { budgetBytes: stateBudget }), ...(pageRows === undefined ? {} : { pageRows }) };
    return new DecoderModel(config, backend, binder, files, contextLength, maxBatch, generation, kvDtype, owned, outputs, state);
  } catch (e) {
    binder?.dispose();
    files?.dispose();
    if (owned) backend.dispose();
    throw e;
  }
}
