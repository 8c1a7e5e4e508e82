// loadModel and DecoderModel: a checkpoint (HF directory or GGUF file) bound to a planned graph
// on a backend, with a KV cache of preallocated (Tmax, Hkv, D) f32 tensors per layer.
// Not a generation loop: forward() gives last-position logits, forwardBatch() those of several
// sequences in one pass; sampling lives elsewhere.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { checkBackendName, createBackend, type BackendName } from '../backend/backends.js';
import { PlanExecutor, type CacheBuffers } from '../graph/executor.js';
import { plan, type Plan } from '../graph/planner.js';
import type { KVDType } from '../graph/ir.js';
import { GGUFFile } from '../io/gguf.js';
import { MappedTensor } from '../io/mapped.js';
import { readConfig, type GenerationConfig } from '../io/config.js';
import { SafetensorsCheckpoint } from '../io/safetensors.js';
import { Tensor } from '../tensor/tensor.js';
import type { DecoderConfig } from './config.js';
import { decoderGraph, familyOfGGUF, familyOfHF } from './families/index.js';
import { DECODER_OUTPUTS, type DecoderOutput } from './blocks.js';
import { Binder, type WeightDType } from './weights.js';
import { WEIGHT_DTYPES, isWeightDType } from '../tensor/formats.js';
import type { DType } from '../tensor/dtype.js';
import { checkOptionNames } from '../util/names.js';

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
 * K and V rows of every layer for one sequence; `length` rows are filled. A backend that runs on
 * a device (WebGPU) keeps the rows there: the host buffers are then only their keys.
 */
export class KVCache implements CacheBuffers {
  readonly k: Tensor[];
  readonly v: Tensor[];
  length = 0;
  private released = false;
  constructor(
    cfg: DecoderConfig,
    readonly capacity: number,
    private readonly backend?: Backend,
    readonly dtype: KVDType = 'f32',
  ) {
    // k, v: (capacity, Hkv, D) f32 or f16 per layer
    this.k = Array.from({ length: cfg.layers }, () => Tensor.zeros(dtype, [capacity, cfg.kvHeads, cfg.headDim]));
    this.v = Array.from({ length: cfg.layers }, () => Tensor.zeros(dtype, [capacity, cfg.kvHeads, cfg.headDim]));
  }
  /** Forgets every row (the buffers are reused). */
  reset(): void {
    this.length = 0;
  }
  get bytes(): number {
    return this.k.reduce((a, t) => a + 2 * t.storage.byteLength, 0);
  }
  get disposed(): boolean {
    return this.released;
  }
  /** Frees the rows now, device copies included; forward() rejects the cache afterwards. */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.length = 0;
    this.backend?.release?.([...this.k, ...this.v]);
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
  readonly plan: Plan;
  private readonly executor: PlanExecutor;
  private readonly scratch: KVCache;
  private disposed = false;
  private running = false;

  constructor(
    readonly config: DecoderConfig,
    readonly backend: Backend,
    private readonly binder: Binder,
    private readonly files: { dispose(): void },
    /** most positions one sequence's cache holds (loadModel's contextLength) */
    readonly contextLength: number,
    readonly maxBatch: number,
    readonly generation?: GenerationConfig,
    readonly kvDtype: KVDType = 'f32',
    /** Whether dispose() also disposes the backend (loadModel made it from a name). */
    private readonly ownsBackend = false,
    /** what each pass computes (loadModel's outputs) */
    readonly outputs: readonly DecoderOutput[] = ['lastLogits'],
  ) {
    const g = decoderGraph(config, kvDtype, outputs);
    this.plan = plan(g.build(g.outputs as Record<string, { kind: 'value'; id: number }>), contextLength, maxBatch);
    this.executor = new PlanExecutor(this.plan, backend, binder.params, config.layers);
    this.scratch = new KVCache(config, contextLength, backend, kvDtype);
  }

  /** A cache for one sequence (capacity default: contextLength); dispose() it when the sequence ends. */
  newCache(capacity = this.contextLength): KVCache {
    return new KVCache(this.config, capacity, this.backend, this.kvDtype);
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
    return (await this.pass(fn, [{ ids, cache }]))[0]!;
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

  private checkUsable(fn: string): void {
    if (this.disposed) throw new Error(`${fn}: the model was disposed`);
    if (this.running) throw new Error(`${fn}: a forward pass is already running on this model; await it first`);
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
    try {
      const out = await this.executor.runOutputs([idv, pos, last], items.map(({ ids, cache }) => ({ t: ids.length, p: cache.length, cache })));
      const { vocabSize: v, hidden: c } = this.config;
      const rows = (name: DecoderOutput, width: number, from: number, n: number) => (out[name]!.data as Float32Array).slice(from * width, (from + n) * width);
      let first = 0;
      return items.map(({ ids, cache }, n) => {
        cache.length += ids.length;
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
const LOAD_MODEL_OPTIONS: readonly (keyof LoadModelOptions)[] = ['backend', 'dtype', 'threads', 'contextLength', 'maxBatch', 'kvDtype', 'outputs'];

/**
 * Loads a checkpoint of a family in the table (families/index.ts: GPT-2, Llama): a Hugging Face
 * directory (config.json + model.safetensors or model.safetensors.index.json shards) or a .gguf
 * file. The family comes from config.json (model_type, architectures) or GGUF metadata
 * (general.architecture); one no family claims is a RangeError listing the supported ones.
 */
export async function loadModel(pathOrDir: string, options: LoadModelOptions = {}): Promise<DecoderModel> {
  if (typeof pathOrDir !== 'string') throw new TypeError("loadModel: 'pathOrDir' must be a string");
  if (typeof options !== 'object' || options === null) throw new TypeError('loadModel: options must be an object');
  checkOptionNames(options, LOAD_MODEL_OPTIONS, 'loadModel', {
    maxTokens: "is now 'contextLength' (the most positions a sequence holds); how many tokens to generate is a generation option",
  });
  if (!existsSync(pathOrDir)) throw new RangeError(`loadModel: '${pathOrDir}' does not exist`);
  if (options.dtype !== undefined && !isWeightDType(options.dtype))
    throw new RangeError(`loadModel: 'dtype' must be one of ${WEIGHT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(options.dtype)}`);
  const owned = typeof options.backend !== 'object';
  const backend = await makeBackend(options);
  let files: { dispose(): void } | undefined;
  let binder: Binder | undefined;
  try {
    let config: DecoderConfig;
    let generation: GenerationConfig | undefined;
    if (statSync(pathOrDir).isDirectory()) {
      const c = readConfig(pathOrDir);
      const fam = familyOfHF(c.config);
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
    return new DecoderModel(config, backend, binder, files, contextLength, maxBatch, generation, kvDtype, owned, outputs);
  } catch (e) {
    binder?.dispose();
    files?.dispose();
    if (owned) backend.dispose();
    throw e;
  }
}
