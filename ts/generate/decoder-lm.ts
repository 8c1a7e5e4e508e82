// Adapts a DecoderModel (models/) to the generation loop's CausalLM: per-request caches with
// dispose(), and a step batcher that runs concurrent requests' forward() calls as one pass.
// Not a scheduler: which requests run at all is decided by the caller (the pool's queue).
//
// Continuous batching: forward() queues its tokens and one pass at a time runs everything queued
// through model.forwardBatch (linear layers over all sequences' rows together, attention per
// sequence on its own KV cache). Calls that arrive while a pass runs join the next pass, so a new
// request starts at the next step and a finished one simply stops calling. A pass holds at most
// maxBatchTokens rows and the model's maxBatch sequences (more take turns, oldest first): queued
// decode steps (one token each) go first, then prompts fill what is left, a prompt longer than
// that split across passes (its caller gets the last chunk's logits). So a long prefill delays
// the decoding sequences by one budget-sized pass, not by the whole prompt, and the oldest
// waiting prompt always advances (decodes leave it at least one row and one seat).
// Every call is checked on its own before it joins a pass, so a bad one (full cache, disposed
// cache, out-of-vocabulary id) fails only its caller. With batching off, forward() calls run one
// pass each, in order: requests interleave step by step.
// Prefix cache: a request's prompt first takes the whole pages of the longest prefix an earlier
// prompt left in the model's prefix cache (model.attachPrefix), and runs only the rest; once its
// prompt has run, its own whole pages are offered to the cache (model.publishPrefix).

import type { DecoderModel, KVCache as ModelCache } from '../models/model.js';
import type { CausalLM, KVCache } from './generate.js';
import { samplingIdle } from './native-sampler.js';

export interface DecoderLMOptions {
  /** Run concurrent sequences' steps in one forward pass (continuous batching). Default true. */
  batching?: boolean;
  /** Most new tokens (rows over all sequences) in one batched pass; default 128, at most the model's contextLength. */
  maxBatchTokens?: number;
  /**
   * Share whole pages of prompt prefixes between requests (a system prompt, few-shot examples):
   * a prompt that starts with a cached prefix runs only its suffix. Default true; backends
   * without paged state (WebGPU, reference) share nothing.
   */
  prefixCache?: boolean;
}

/** Forward passes run so far and what they carried. */
export interface BatchStats {
  passes: number;
  /** sequences summed over passes */
  sequences: number;
  /** new tokens (rows) summed over passes */
  tokens: number;
  /** histogram[n]: passes that carried n sequences */
  histogram: number[];
  /** prompt tokens taken from the prefix cache instead of being run */
  prefixTokens: number;
}

export const DEFAULT_MAX_BATCH_TOKENS = 128;

/** Throws the error a bad `batching` or `maxBatchTokens` deserves; `where` prefixes the message. */
export function checkBatchOptions(o: DecoderLMOptions, where: string): void {
  if (o.batching !== undefined && typeof o.batching !== 'boolean') throw new TypeError(`${where}: 'batching' must be a boolean, got ${typeof o.batching}`);
  if (o.prefixCache !== undefined && typeof o.prefixCache !== 'boolean') throw new TypeError(`${where}: 'prefixCache' must be a boolean, got ${typeof o.prefixCache}`);
  const n = o.maxBatchTokens;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new RangeError(`${where}: 'maxBatchTokens' must be an integer >= 1, got ${String(n)}`);
}

class RequestCache implements KVCache {
  private cache: ModelCache | undefined;
  /** A forward() on this cache is queued or running. */
  busy = false;
  constructor(cache: ModelCache | undefined) {
    this.cache = cache;
  }
  get length(): number {
    return this.cache?.length ?? 0;
  }
  get disposed(): boolean {
    return this.cache === undefined;
  }
  /** The model's cache; throws once disposed. */
  get inner(): ModelCache {
    if (!this.cache) throw new Error('forward: the request cache was disposed');
    return this.cache;
  }
  dispose(): void {
    // Host buffers go with the last reference; device copies (WebGPU) are released now.
    this.cache?.dispose();
    this.cache = undefined;
  }
}

/** One queued forward() call. */
interface Step {
  cache: RequestCache;
  ids: Int32Array; // (T) i32
  /** tokens already run by earlier passes (a prompt split across passes) or attached from the prefix cache */
  done: number;
  /** The cache was empty: ids are a prompt, offered to the prefix cache once they have run. */
  prompt: boolean;
  resolve(logits: Float32Array): void;
  reject(e: unknown): void;
}

type BatchItem = { ids: Int32Array; cache: ModelCache };

export class DecoderLM implements CausalLM {
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly batching: boolean;
  readonly maxBatchTokens: number;
  readonly prefixCache: boolean;
  private readonly stats: BatchStats = { passes: 0, sequences: 0, tokens: 0, histogram: [], prefixTokens: 0 };
  private waiting: Step[] = [];
  private running = false;
  private scheduled = false;
  private serial: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(
    readonly model: DecoderModel,
    readonly eosTokenIds: readonly number[],
    options: DecoderLMOptions = {},
  ) {
    this.vocabSize = model.config.vocabSize;
    this.contextLength = Math.min(model.contextLength, model.config.maxPositions);
    checkBatchOptions(options, 'DecoderLM');
    this.batching = options.batching ?? true;
    this.prefixCache = (options.prefixCache ?? true) && model.states.sharesPrefixes;
    // The model's plan holds at most contextLength rows per pass.
    this.maxBatchTokens = Math.min(options.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS, model.contextLength);
  }

  newCache(): KVCache {
    // Once disposed, a cache that forward() refuses with the model's error (no pool to take from).
    if (this.disposed) return new RequestCache(undefined);
    return new RequestCache(this.model.newCache());
  }

  forward(ids: Int32Array, cache: KVCache): Promise<Float32Array> {
    try {
      this.check(ids, cache);
    } catch (e) {
      return Promise.reject(e);
    }
    const c = cache as RequestCache;
    c.busy = true;
    const prompt = c.inner.length === 0;
    if (!this.batching) {
      const run = this.serial.then(async () => {
        const done = prompt ? this.attach(c.inner, ids) : 0;
        const item = { ids: ids.subarray(done), cache: c.inner };
        const logits = await this.model.forward(item.ids, { cache: item.cache });
        this.count([item]);
        if (prompt) this.publish(c.inner, ids);
        return logits;
      });
      this.serial = run.catch(() => undefined);
      return run.finally(() => (c.busy = false));
    }
    return new Promise<Float32Array>((resolve, reject) => {
      const done = prompt ? this.attach(c.inner, ids) : 0;
      this.waiting.push({ cache: c, ids, done, prompt, resolve, reject });
      this.schedule();
    });
  }

  /** A cache with `cache`'s rows, shared copy-on-write until one side writes (a beam's start). */
  forkCache(cache: KVCache): KVCache {
    if (!(cache instanceof RequestCache)) throw new TypeError("forkCache: 'cache' must come from newCache()");
    if (cache.busy) throw new Error('forkCache: the cache has a forward pass pending; await it first');
    return new RequestCache(cache.inner.fork());
  }

  /** Beam selection: caches[i] takes the rows caches[parents[i]] had (page tables move, no full page is copied). */
  reorderCaches(caches: readonly KVCache[], parents: readonly number[]): void {
    const inner = caches.map((c, i) => {
      if (!(c instanceof RequestCache)) throw new TypeError(`reorderCaches: caches[${i}] must come from newCache()`);
      if (c.busy) throw new Error(`reorderCaches: caches[${i}] has a forward pass pending; await it first`);
      return c.inner;
    });
    this.model.reorder(inner, parents);
  }

  /** Attaches the cached pages of the prompt's longest cached prefix; returns the rows attached. */
  private attach(cache: ModelCache, ids: Int32Array): number {
    if (!this.prefixCache) return 0;
    const n = this.model.attachPrefix(cache, ids);
    this.stats.prefixTokens += n;
    return n;
  }

  private publish(cache: ModelCache, ids: Int32Array): void {
    if (this.prefixCache && !cache.disposed) this.model.publishPrefix(cache, ids);
  }

  /** Passes run so far, with the sequences and tokens they carried (a copy). */
  get batchStats(): BatchStats {
    return { ...this.stats, histogram: [...this.stats.histogram] };
  }

  /** The errors model.forward() would throw for this call, raised before it joins a pass. */
  private check(ids: Int32Array, cache: KVCache): void {
    if (this.disposed) throw new Error('forward: the model was disposed');
    if (!(cache instanceof RequestCache)) throw new TypeError("forward: 'cache' must come from newCache()");
    if (!(ids instanceof Int32Array)) throw new TypeError("forward: 'ids' must be an Int32Array");
    const inner = cache.inner;
    if (cache.busy) throw new Error('forward: this cache already has a forward pass pending; await it first');
    const t = ids.length;
    if (t < 1) throw new RangeError('forward: ids must hold at least one token');
    const limit = Math.min(inner.capacity, this.model.config.maxPositions);
    if (inner.length + t > limit) throw new RangeError(`forward: ${inner.length} cached + ${t} new tokens exceed ${limit} positions`);
    for (let i = 0; i < t; i++)
      if (ids[i]! < 0 || ids[i]! >= this.vocabSize) throw new RangeError(`forward: ids[${i}] = ${ids[i]} is outside [0, ${this.vocabSize})`);
  }

  /**
   * Starts a pass once the current turn of the event loop is over and this thread's samplers
   * are idle: callers whose step just finished sample their next token (in the addon's async
   * work, native-sampler.ts) and queue again before it runs, so they share the pass.
   */
  private schedule(): void {
    if (this.running || this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    const go = (): void => {
      this.scheduled = false;
      void this.nextPass();
    };
    setImmediate(() => {
      const idle = samplingIdle();
      if (idle) void idle.then(go);
      else go();
    });
  }

  /**
   * Picks the next pass's rows: decode steps first, then prompts (or chunks of them), within
   * maxBatchTokens rows and the model's maxBatch sequences.
   */
  private compose(): { step: Step; rows: number }[] {
    const left = (s: Step): number => s.ids.length - s.done;
    const decodes = this.waiting.filter((s) => left(s) === 1);
    const prompts = this.waiting.filter((s) => left(s) > 1);
    let budget = this.maxBatchTokens;
    const seats = this.model.maxBatch;
    const room = (n: number): number => (prompts.length > 0 && n > 1 ? n - 1 : n);
    const picked = decodes.slice(0, Math.min(room(budget), room(seats))).map((step) => ({ step, rows: 1 }));
    budget -= picked.length;
    for (const step of prompts) {
      if (budget === 0 || picked.length === seats) break;
      const rows = Math.min(left(step), budget);
      picked.push({ step, rows });
      budget -= rows;
    }
    return picked;
  }

  private async nextPass(): Promise<void> {
    if (this.running) return;
    // A cache disposed while its call waited, or a model disposed since: fail those calls alone.
    for (const s of this.waiting.filter((s) => s.cache.disposed || this.disposed)) {
      s.cache.busy = false;
      s.reject(new Error(this.disposed ? 'forward: the model was disposed' : 'forward: the request cache was disposed'));
    }
    this.waiting = this.waiting.filter((s) => !s.cache.disposed && !this.disposed);
    const picked = this.compose();
    if (picked.length === 0) return;
    const chosen = new Set(picked.map((p) => p.step));
    this.waiting = this.waiting.filter((s) => !chosen.has(s));
    this.running = true;
    let results: (Float32Array | Error)[];
    try {
      results = await this.runPass(picked.map(({ step, rows }) => ({ ids: step.ids.subarray(step.done, step.done + rows), cache: step.cache.inner })));
    } finally {
      this.running = false;
    }
    const unfinished: Step[] = [];
    picked.forEach(({ step, rows }, i) => {
      const r = results[i]!;
      if (!(r instanceof Error) && step.done + rows < step.ids.length) {
        step.done += rows;
        unfinished.push(step);
        return;
      }
      step.cache.busy = false;
      if (r instanceof Error) step.reject(r);
      else {
        if (step.prompt) this.publish(step.cache.inner, step.ids);
        step.resolve(r);
      }
    });
    // Split prompts keep their place ahead of calls that arrived during the pass.
    this.waiting.unshift(...unfinished);
    this.schedule();
  }

  /**
   * One forward pass over the items; each entry is that item's logits or its error. When
   * the pass as a whole fails before any cache grew, each item is retried alone so that an error
   * the checks did not foresee fails only the item that causes it.
   */
  private async runPass(items: readonly BatchItem[]): Promise<(Float32Array | Error)[]> {
    const lengths = items.map((it) => it.cache.length);
    let results: (Float32Array | Error)[];
    try {
      results = await this.model.forwardBatch(items);
      this.count(items);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (items.length === 1 || items.some((it, i) => it.cache.length !== lengths[i])) return items.map(() => err);
      results = [];
      for (const it of items) {
        try {
          results.push((await this.model.forwardBatch([it]))[0]!);
          this.count([it]);
        } catch (one) {
          results.push(one instanceof Error ? one : new Error(String(one)));
        }
      }
    }
    return results;
  }

  private count(items: readonly BatchItem[]): void {
    const s = this.stats;
    s.passes++;
    s.sequences += items.length;
    for (const it of items) s.tokens += it.ids.length;
    while (s.histogram.length <= items.length) s.histogram.push(0);
    s.histogram[items.length]!++;
  }

  /** Bytes of packed weights the model holds (0 once disposed). */
  get weightBytes(): number {
    return this.disposed ? 0 : this.model.bytes.weights;
  }

  dispose(): void {
    this.disposed = true;
    this.model.dispose();
  }
}
