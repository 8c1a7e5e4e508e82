// Each logits processor against distributions worked out by hand.
import { describe, expect, it } from 'vitest';
import {
  BadWords, ForcedTokens, LogitBias, MinP, NoRepeatNGram, PresenceFrequencyPenalty, RepetitionPenalty, Temperature, TopK, TopP,
  TypicalP, rankedIndices, softmax, type LogitsProcessor,
} from '../../ts/generate/processors.js';
import { buildProcessors } from '../../ts/generate/sampler.js';
import { normals } from '../harness/rng.js';

const NONE = { ids: [] as number[], promptLength: 0 };

function run(p: LogitsProcessor, logits: number[], ctx = NONE): number[] {
  const s = Float64Array.from(logits);
  p.process(s, ctx);
  return [...s];
}
function kept(p: LogitsProcessor, logits: number[], ctx = NONE): number[] {
  return run(p, logits, ctx).flatMap((v, i) => (v === -Infinity ? [] : [i]));
}
const logOf = (probs: number[]): number[] => probs.map(Math.log);

describe('logits processors', () => {
  it('temperature divides logits; 0 keeps only the arg-max (lowest index on ties)', () => {
    expect(run(new Temperature(2), [1, 2, 3])).toEqual([0.5, 1, 1.5]);
    expect(run(new Temperature(0), [1, 3, 3, 2])).toEqual([-Infinity, 3, -Infinity, -Infinity]);
    expect(() => new Temperature(-1)).toThrow(/'temperature'/);
  });

  it('top-k keeps the k largest, ties at the edge to the lower index', () => {
    expect(kept(new TopK(2), [1, 3, 3, 2])).toEqual([1, 2]);
    expect(kept(new TopK(2), [2, 2, 2, 1])).toEqual([0, 1]);
    expect(kept(new TopK(10), [0, 1])).toEqual([0, 1]);
    expect(() => new TopK(0)).toThrow(/'topK'/);
  });

  it('top-p keeps the smallest ranked set with mass >= p', () => {
    const l = logOf([0.5, 0.3, 0.2]);
    expect(kept(new TopP(0.8), l)).toEqual([0, 1]); // 0.5 + 0.3 reaches 0.8 exactly
    expect(kept(new TopP(0.81), l)).toEqual([0, 1, 2]);
    expect(kept(new TopP(0.5), l)).toEqual([0]);
    expect(kept(new TopP(0.1), l)).toEqual([0]);
    // equal probabilities: the lower index wins, the same set every time
    expect(kept(new TopP(0.6), logOf([0.2, 0.2, 0.4, 0.2]))).toEqual([0, 2]);
    const p = softmax(Float64Array.from(run(new TopP(0.8), l)));
    expect(p[0]).toBeCloseTo(0.5 / 0.8, 12);
    expect(p[1]).toBeCloseTo(0.3 / 0.8, 12);
  });

  it('top-p over a large vocabulary keeps exactly the ranked prefix a full sort gives', () => {
    // The definition, by sorting everything: the first n ranked tokens whose mass reaches p.
    const bySort = (p: number, scores: Float64Array): number[] => {
      const ranked = rankedIndices(scores);
      if (ranked.length === 0) return [];
      const max = scores[ranked[0]!]!;
      let z = 0;
      for (const i of ranked) z += Math.exp(scores[i]! - max);
      let mass = 0;
      let n = 0;
      while (n < ranked.length && mass < p * (1 - 1e-12)) mass += Math.exp(scores[ranked[n++]!]! - max) / z;
      return ranked.slice(0, Math.max(1, n)).sort((a, b) => a - b);
    };
    let seed = 11;
    for (const [V, spread, p] of [[50257, 1, 0.9], [50257, 4, 0.95], [32000, 12, 0.5], [1000, 0.01, 0.99], [5000, 3, 0.999999], [7, 1, 0.3]] as const) {
      const scores = normals(V, seed++, spread);
      // Removed tokens, repeated scores (ties), and a score far below the rest.
      for (let i = 0; i < V; i += 17) scores[i] = -Infinity;
      for (let i = 5; i < V; i += 29) scores[i] = scores[3]!;
      scores[V - 1] = -500;
      const s64 = Float64Array.from(scores);
      expect(kept(new TopP(p), [...s64]), `V=${V} spread=${spread} p=${p}`).toEqual(bySort(p, s64));
    }
    // All scores removed stays so; +Infinity scores share the mass equally.
    expect(kept(new TopP(0.5), [-Infinity, -Infinity])).toEqual([]);
    expect(kept(new TopP(0.5), [Infinity, 3, Infinity, Infinity, Infinity])).toEqual([0, 2]);
    expect(kept(new TopP(0.1), [1, Infinity])).toEqual([1]);
  });

  it('typical-p over a large vocabulary keeps exactly the prefix a full sort by |-log p - H| gives', () => {
    const bySort = (p: number, scores: Float64Array): number[] => {
      const probs = softmax(scores);
      let h = 0;
      for (const q of probs) if (q > 0) h -= q * Math.log(q);
      const idx: number[] = [];
      const dev = new Float64Array(scores.length);
      for (let i = 0; i < probs.length; i++)
        if (probs[i]! > 0) {
          idx.push(i);
          dev[i] = Math.abs(-Math.log(probs[i]!) - h);
        }
      idx.sort((a, b) => dev[a]! - dev[b]! || a - b);
      let mass = 0;
      let n = 0;
      while (n < idx.length && mass < p * (1 - 1e-12)) mass += probs[idx[n++]!]!;
      return idx.slice(0, Math.max(1, n)).sort((a, b) => a - b);
    };
    let seed = 31;
    for (const [V, spread, p] of [[50257, 1, 0.9], [50257, 4, 0.95], [32000, 12, 0.5], [1000, 0.01, 0.99], [5000, 3, 0.2], [7, 1, 0.3]] as const) {
      const scores = normals(V, seed++, spread);
      for (let i = 0; i < V; i += 17) scores[i] = -Infinity;
      for (let i = 5; i < V; i += 29) scores[i] = scores[3]!;
      scores[V - 1] = -2000; // underflows: no probability, dropped
      const s64 = Float64Array.from(scores);
      expect(kept(new TypicalP(p), [...s64]), `V=${V} spread=${spread} p=${p}`).toEqual(bySort(p, s64));
    }
  });

  it('min-p keeps tokens with probability >= p * max', () => {
    expect(kept(new MinP(0.5), logOf([0.5, 0.3, 0.2]))).toEqual([0, 1]); // floor 0.25
    expect(kept(new MinP(0.4), logOf([0.5, 0.3, 0.2]))).toEqual([0, 1, 2]); // floor 0.2
  });

  it('typical-p ranks by |-log p - H| and may drop the most likely token', () => {
    // H of (0.7, 0.2, 0.1) = 0.8018; deviations 0.445, 0.808, 1.501; mass 0.7 < 0.8 <= 0.9
    expect(kept(new TypicalP(0.8), logOf([0.7, 0.2, 0.1]))).toEqual([0, 1]);
    // H of (0.4, 0.3, 0.3) = 1.0889; deviations 0.173, 0.115, 0.115: the two 0.3s come first
    expect(kept(new TypicalP(0.5), logOf([0.4, 0.3, 0.3]))).toEqual([1, 2]);
  });

  it('repetition penalty divides positive and multiplies negative scores of seen ids', () => {
    expect(run(new RepetitionPenalty(2), [2, -2, 1], { ids: [0, 1, 1], promptLength: 1 })).toEqual([1, -4, 1]);
  });

  it('presence and frequency penalties count generated ids only', () => {
    const out = run(new PresenceFrequencyPenalty(0.5, 0.25), [1, 1, 1], { ids: [2, 0, 0, 1], promptLength: 1 });
    expect(out).toEqual([1 - 0.5 - 0.5, 1 - 0.5 - 0.25, 1]);
  });

  it('logit bias adds per id and validates ids', () => {
    expect(run(new LogitBias({ 1: 5, 2: -Infinity }, 3), [0, 0, 0])).toEqual([0, 5, -Infinity]);
    expect(() => new LogitBias({ 3: 1 }, 3)).toThrow(/'logitBias' key/);
  });

  it('bad words ban single ids always and sequences after their prefix', () => {
    const p = new BadWords([[3], [1, 2]], 4);
    expect(kept(p, [0, 0, 0, 0], { ids: [0, 1], promptLength: 0 })).toEqual([0, 1]);
    expect(kept(p, [0, 0, 0, 0], { ids: [1, 0], promptLength: 0 })).toEqual([0, 1, 2]);
  });

  it('forced tokens leave only the forced id at their generated position', () => {
    const p = new ForcedTokens(new Map([[1, 2]]), 4);
    expect(kept(p, [0, 9, 0, 0], { ids: [3, 3], promptLength: 1 })).toEqual([2]);
    expect(kept(p, [0, 9, 0, 0], { ids: [3], promptLength: 1 })).toEqual([0, 1, 2, 3]);
  });

  it('no-repeat n-gram bans ids that would repeat an n-gram', () => {
    expect(kept(new NoRepeatNGram(2), [0, 0, 0, 0], { ids: [1, 2, 3, 1], promptLength: 0 })).toEqual([0, 1, 3]);
    expect(kept(new NoRepeatNGram(3), Array(8).fill(0), { ids: [5, 6, 7, 5, 6], promptLength: 0 })).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(kept(new NoRepeatNGram(1), [0, 0, 0, 0], { ids: [1, 3], promptLength: 0 })).toEqual([0, 2]);
  });

  it('the chain applies penalties, then temperature, then truncation', () => {
    const chain = buildProcessors({ repetitionPenalty: 2, temperature: 0.5, topK: 2 }, 4);
    expect(chain.processors.map((p) => p.name)).toEqual(['repetition-penalty', 'temperature', 'top-k']);
    // [4, 3, 2, 1] -> penalty on id 0: 2 -> /0.5: [4, 6, 4, 2] -> top-2: ids 1 and 0 (tie with 2 goes to 0)
    const s = Float64Array.from([4, 3, 2, 1]);
    chain.process(s, { ids: [0], promptLength: 1 });
    expect([...s]).toEqual([4, 6, -Infinity, -Infinity]);
  });
});
