// BeamSteppers of decoder-only models: over a DecoderModel's caches directly, and over a
// CausalLM that can fork and reorder its caches (DecoderLM, whose batcher runs the beams' steps
// as one pass). Not the search (beam-search.ts).

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

/** Beams over a DecoderModel: one cache per beam, all beams' tokens in one forwardBatch. */
export class DecoderModelBeams implements BeamStepper {
  readonly vocabSize: number;
  private caches: ModelCache[] = [];
  constructor(private readonly model: DecoderModel) {
    this.vocabSize = model.config.vocabSize;
  }
  async start(prompt: Int32Array, beams: number): Promise<Float32Array> {
    if (beams > this.model.maxBatch) throw new RangeError(`'numBeams' (${beams}) must be at most the model's maxBatch (${this.model.maxBatch}): the beams share one pass`);
    const root = this.model.newCache();
    this.caches.push(root);
    const logits = await this.model.forward(prompt, { cache: root });
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
