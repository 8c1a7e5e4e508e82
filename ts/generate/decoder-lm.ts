// Adapts a DecoderModel (models/) to the generation loop's CausalLM: per-request caches with
// dispose(), and forward passes from concurrent requests taken one at a time (a model runs
// one pass at a time; requests interleave step by step, each on its own KV cache).

import type { DecoderModel, KVCache as ModelCache } from '../models/model.js';
import type { CausalLM, KVCache } from './generate.js';

class RequestCache implements KVCache {
  private cache: ModelCache | undefined;
  constructor(cache: ModelCache) {
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

export class DecoderLM implements CausalLM {
  readonly vocabSize: number;
  readonly contextLength: number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly model: DecoderModel,
    readonly eosTokenIds: readonly number[],
  ) {
    this.vocabSize = model.config.vocabSize;
    this.contextLength = Math.min(model.maxTokens, model.config.maxPositions);
  }

  newCache(): KVCache {
    return new RequestCache(this.model.newCache());
  }

  forward(ids: Int32Array, cache: KVCache): Promise<Float32Array> {
    if (!(cache instanceof RequestCache)) return Promise.reject(new TypeError("forward: 'cache' must come from newCache()"));
    const run = this.queue.then(() => this.model.forward(ids, { cache: cache.inner }));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Bytes of packed weights the model holds (0 once disposed). */
  get weightBytes(): number {
    return this.disposed ? 0 : this.model.bytes.weights;
  }

  private disposed = false;
  dispose(): void {
    this.disposed = true;
    this.model.dispose();
  }
}
