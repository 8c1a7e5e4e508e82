// Candidates for mask tokens from masked-LM logits, as Hugging Face's FillMaskPipeline: softmax
// over the vocabulary (or over the targets' ids), top k, and the text with each candidate filled in.
// Post-processing only; the logits come from Encoder.

import type { Tokenizer } from '../tokenizer/index.js';
import { softmax } from './math.js';

export interface FillMaskOptions {
  /** Candidates per mask; default 5 (at most the number of targets). */
  topK?: number;
  /** Score only these tokens: vocabulary tokens, or words whose first token is taken. */
  targets?: readonly string[];
}

export interface FillMaskResult {
  /** Probability of the token at this mask. */
  score: number;
  token: number;
  /** decode([token]). */
  tokenStr: string;
  /** The text with this mask filled by the token (special tokens left out when the text has one mask). */
  sequence: string;
}

/** Distinct ids of the targets, ascending; RangeError naming a target that has no token. */
export function targetIds(targets: unknown, tokenizer: Tokenizer, where: string): number[] {
  if (!Array.isArray(targets) || targets.length === 0) throw new TypeError(`${where}: 'targets' must be a non-empty array of strings`);
  const ids = new Set<number>();
  targets.forEach((t, i) => {
    if (typeof t !== 'string') throw new TypeError(`${where}: 'targets[${i}]' must be a string, got ${t === null ? 'null' : typeof t}`);
    const id = tokenizer.tokenToId(t) ?? tokenizer.encode(t, { addSpecialTokens: false })[0];
    if (id === undefined) throw new RangeError(`${where}: 'targets[${i}]' = ${JSON.stringify(t)} gives no token`);
    ids.add(id);
  });
  return [...ids].sort((a, b) => a - b);
}

/** One list per mask position of `ids`, best first. */
export function fillMaskResults(ids: readonly number[], logits: Float32Array, maskId: number, topK: number, targets: readonly number[] | undefined,
  decode: (ids: number[], skipSpecial: boolean) => string): FillMaskResult[][] { // logits: (T, V) f32
  const V = logits.length / ids.length;
  const masks = ids.flatMap((id, i) => (id === maskId ? [i] : []));
  const single = masks.length === 1;
  return masks.map((m) => {
    const p = softmax(logits, m * V, V);
    const cands = targets ?? Array.from({ length: V }, (_, i) => i);
    const best = [...cands].sort((a, b) => p[b]! - p[a]! || a - b).slice(0, topK);
    return best.map((token) => {
      const filled = [...ids];
      filled[m] = token;
      return { score: p[token]!, token, tokenStr: decode([token], false), sequence: decode(filled, single) };
    });
  });
}
