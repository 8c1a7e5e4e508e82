// The processor chain that sampling options build, and the draw of one token from processed scores.
// Not the loop: generate.ts awaits sampleNextAsync once per step with the request's own Rng.

import {
  BadWords, ForcedTokens, LogitBias, MinP, NoRepeatNGram, PresenceFrequencyPenalty, ProcessorChain, RepetitionPenalty,
  Temperature, TopK, TopP, TypicalP, softmax, type LogitsProcessor, type ProcessContext,
} from './processors.js';
import type { Rng } from './rng.js';
import type { SamplingOptions } from './options.js';
import { loadAddon, type NativeAddon } from '../native.js';
import { sampleNative } from './native-sampler.js';

export type { SamplingOptions } from './options.js';

/**
 * The chain in the order that makes each knob mean what its name says: hard constraints and
 * penalties on raw logits, then temperature, then the truncations on the tempered distribution.
 */
export function buildProcessors(o: SamplingOptions, vocabSize: number): ProcessorChain {
  const list: LogitsProcessor[] = [];
  if (o.repetitionPenalty !== undefined && o.repetitionPenalty !== 1) list.push(new RepetitionPenalty(o.repetitionPenalty));
  if ((o.presencePenalty ?? 0) !== 0 || (o.frequencyPenalty ?? 0) !== 0)
    list.push(new PresenceFrequencyPenalty(o.presencePenalty ?? 0, o.frequencyPenalty ?? 0));
  if (o.logitBias !== undefined) list.push(new LogitBias(o.logitBias, vocabSize));
  if (o.noRepeatNgramSize !== undefined && o.noRepeatNgramSize !== 0) list.push(new NoRepeatNGram(o.noRepeatNgramSize));
  if (o.badWordIds !== undefined && o.badWordIds.length > 0) list.push(new BadWords(o.badWordIds, vocabSize));
  if (o.processors) list.push(...o.processors);
  if (o.forcedTokens !== undefined) list.push(new ForcedTokens(o.forcedTokens, vocabSize));
  list.push(new Temperature(o.temperature ?? 1));
  if (o.topK !== undefined && o.topK !== 0) list.push(new TopK(o.topK));
  if (o.topP !== undefined && o.topP !== 1) list.push(new TopP(o.topP));
  if (o.minP !== undefined && o.minP !== 0) list.push(new MinP(o.minP));
  if (o.typicalP !== undefined && o.typicalP !== 1) list.push(new TypicalP(o.typicalP));
  return new ProcessorChain(list);
}

/** Draws an index from probabilities (summing to 1) by inverse CDF in index order. */
export function drawIndex(probs: ArrayLike<number>, rng: Rng): number {
  const u = rng.nextFloat();
  let acc = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (p <= 0) continue;
    last = i;
    acc += p;
    if (u < acc) return i;
  }
  // u landed in the rounding gap above the summed mass: the last possible token.
  return last;
}

let addon: NativeAddon | null | undefined;

/** The addon, or null where it was not built (then sampling is plain TypeScript). */
function nativeAddon(): NativeAddon | null {
  if (addon === undefined) {
    try {
      addon = loadAddon();
    } catch {
      addon = null;
    }
  }
  return addon;
}

const withOps = new Map<string, boolean>();

/** The addon when it has every named op (null without the addon, or where its binary predates one). */
export function addonWithOps(...names: string[]): NativeAddon | null {
  const a = nativeAddon();
  if (a === null) return null;
  const key = names.join(',');
  let ok = withOps.get(key);
  if (ok === undefined) {
    const have = new Set(a.opNames());
    ok = names.every((n) => have.has(n));
    withOps.set(key, ok);
  }
  return ok ? a : null;
}

let sampleOp: boolean | undefined;

/** The addon when it has the 'sample' op (a binary built before the op has only softmax). */
function sampleAddon(): NativeAddon | null {
  const a = nativeAddon();
  if (a === null) return null;
  sampleOp ??= a.opNames().includes('sample');
  return sampleOp ? a : null;
}

/**
 * softmax of processed scores. The exponentials over a whole vocabulary are the costly part of a
 * step (about 0.6 ms for 50k ids in JavaScript), so with the addon they run in its vectorized
 * softmax (f32, synchronously: this is the reference path that sampleNextAsync's native op
 * reproduces, calling the same kernel) on scores shifted by their maximum in f64, so no score
 * overflows f32; without the addon, in f64 here.
 */
function probabilities(scores: Float64Array): ArrayLike<number> {
  const a = nativeAddon();
  if (a === null) return softmax(scores);
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  const x = new Float32Array(scores.length);
  if (max === -Infinity) return x; // every token removed: all zeros
  if (max === Infinity) {
    // +Infinity scores share all the mass (what softmax in f64 gives as the limit).
    for (let i = 0; i < scores.length; i++) x[i] = scores[i] === Infinity ? 0 : -Infinity;
  } else for (let i = 0; i < scores.length; i++) x[i] = scores[i]! - max;
  const out = new Float32Array(scores.length);
  a.op('softmax', { x: { dtype: 'f32', shape: [x.length], data: x }, out: { dtype: 'f32', shape: [x.length], data: out } });
  return out;
}

export interface SampledToken {
  id: number;
  /** log-probability of `id` under the model's raw distribution */
  logprob: number;
}

/**
 * Processes one step's logits and draws the next id, all on the calling thread: the reference
 * that sampleNextAsync must equal. Throws when the processors removed every token (e.g. a
 * bad-word list covering the vocabulary) rather than inventing one.
 */
export function sampleNext(logits: Float32Array, chain: ProcessorChain, ctx: ProcessContext, rng: Rng, wantLogprob: boolean): SampledToken {
  const scores = Float64Array.from(logits);
  for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i]!)) throw new RangeError(`sample: the model returned NaN for token ${i}`);
  chain.process(scores, ctx);
  const probs = probabilities(scores);
  const id = drawIndex(probs, rng);
  if (id < 0) throw new RangeError('sample: the logits processors removed every token');
  let logprob = NaN;
  if (wantLogprob) {
    let max = -Infinity;
    for (const v of logits) if (v > max) max = v;
    let sum = 0;
    for (const v of logits) sum += Math.exp(v - max);
    logprob = logits[id]! - max - Math.log(sum);
  }
  return { id, logprob };
}

/**
 * sampleNext for the generation loop, off the caller's thread: with the addon, the vocabulary-wide
 * passes (NaN check, temperature, top-k, top-p, min-p, typical-p, softmax, the draw, the logprob
 * sums) run in its async work (native-sampler.ts) and give sampleNext's ids and logprobs bit for
 * bit from the same Rng; without it, sampleNext itself. A user's own processors (the
 * `processors` option) still run here, over a full copy of the scores, since they are JavaScript.
 */
export async function sampleNextAsync(logits: Float32Array, chain: ProcessorChain, ctx: ProcessContext, rng: Rng, wantLogprob: boolean): Promise<SampledToken> {
  const a = sampleAddon();
  return a === null ? sampleNext(logits, chain, ctx, rng, wantLogprob) : sampleNative(a, logits, chain, ctx, rng, wantLogprob);
}
