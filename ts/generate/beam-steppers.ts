// BeamSteppers: over a model's paged caches (PagedBeams: a DecoderModel, an encoder-decoder), and
// over a CausalLM that can fork and reorder its caches (DecoderLM, whose batcher runs the beams'
// steps as one pass). Not the search (beam-search.ts).

import type { DecoderModel, KVCache as ModelCache } from '../models/model.js';
import type { BeamStepper } from './beam-search.js';
import type { CausalLM, KVCache } from './generate.js';

/** A CausalLM whose caches fork (copy-on-write) and reorder by page tables: what beams need. */
export interface BeamCausalLM extends CausalLM {
  /** A cache with `cache`'s rows, shared until one side writes. */
  forkCache(cache: KVCache): KVCache;
  /** caches[i] takes the rows caches[parents[i]] had. */
  reorderCaches(caches: readonly KVCache[], parents: readonly number[]): void;
}

export function isBeamCausalLM(m: CausalLM): m is BeamCausalLM {
  const b = m as Partial<BeamCausalLM>;
  return typeof b.forkCache === 'function' && typeof b.reorderCaches === 'function';
}

/** A per-beam state handle that forks copy-on-write (a model's KV cache). */
export interface BeamCache<C> {
  fork(): C;
  dispose(): void;
  readonly disposed: boolean;
}

/** What PagedBeams needs of a model: one pass over several caches, and beam reordering by page tables. */
export interface PagedBeamModel<C extends BeamCache<C>> {
  readonly maxBatch: number;
  forwardBatch(items: readonly { ids: ArrayLike<number>; cache: C }[]): Promise<Float32Array[]>;
  reorder(caches: readonly C[], parents: readonly number[]): void;
}

/**
 * Beams over a model's paged caches, decoder-only or encoder-decoder alike: `root` runs the
 * prompt into a fresh cache (an encoder-decoder runs its encoder once there, then the decoder
 * start token), the other beams fork it, and each step reorders the caches by page tables and
 * runs every beam's token in one forwardBatch.
 */
export class PagedBeams<C extends BeamCache<C>> implements BeamStepper {
  private caches: C[] = [];
  constructor(
    private readonly model: PagedBeamModel<C>,
    readonly vocabSize: number,
    private readonly root: (prompt: Int32Array, keep: (cache: C) => void) => Promise<Float32Array>,
  ) {}
  async start(prompt: Int32Array, beams: number): Promise<Float32Array> {
    if (beams > this.model.maxBatch) throw new RangeError(`'numBeams' (${beams}) must be at most the model's maxBatch (${this.model.maxBatch}): the beams share one pass`);
    // keep() registers the root cache before its first pass, so dispose() frees it if that pass fails.
    const logits = await this.root(prompt, (c) => this.caches.push(c));
    const root = this.caches[0]!;
    for (let i = 1; i < beams; i++) this.caches.push(root.fork());
    return logits;
  }
  step(parents: readonly number[], tokens: readonly number[]): Promise<Float32Array[]> {
    this.model.reorder(this.caches, parents);
    return this.model.forwardBatch(this.caches.map((cache, i) => ({ ids: [tokens[i]!], cache })));
  }
  dispose(): void {
    for (const c of this.caches) if (!c.disposed) c.dispose();
    this.caches = [];
  }
}

/** Beams over a DecoderModel: one cache per beam, all beams' tokens in one forwardBatch. */
export class DecoderModelBeams extends PagedBeams<ModelCache> {
  constructor(model: DecoderModel) {
    super(model, model.config.vocabSize, async (prompt, keep) => {
      const root = model.newCache();
      keep(root);
      return model.forward(prompt, { cache: root });
    });
  }
}

/** Beams over a BeamCausalLM: each beam's forward() is queued in the same turn, so they share a pass. */
export class CausalLMBeams implements BeamStepper {
  readonly vocabSize: number;
  private caches: KVCache[] = [];
  constructor(private readonly lm: BeamCausalLM) {
    this.vocabSize = lm.vocabSize;
  }
  async start(prompt: Int32Array, beams: number): Promise<Float32Array> {
    const root = this.lm.newCache();
    this.caches.push(root);
    const logits = await this.lm.forward(prompt, root);
    for (let i = 1; i < beams; i++) this.caches.push(this.lm.forkCache(root));
    return logits;
  }
  step(parents: readonly number[], tokens: readonly number[]): Promise<Float32Array[]> {
    this.lm.reorderCaches(this.caches, parents);
    return Promise.all(this.caches.map((c, i) => this.lm.forward(Int32Array.of(tokens[i]!), c)));
  }
  dispose(): void {
    for (const c of this.caches) if (!c.disposed) c.dispose();
    this.caches = [];
  }
}
