// Helpers for the whole-model tests: the PyTorch goldens of test/fixtures/models, logit
// comparisons and greedy decoding through a model's KV cache. Not assertions of their own.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { DecoderModel } from '../../ts/models/model.js';

export const MODEL_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'models');

export interface GoldenPrompt { prompt: number[]; logits: number[]; greedy: number[] }
/** tools/reference/make_models.py's goldens: per model, last-position logits and greedy paths. */
export const GOLDENS = JSON.parse(readFileSync(join(MODEL_FIXTURES, 'goldens.json'), 'utf8')) as {
  header: { layout_version: number };
  models: Record<string, { prompts: GoldenPrompt[] }>;
};

/** Largest |a[i] - b[i]| (the lengths must match). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Cosine similarity of two logit vectors, accumulated in f64. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Index of the largest value (the first one on ties). */
export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** n greedy tokens after `prompt`, one forward pass per token on a fresh KV cache. */
export async function greedy(m: DecoderModel, prompt: number[], n: number): Promise<number[]> {
  const cache = m.newCache();
  const out: number[] = [];
  let logits = await m.forward(prompt, { cache });
  for (let i = 0; i < n; i++) {
    out.push(argmax(logits));
    if (i + 1 < n) logits = await m.forward([out[i]!], { cache });
  }
  return out;
}
