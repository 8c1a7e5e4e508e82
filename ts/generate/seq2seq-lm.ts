// Seq2SeqLM: an EncoderDecoderModel seen as the CausalLM the text generation loop drives
// (LanguageModel.generate / stream, sampling or beams). A request's first forward() takes the
// input ids: it runs the encoder once and then the decoder start token; later ones are decoder
// tokens. Forward calls issued together (a search's beams, concurrent requests) share one
// decoder pass. Not the model (models/seq2seq.ts) nor the loop (generate.ts).

import type { EncoderDecoderModel, Seq2SeqCache } from '../models/seq2seq.js';
import type { BeamCausalLM } from './beam-steppers.js';
import type { BatchStats } from './decoder-lm.js';
import type { KVCache } from './generate.js';
import { samplingIdle } from './native-sampler.js';

/** A request's cache: the decoder cache, bound to the encoder output on the first forward. */
class Seq2SeqRequestCache implements KVCache {
  constructor(
    /** @internal */
    readonly inner: Seq2SeqCache,
    /** @internal the input ran (the encoder and the start token) */
    public started = false,
  ) {}
  /** Decoder rows (the start token and the tokens fed back). */
  get length(): number {
    return this.inner.length;
  }
  get disposed(): boolean {
    return this.inner.disposed;
  }
  dispose(): void {
    this.inner.dispose();
  }
}

interface Pending {
  ids: Int32Array;
  cache: Seq2SeqRequestCache;
  resolve(logits: Float32Array): void;
  reject(e: unknown): void;
}

export class Seq2SeqLM implements BeamCausalLM {
  /** The decoder's vocabulary: logits' length, the ids it generates. */
  readonly vocabSize: number;
  /** The encoder's vocabulary: the ids a prompt may hold (Marian with separate vocabularies: another size). */
  readonly promptVocabSize: number;
  /** Most decoder rows (and encoder tokens) of one request. */
  readonly contextLength: number;
  private readonly stats: BatchStats = { passes: 0, sequences: 0, tokens: 0, histogram: [], prefixTokens: 0 };
  private queue: Pending[] = [];
  private scheduled = false;
  private serial: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(
    readonly model: EncoderDecoderModel,
    readonly eosTokenIds: readonly number[] = model.eosTokenIds,
  ) {
    this.vocabSize = model.decoderVocabSize;
    this.promptVocabSize = model.config.vocabSize;
    this.contextLength = model.contextLength;
  }

  newCache(): KVCache {
    return new Seq2SeqRequestCache(this.model.newCache());
  }

  forkCache(cache: KVCache): KVCache {
    const c = this.own(cache, 'forkCache');
    return new Seq2SeqRequestCache(c.inner.fork(), c.started);
  }

  reorderCaches(caches: readonly KVCache[], parents: readonly number[]): void {
    this.model.reorder(caches.map((c) => this.own(c, 'reorderCaches').inner), parents);
  }

  private own(cache: KVCache, fn: string): Seq2SeqRequestCache {
    if (!(cache instanceof Seq2SeqRequestCache)) throw new TypeError(`${fn}: 'cache' must come from newCache()`);
    return cache;
  }

  /** The first call on a cache: ids are the encoder's input; then decoder tokens. Returns the last logits. */
  forward(ids: Int32Array, cache: KVCache): Promise<Float32Array> {
    if (this.disposed) return Promise.reject(new Error('forward: the model was disposed'));
    const c = this.own(cache, 'forward');
    return new Promise((resolve, reject) => {
      this.queue.push({ ids, cache: c, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // Calls made in the same turn (every beam of a step) join one pass, and so do those of
      // requests still sampling their next token (as DecoderLM waits for them).
      this.serial = this.serial
        .then(() => new Promise<void>((r) => setImmediate(r)))
        .then(() => samplingIdle())
        .then(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    const inputs = items.filter((x) => !x.cache.started);
    const steps = items.filter((x) => x.cache.started);
    // Inputs first: the encoder once per input (packed into as few passes as fit), then their
    // decoder start tokens in one pass; on an error each input is tried alone, to fail only its own.
    if (inputs.length > 0) {
      try {
        await this.start(inputs);
      } catch {
        for (const it of inputs) await this.start([it]).catch((e: unknown) => it.reject(e));
      }
    }
    for (let i = 0; i < steps.length; i += this.model.maxBatch) {
      const group = steps.slice(i, i + this.model.maxBatch).filter((x) => !x.cache.disposed || (x.reject(new Error('forward: the cache was disposed')), false));
      if (group.length === 0) continue;
      try {
        const out = await this.model.forwardBatch(group.map((x) => ({ ids: x.ids, cache: x.cache.inner })));
        this.count(group.length, group.reduce((a, x) => a + x.ids.length, 0));
        group.forEach((x, k) => x.resolve(out[k]!));
      } catch (e) {
        for (const x of group) x.reject(e);
      }
    }
  }

  private count(sequences: number, tokens: number): void {
    this.stats.passes++;
    this.stats.sequences += sequences;
    this.stats.tokens += tokens;
    this.stats.histogram[sequences] = (this.stats.histogram[sequences] ?? 0) + 1;
  }

  /** Encodes the inputs and runs their start tokens; resolves each item, or throws (resolving none). */
  private async start(items: readonly Pending[]): Promise<void> {
    const encoders = await this.model.encodeBatch(items.map((x) => x.ids));
    try {
      const start = [this.model.decoderStartTokenId];
      const results: Float32Array[] = [];
      for (let i = 0; i < items.length; i += this.model.maxBatch) {
        const group = items.slice(i, i + this.model.maxBatch);
        results.push(...(await this.model.forwardBatch(group.map((x, k) => ({ ids: start, cache: x.cache.inner, encoder: encoders[i + k]! })))));
        this.count(group.length, group.length);
      }
      items.forEach((x, k) => {
        x.cache.started = true;
        x.resolve(results[k]!);
      });
    } catch (e) {
      // Caches bound before the failure start over (a retry binds them again).
      for (const x of items) if (!x.cache.disposed) x.cache.inner.unbind();
      throw e;
    } finally {
      for (const e of encoders) e.dispose();
    }
  }

  /** The ids the generated tokens follow, which logits processors see: the decoder start token, not the input. */
  decoderPrompt(): number[] {
    return [this.model.decoderStartTokenId];
  }

  /** Throws when a checkpoint file changed on disk since load. */
  checkFiles(): void {
    this.model.checkFiles();
  }

  /** Decoder passes run so far and what they carried. */
  get batchStats(): BatchStats {
    return { ...this.stats, histogram: [...this.stats.histogram] };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}
