// EncoderDecoderModel: an encoder-decoder checkpoint (T5; the table in families/seq2seq.ts) as two
// planned graphs over shared weights. encode() runs the encoder once per input and leaves every
// decoder layer's cross-attention K/V in the static part of a sequence state; forward() runs
// decoder tokens over a cache bound to that state; generate() is the shared beam search
// (generate/beam-search.ts) over paged caches. Not a family, not the graphs (seq2seq-graph.ts).

import { existsSync, statSync } from 'node:fs';
import { HostStatePool } from '../backend/host-state.js';
import type { Backend, SequenceState, StatePool, StatePoolStats } from '../backend/backend.js';
import { checkBackendName, createBackend, type BackendName } from '../backend/backends.js';
import { PlanExecutor } from '../graph/executor.js';
import type { KVDType } from '../graph/ir.js';
import { plan, type Plan } from '../graph/planner.js';
import { readConfig, type GenerationConfig } from '../io/config.js';
import { GGUFFile } from '../io/gguf.js';
import { MappedTensor } from '../io/mapped.js';
import { SafetensorsCheckpoint } from '../io/safetensors.js';
import { Tensor } from '../tensor/tensor.js';
import { WEIGHT_DTYPES, isWeightDType } from '../tensor/formats.js';
import { beamSearch, beamSettings, type BeamSearchResult } from '../generate/beam-search.js';
import { PagedBeams } from '../generate/beam-steppers.js';
import { validateGenerateOptions, type GenerateOptions } from '../generate/options.js';
import { seq2seqFamilyOfGGUF, seq2seqFamilyOfHF } from './families/seq2seq.js';
import { decoderVocabSize, type Seq2SeqConfig, type Seq2SeqFamily } from './families/seq2seq-family.js';
import { seq2seqDecoderGraph, seq2seqEncoderGraph } from './seq2seq-graph.js';
import { Binder, type WeightDType } from './weights.js';

/**
 * Hugging Face generation settings (generation_config.json, config.json, or one entry of
 * config.json's task_specific_params) as generate() options. HF's max_length / min_length count
 * the decoder's ids with its start token; forced_eos_token_id needs the request's length, so
 * generate() places it.
 */
export function hfGenerationOptions(g: Record<string, unknown>): GenerateOptions {
  const o: Record<string, unknown> = {};
  const take = (key: string, name: keyof GenerateOptions, map: (v: unknown) => unknown = (v) => v) => {
    if (g[key] !== undefined && g[key] !== null) o[name] = map(g[key]);
  };
  take('num_beams', 'numBeams');
  take('num_return_sequences', 'numReturnSequences');
  take('length_penalty', 'lengthPenalty');
  take('early_stopping', 'earlyStopping');
  take('no_repeat_ngram_size', 'noRepeatNgramSize');
  take('repetition_penalty', 'repetitionPenalty');
  take('bad_words_ids', 'badWordIds');
  if (g.max_new_tokens !== undefined && g.max_new_tokens !== null) take('max_new_tokens', 'maxTokens');
  else take('max_length', 'maxTokens', (v) => (typeof v === 'number' ? Math.max(0, v - 1) : v));
  if (g.min_new_tokens !== undefined && g.min_new_tokens !== null) take('min_new_tokens', 'minNewTokens');
  else take('min_length', 'minNewTokens', (v) => (typeof v === 'number' ? Math.max(0, v - 1) : v));
  take('forced_bos_token_id', 'forcedTokens', (v) => new Map([[0, v as number]]));
  return o as GenerateOptions;
}

export interface Seq2SeqLoadOptions {
  /** A backend of the registry by name (default 'native') or a Backend instance (not disposed with the model). */
  backend?: BackendName | Backend;
  /** Weight dtype of linear layers; default: as stored. */
  dtype?: WeightDType;
  /** Intra-op threads of the native backend. */
  threads?: number;
  /**
   * Most rows one sequence holds in each part: encoder tokens (the static part) and decoder
   * tokens (the self part); also the most tokens of one pass. Default: the config's position
   * limit, else 512 (T5's relative positions have none).
   */
  contextLength?: number;
  /** Most sequences one pass holds (beams of a search share a pass); default 16. */
  maxBatch?: number;
  /** Element type of the K/V state: 'f32' (default) or 'f16'. */
  kvDtype?: KVDType;
  /** Most bytes of sequence state at once; default: half of the machine's memory. */
  stateBudget?: number;
  /** Rows per page of sequence state (a power of two); default 32. */
  pageRows?: number;
}

const LOAD_OPTIONS: readonly (keyof Seq2SeqLoadOptions)[] = ['backend', 'dtype', 'threads', 'contextLength', 'maxBatch', 'kvDtype', 'stateBudget', 'pageRows'];

/** What the model has run since load: tests read them to see that the encoder and cross K/V run once per request. */
export interface Seq2SeqCounters {
  /** Encoder passes (one per encode() call; encodeBatch() packs several inputs into fewer). */
  readonly encoderPasses: number;
  /** Inputs encoded: each one's cross K/V of every decoder layer computed once, into its static part. */
  readonly encodedSequences: number;
  /** Rows written into static parts (cross K/V of all decoder layers per row): the encoder tokens. */
  readonly crossKVRows: number;
  /** Decoder passes (a search's beams share one per step). */
  readonly decoderPasses: number;
  /** Decoder tokens run, all sequences together. */
  readonly decoderTokens: number;
}

let nextEncoderId = 1;

/**
 * One input's encoder output: its last hidden state and a sequence state whose static part holds
 * every decoder layer's cross-attention K/V. Caches bound to it share those rows (copy-on-write),
 * so it may be disposed as soon as its caches exist.
 */
export class EncoderState {
  /** @internal */
  readonly id = nextEncoderId++;
  /** @internal */
  constructor(
    /** @internal */
    readonly state: SequenceState,
    /** (length, C) f32: the encoder's last hidden state (after its final norm) */
    readonly hidden: Float32Array,
    /** encoder tokens */
    readonly length: number,
  ) {}
  get disposed(): boolean {
    return this.state.disposed;
  }
  dispose(): void {
    if (!this.state.disposed) this.state.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * One decoder sequence: its self-attention K/V rows, and the static cross-attention rows of the
 * encoder output it was first run with (forward's `encoder`). fork() shares both copy-on-write.
 */
export class Seq2SeqCache {
  private st: SequenceState | undefined;
  private encoderId = 0;
  private released = false;
  /** @internal */
  constructor(
    /** most decoder rows the sequence may hold */
    readonly capacity: number,
    from?: { state: SequenceState; encoderId: number },
  ) {
    if (from) {
      this.st = from.state;
      this.encoderId = from.encoderId;
    }
  }
  /** @internal the state, once bound to an encoder output */
  get state(): SequenceState | undefined {
    return this.st;
  }
  /** @internal */
  bind(encoder: EncoderState): void {
    this.st = encoder.state.fork();
    this.encoderId = encoder.id;
  }
  /** @internal back to a cache that has not run (its rows, both parts, are let go) */
  unbind(): void {
    if (this.st && !this.st.disposed) this.st.dispose();
    this.st = undefined;
    this.encoderId = 0;
  }
  /** @internal the encoder output it is bound to (0: none yet) */
  get boundTo(): number {
    return this.encoderId;
  }
  /** Decoder rows it holds. */
  get length(): number {
    return this.st?.length ?? 0;
  }
  /** Encoder rows its cross-attention reads (0 before its first forward). */
  get encoderLength(): number {
    return this.st?.staticLength ?? 0;
  }
  /** Keeps the first n decoder rows. */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new RangeError(`truncate: 'n' must be an integer in [0, ${this.length}], got ${n}`);
    this.st?.truncate(n);
  }
  /** A cache with the same rows (both parts), shared until one side writes. */
  fork(): Seq2SeqCache {
    if (this.disposed) throw new Error('fork: the cache was disposed');
    return new Seq2SeqCache(this.capacity, this.st ? { state: this.st.fork(), encoderId: this.encoderId } : undefined);
  }
  get disposed(): boolean {
    return this.released;
  }
  dispose(): void {
    this.released = true;
    if (this.st && !this.st.disposed) this.st.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface Seq2SeqForwardOptions {
  /** The encoder output the decoder attends to; required for a cache's first pass, optional after. */
  encoder?: EncoderState;
  /** Continue this decoder sequence (from newCache()); without one, ids are a whole decoder sequence. */
  cache?: Seq2SeqCache;
}

/** An item of forwardBatch(): decoder ids continuing `cache` (bound on first use to `encoder`). */
export interface Seq2SeqBatchItem {
  ids: ArrayLike<number>;
  cache: Seq2SeqCache;
  encoder?: EncoderState;
}

export class EncoderDecoderModel {
  readonly kind = 'encoder-decoder' as const;
  readonly encoderPlan: Plan;
  readonly decoderPlan: Plan;
  /** The backend's pages for this model's sequences: static (cross K/V) and self parts. */
  readonly states: StatePool;
  private readonly encoder: PlanExecutor;
  private readonly decoder: PlanExecutor;
  private readonly count = { encoderPasses: 0, encodedSequences: 0, crossKVRows: 0, decoderPasses: 0, decoderTokens: 0 };
  private disposed = false;
  private running = false;

  constructor(
    readonly config: Seq2SeqConfig,
    readonly family: Seq2SeqFamily,
    readonly backend: Backend,
    private readonly binder: Binder,
    private readonly files: { dispose(): void; checkUnchanged(): void },
    readonly contextLength: number,
    readonly maxBatch: number,
    readonly generation: GenerationConfig | undefined,
    readonly kvDtype: KVDType,
    private readonly ownsBackend: boolean,
    state: { budgetBytes?: number; pageRows?: number } = {},
  ) {
    const e = seq2seqEncoderGraph(config, family.graph, kvDtype);
    const d = seq2seqDecoderGraph(config, family.graph, kvDtype);
    this.encoderPlan = plan(e.graph.build({ hidden: e.hidden }), contextLength, maxBatch);
    this.decoderPlan = plan(d.graph.build({ lastLogits: d.logits }), contextLength, maxBatch);
    this.encoder = new PlanExecutor(this.encoderPlan, backend, binder.params, config.decoderLayers);
    this.decoder = new PlanExecutor(this.decoderPlan, backend, binder.params, config.decoderLayers);
    const layout = { layers: config.decoderLayers, kvHeads: config.heads, headDim: config.headDim, dtype: kvDtype };
    const options = { capacity: contextLength, ...state };
    this.states = backend.createStatePool?.(layout, options) ?? new HostStatePool(layout, options, backend, backend.release !== undefined);
  }

  /** Throws ModelFileChangedError when a checkpoint file changed on disk since load (token tables are read through the mapping). */
  checkFiles(): void {
    this.files.checkUnchanged();
  }

  /** Passes and rows run since load (see Seq2SeqCounters). */
  get counters(): Seq2SeqCounters {
    return { ...this.count };
  }

  /** Pages and bytes of sequence state in use, copy-on-write copies. */
  stateStats(): StatePoolStats {
    return this.states.stats();
  }

  private checkUsable(fn: string, pass = true): void {
    if (this.disposed) throw new Error(`${fn}: the model was disposed`);
    if (pass && this.running) throw new Error(`${fn}: a forward pass is already running on this model; await it first`);
  }

  /** Ids the decoder reads and the length of its logits (Marian's decoder_vocab_size; else vocabSize). */
  get decoderVocabSize(): number {
    return decoderVocabSize(this.config);
  }

  /** Ids of the encoder's input (vocab) or of decoder tokens (vocab: decoderVocabSize). */
  private checkIds(fn: string, ids: ArrayLike<number>, what: string, limit: number, vocab = this.config.vocabSize): void {
    if (typeof ids !== 'object' || ids === null || typeof ids.length !== 'number' || ids.length < 1) throw new TypeError(`${fn}: ${what} must be a non-empty array of token ids`);
    if (ids.length > limit) throw new RangeError(`${fn}: ${what} holds ${ids.length} tokens, more than the ${limit} a sequence holds (contextLength)`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`${fn}: ${what}[${i}] = ${id} is outside [0, ${vocab})`);
    }
  }

  /** Runs the encoder over one input (token ids): its hidden state, and every decoder layer's cross K/V in a new state. */
  async encode(ids: ArrayLike<number>): Promise<EncoderState> {
    return (await this.encodeBatch([ids], 'encode'))[0]!;
  }

  /** encode() for several inputs, packed into as few encoder passes as the plan holds (maxBatch, contextLength tokens). */
  async encodeBatch(inputs: readonly ArrayLike<number>[], fn = 'encodeBatch'): Promise<EncoderState[]> {
    if (!Array.isArray(inputs) || inputs.length < 1) throw new TypeError(`${fn}: inputs must be a non-empty array of token id arrays`);
    inputs.forEach((ids, i) => this.checkIds(fn, ids, inputs.length > 1 ? `inputs[${i}]` : 'ids', this.contextLength));
    this.checkUsable(fn);
    const out: EncoderState[] = [];
    this.running = true;
    try {
      for (let i = 0; i < inputs.length; ) {
        // One pass: as many inputs as fit.
        const group: ArrayLike<number>[] = [];
        let t = 0;
        while (i < inputs.length && group.length < this.maxBatch && t + inputs[i]!.length <= this.encoderPlan.tMax) {
          t += inputs[i]!.length;
          group.push(inputs[i++]!);
        }
        out.push(...(await this.encodePass(group, t)));
      }
      return out;
    } catch (e) {
      for (const o of out) o.dispose();
      throw e;
    } finally {
      this.running = false;
    }
  }

  private async encodePass(group: readonly ArrayLike<number>[], total: number): Promise<EncoderState[]> {
    const ids = new Int32Array(total);
    const pos = new Int32Array(total);
    let row = 0;
    for (const g of group) for (let i = 0; i < g.length; i++, row++) [ids[row], pos[row]] = [g[i]!, i];
    const states = group.map(() => this.states.create());
    try {
      const inputs = this.family.graph.readsPositions ? [ids, pos] : [ids];
      const out = await this.encoder.runOutputs(inputs, group.map((g, n) => ({ t: g.length, p: 0, state: states[n]! })));
      this.count.encoderPasses++;
      this.count.encodedSequences += group.length;
      this.count.crossKVRows += total;
      const hidden = out.hidden!.data as Float32Array;
      const C = this.config.hidden;
      let first = 0;
      return group.map((g, n) => {
        const h = hidden.slice(first * C, (first + g.length) * C);
        first += g.length;
        return new EncoderState(states[n]!, h, g.length);
      });
    } catch (e) {
      for (const s of states) s.dispose();
      throw e;
    }
  }

  /** A decoder cache (at most `capacity` decoder rows, default contextLength); bound to an encoder output by its first forward. */
  newCache(capacity = this.contextLength): Seq2SeqCache {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > this.contextLength)
      throw new RangeError(`newCache: 'capacity' must be an integer in [1, ${this.contextLength}], got ${capacity}`);
    this.checkUsable('newCache', false);
    return new Seq2SeqCache(capacity);
  }

  /** Beam selection: caches[i] takes the rows caches[parents[i]] had (page tables move; no full page is copied). */
  reorder(caches: readonly Seq2SeqCache[], parents: readonly number[]): void {
    if (!Array.isArray(caches) || !caches.every((c) => c instanceof Seq2SeqCache && c.state !== undefined && !c.disposed))
      throw new TypeError('reorder: caches must come from model.newCache() and have run a forward pass');
    this.checkUsable('reorder', false);
    this.states.reorder(caches.map((c) => c.state!), parents);
  }

  /**
   * Runs decoder ids (the new tokens; a cache's first ones start with the decoder start token)
   * over an encoder output and returns the last position's logits, (decoderVocabSize) f32. Without a
   * cache the ids are a whole decoder sequence.
   */
  async forward(ids: ArrayLike<number>, options: Seq2SeqForwardOptions = {}): Promise<Float32Array> {
    if (typeof options !== 'object' || options === null) throw new TypeError('forward: options must be an object');
    if (options.cache !== undefined && !(options.cache instanceof Seq2SeqCache)) throw new TypeError("forward: 'cache' must come from model.newCache()");
    const cache = options.cache ?? new Seq2SeqCache(this.contextLength);
    try {
      return (await this.forwardBatch([{ ids, cache, ...(options.encoder ? { encoder: options.encoder } : {}) }], 'forward'))[0]!;
    } finally {
      if (!options.cache) cache.dispose();
    }
  }

  /** One decoder pass over several sequences (each on its own cache); each item's last logits, in order. */
  async forwardBatch(items: readonly Seq2SeqBatchItem[], fn = 'forwardBatch'): Promise<Float32Array[]> {
    if (!Array.isArray(items) || items.length < 1) throw new TypeError(`${fn}: items must be a non-empty array of { ids, cache }`);
    if (items.length > this.maxBatch) throw new RangeError(`${fn}: ${items.length} items exceed maxBatch ${this.maxBatch}`);
    const seen = new Set<Seq2SeqCache>();
    let total = 0;
    items.forEach((it, n) => {
      const what = items.length > 1 ? `items[${n}].` : '';
      if (!(it?.cache instanceof Seq2SeqCache)) throw new TypeError(`${fn}: ${what}cache must come from model.newCache()`);
      if (it.cache.disposed) throw new Error(`${fn}: ${what}cache was disposed`);
      if (seen.has(it.cache)) throw new RangeError(`${fn}: items[${n}] uses a cache that another item uses`);
      seen.add(it.cache);
      if (it.encoder !== undefined && !(it.encoder instanceof EncoderState)) throw new TypeError(`${fn}: ${what}encoder must come from model.encode()`);
      if (it.encoder?.disposed) throw new Error(`${fn}: ${what}encoder was disposed`);
      if (it.cache.boundTo === 0 && it.encoder === undefined) throw new TypeError(`${fn}: ${what}encoder is required: the cache has not run yet`);
      if (it.cache.boundTo !== 0 && it.encoder !== undefined && it.encoder.id !== it.cache.boundTo)
        throw new RangeError(`${fn}: ${what}cache belongs to another encoder output`);
      this.checkIds(fn, it.ids, `${what}ids`, Infinity, this.decoderVocabSize);
      if (it.cache.length + it.ids.length > it.cache.capacity)
        throw new RangeError(`${fn}: ${what}cache holds ${it.cache.length} decoder rows; ${it.ids.length} more exceed its capacity ${it.cache.capacity}`);
      total += it.ids.length;
    });
    if (total > this.decoderPlan.tMax) throw new RangeError(`${fn}: ${total} new tokens exceed the ${this.decoderPlan.tMax} one pass holds`);
    this.checkUsable(fn);
    for (const it of items) if (it.cache.boundTo === 0) it.cache.bind(it.encoder!);
    const ids = new Int32Array(total);
    const pos = new Int32Array(total);
    const last = new Int32Array(items.length);
    let row = 0;
    items.forEach((it, n) => {
      for (let i = 0; i < it.ids.length; i++, row++) [ids[row], pos[row]] = [it.ids[i]!, it.cache.length + i];
      last[n] = row - 1;
    });
    const before = items.map((it) => it.cache.length);
    this.running = true;
    try {
      const inputs = this.family.graph.readsPositions ? [ids, pos, last] : [ids, last];
      const out = await this.decoder.run(inputs, items.map((it, n) => ({ t: it.ids.length, p: before[n]!, state: it.cache.state! })));
      this.count.decoderPasses++;
      this.count.decoderTokens += total;
      const V = this.decoderVocabSize;
      const data = out.data as Float32Array;
      return items.map((_, n) => data.slice(n * V, (n + 1) * V));
    } catch (e) {
      // A failed pass may have grown states: roll back the rows nobody may read.
      items.forEach((it, n) => {
        if (!it.cache.disposed && it.cache.length > before[n]!) it.cache.truncate(before[n]!);
      });
      throw e;
    } finally {
      this.running = false;
    }
  }

  /** generation_config.json (else config.json) as generate() options: what generate() uses where the caller passes nothing. */
  generationDefaults(): GenerateOptions {
    return hfGenerationOptions(this.generation ?? {});
  }

  /**
   * forced_bos_token_id / forced_eos_token_id as forcedTokens: the first generated token, and the
   * one that reaches HF's max_length (the start token counted), i.e. generated position
   * maxNewTokens - 1. From generation_config.json when the checkpoint has one (as HF reads it),
   * else config.json. Undefined when neither is set.
   */
  forcedTokens(maxNewTokens: number): ReadonlyMap<number, number> | undefined {
    const g = this.generation as Record<string, unknown> | undefined;
    const id = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
    const bos = g ? id(g.forced_bos_token_id) : this.config.forcedBosTokenId;
    const eos = g ? id(g.forced_eos_token_id) : this.config.forcedEosTokenId;
    if (bos === undefined && eos === undefined) return undefined;
    const m = new Map<number, number>();
    // HF runs ForcedBOS before ForcedEOS: when both fall on the first token, EOS wins.
    if (bos !== undefined) m.set(0, bos);
    if (eos !== undefined && maxNewTokens >= 1) m.set(maxNewTokens - 1, eos);
    return m;
  }

  /** The decoder's first id: generation_config.json's decoder_start_token_id, else config.json's. */
  get decoderStartTokenId(): number {
    const v = this.generation?.decoder_start_token_id;
    return typeof v === 'number' ? v : this.config.decoderStartTokenId;
  }

  /** End-of-sequence ids: generation_config.json's eos_token_id, else config.json's. */
  get eosTokenIds(): readonly number[] {
    const v = this.generation?.eos_token_id;
    return v === undefined ? this.config.eosTokenIds : Array.isArray(v) ? v : [v];
  }

  /**
   * Generates from an input's token ids: the encoder runs once, then beam search (numBeams > 1,
   * HF's BeamSearchScorer semantics; the beams fork one cache and share one decoder pass per step)
   * or the arg-max token per step. Options the caller leaves out come from generationDefaults().
   * Resolves to the best numReturnSequences sequences, best first: their decoder ids after the
   * start token (EOS excluded) and scores.
   */
  async generate(inputIds: ArrayLike<number>, options: GenerateOptions = {}): Promise<BeamSearchResult> {
    if (typeof options !== 'object' || options === null) throw new TypeError('generate: options must be an object');
    const why = 'token-id generation is deterministic and has no text';
    const defaults = validateGenerateOptions(this.generationDefaults());
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    // maxNewTokens (the alias) given by the caller replaces the default maxTokens.
    if ('maxNewTokens' in given) delete (defaults as Record<string, unknown>).maxTokens;
    const o = validateGenerateOptions({ ...defaults, ...given }, {
      refused: { stop: why, badWords: why, logprobs: why, seed: why, topK: why, topP: why, minP: why, typicalP: why },
    });
    const s = beamSettings(o);
    // forced_eos_token_id: the last token a request may generate (HF's at max_length - 1), unless the caller forces tokens.
    const forcedEos = this.generation?.forced_eos_token_id;
    if (typeof forcedEos === 'number' && given.forcedTokens === undefined && s.maxNewTokens > 0) {
      const forced = new Map(o.forcedTokens instanceof Map ? o.forcedTokens : Array.isArray(o.forcedTokens) ? o.forcedTokens.map((id, i) => [i, id] as [number, number]) : []);
      forced.set(s.maxNewTokens - 1, forcedEos);
      o.forcedTokens = forced;
    }
    this.checkIds('generate', inputIds, "'inputIds'", this.contextLength);
    // Without generation_config.json, config.json's forced BOS / EOS (unless the caller forces tokens).
    const forced = o.forcedTokens === undefined && this.generation === undefined ? this.forcedTokens(s.maxNewTokens) : undefined;
    for (const id of o.eosTokenIds ?? [])
      if (id >= this.decoderVocabSize) throw new RangeError(`generate: 'eosTokenIds' entries must be ids in [0, ${this.decoderVocabSize}), got ${id}`);
    // The start token and every chosen token but the last are fed back.
    if (s.maxNewTokens > this.contextLength) throw new RangeError(`generate: 'maxTokens' ${s.maxNewTokens} exceeds the ${this.contextLength} decoder rows a sequence holds`);
    this.checkUsable('generate', false);
    const input = Array.from(inputIds);
    const stepper = new PagedBeams<Seq2SeqCache>(this, this.decoderVocabSize, async (prompt, keep) => {
      const encoder = await this.encode(input);
      try {
        const cache = this.newCache();
        keep(cache);
        return await this.forward(prompt, { encoder, cache });
      } finally {
        // The caches hold the cross K/V rows now (shared pages).
        encoder.dispose();
      }
    });
    return beamSearch(stepper, [this.decoderStartTokenId], forced === undefined ? o : { ...o, forcedTokens: forced }, o.eosTokenIds ?? this.eosTokenIds);
  }

  /** Bytes of packed weights and planned activations. */
  get bytes(): { weights: number; activations: number } {
    let weights = 0;
    // Mapped tables are counted as 0: their pages belong to the file mapping.
    for (const p of this.binder.params.values()) weights += p instanceof Tensor ? p.storage.byteLength : p instanceof MappedTensor ? 0 : p.bytes;
    return { weights, activations: this.encoder.bytes + this.decoder.bytes };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.encoder.dispose();
    this.decoder.dispose();
    this.states.dispose();
    this.binder.dispose();
    this.files.dispose();
    if (this.ownsBackend) this.backend.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The load options that size the plans and the state pool, checked against the config. */
function checkSizes(config: Seq2SeqConfig, options: Seq2SeqLoadOptions, fn: string): { contextLength: number; maxBatch: number } {
  const limit = config.maxPositions ?? Infinity;
  const contextLength = options.contextLength ?? Math.min(limit, 512);
  if (!Number.isInteger(contextLength) || contextLength < 1 || contextLength > limit)
    throw new RangeError(`${fn}: 'contextLength' must be an integer in [1, ${limit}], got ${String(options.contextLength)}`);
  const maxBatch = options.maxBatch ?? Math.min(16, contextLength);
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > contextLength)
    throw new RangeError(`${fn}: 'maxBatch' must be an integer in [1, ${contextLength}], got ${String(options.maxBatch)}`);
  const { stateBudget, pageRows } = options;
  if (stateBudget !== undefined && !(Number.isSafeInteger(stateBudget) && stateBudget >= 1))
    throw new RangeError(`${fn}: 'stateBudget' must be a positive integer (bytes), got ${String(stateBudget)}`);
  if (pageRows !== undefined && !(Number.isInteger(pageRows) && pageRows >= 1 && pageRows <= 4096 && (pageRows & (pageRows - 1)) === 0))
    throw new RangeError(`${fn}: 'pageRows' must be a power of two in [1, 4096], got ${String(pageRows)}`);
  return { contextLength, maxBatch };
}

/**
 * Loads an encoder-decoder checkpoint: a directory (config.json + model.safetensors or sharded
 * model.safetensors.index.json; generation_config.json when present) or a GGUF file of a family
 * with a GGUF form (llama.cpp's 't5'). The family comes from the table in families/seq2seq.ts; a
 * config field it does not implement is a RangeError naming it.
 */
export async function loadSeq2Seq(dir: string, options: Seq2SeqLoadOptions = {}, fn = 'loadSeq2Seq'): Promise<EncoderDecoderModel> {
  if (typeof dir !== 'string') throw new TypeError(`${fn}: 'dir' must be a string`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: options must be an object`);
  for (const k of Object.keys(options))
    if (!(LOAD_OPTIONS as readonly string[]).includes(k)) throw new TypeError(`${fn}: unknown option '${k}' for an encoder-decoder model; it takes ${LOAD_OPTIONS.join(', ')}`);
  if (options.dtype !== undefined && !isWeightDType(options.dtype))
    throw new RangeError(`${fn}: 'dtype' must be one of ${WEIGHT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(options.dtype)}`);
  const kvDtype = options.kvDtype ?? 'f32';
  if (kvDtype !== 'f32' && kvDtype !== 'f16') throw new RangeError(`${fn}: 'kvDtype' must be 'f32' or 'f16', got ${String(options.kvDtype)}`);
  const isGGUF = dir.endsWith('.gguf') && existsSync(dir) && statSync(dir).isFile();
  // A GGUF file is opened once: its metadata gives the config, its tensors the weights.
  const gguf: GGUFFile | undefined = isGGUF ? new GGUFFile(dir) : undefined;
  let family: Seq2SeqFamily;
  let config: Seq2SeqConfig;
  let generation: GenerationConfig | undefined;
  try {
    if (gguf) {
      const f = seq2seqFamilyOfGGUF(gguf);
      family = f;
      config = f.gguf.configFromGGUF(gguf);
    } else {
      const c = readConfig(dir);
      generation = c.generation;
      family = seq2seqFamilyOfHF(c.config);
      config = family.configFromHF(c.config);
    }
    checkSizes(config, options, fn);
  } catch (e) {
    gguf?.dispose();
    throw e;
  }
  const { contextLength, maxBatch } = checkSizes(config, options, fn);
  const { stateBudget, pageRows } = options;
  const owned = typeof options.backend !== 'object' || options.backend === null;
  let files: SafetensorsCheckpoint | GGUFFile | undefined = gguf;
  let binder: Binder | undefined;
  let backend: Backend | undefined;
  try {
    backend = owned
      ? await createBackend(checkBackendName((options.backend as BackendName | undefined) ?? 'native', fn), options.threads === undefined ? {} : { threads: options.threads })
      : (options.backend as Backend);
    if (gguf) {
      const g = gguf;
      binder = new Binder({ has: (n) => g.tensors.has(n), tensor: (n) => g.tensor(n) }, backend, options.dtype);
      family.gguf!.bindGGUF(binder, config);
    } else {
      files = new SafetensorsCheckpoint(dir);
      binder = new Binder(files, backend, options.dtype);
      family.bindHF(binder, config);
    }
    binder.checkParameters(family.parameters(config));
    const state = { ...(stateBudget === undefined ? {} : { budgetBytes: stateBudget }), ...(pageRows === undefined ? {} : { pageRows }) };
    return new EncoderDecoderModel(config, family, backend, binder, files!, contextLength, maxBatch, generation, kvDtype, owned, state);
  } catch (e) {
    binder?.dispose();
    files?.dispose();
    if (owned) backend?.dispose();
    throw e;
  }
}
