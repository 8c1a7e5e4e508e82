// Entities from token-classification logits, with the grouping of Hugging Face's
// TokenClassificationPipeline: per token ('none'), B-/I- merging ('simple'), and whole words
// first ('first', 'average', 'max'). Post-processing only; the logits come from Encoder.

import type { EncodeResult, Tokenizer } from '../tokenizer/index.js';
import { softmax } from './math.js';

export type Aggregation = 'none' | 'simple' | 'first' | 'average' | 'max';
export const AGGREGATIONS: readonly Aggregation[] = ['none', 'simple', 'first', 'average', 'max'];

export interface TokenClassifyOptions {
  /** How tokens become entities; default 'none' (one entity per token), as the HF pipeline. */
  aggregation?: Aggregation;
  /** Labels (or, grouped, entity groups) left out; default ['O']. */
  ignoreLabels?: readonly string[];
}

/**
 * One entity. Per token ('none'): `entity` is the label and `index` the token's position in the
 * encoding. Grouped: `entityGroup` is the label less its B-/I- prefix and `score` the mean of
 * its members'. start/end: [start, end) UTF-16 offsets into the text.
 */
export interface TokenEntity {
  entity?: string;
  entityGroup?: string;
  score: number;
  index?: number;
  word: string;
  start: number;
  end: number;
}

interface PreEntity {
  word: string;
  scores: number[];
  start: number;
  end: number;
  index: number;
  isSubword: boolean;
}

interface Labeled {
  entity: string;
  score: number;
  word: string;
  start: number;
  end: number;
  index?: number;
}

function argmax(s: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < s.length; i++) if (s[i]! > s[best]!) best = i;
  return best;
}

/**
 * Tokens other than specials, each with its softmax scores. A token is a subword (continues the
 * word before it) as the pipeline decides: with a WordPiece model (a continuation prefix), when
 * its token string and the text it covers differ in length; otherwise, when neither the character
 * before it nor its first is a space. An unknown token takes the text it covers as its word and starts one.
 */
function preEntities(text: string, enc: EncodeResult, logits: Float32Array, L: number, tokenizer: Tokenizer): PreEntity[] { // logits: (T, L) f32
  const prefix = tokenizer.model.kind === 'WordPiece';
  const unk = tokenizer.tokenToId('[UNK]') ?? tokenizer.tokenToId('<unk>');
  const out: PreEntity[] = [];
  enc.ids.forEach((id, i) => {
    if (enc.specialTokensMask[i]) return;
    const [start, end] = enc.offsets[i]!;
    const ref = text.slice(start, end);
    let word = tokenizer.idToToken(id) ?? ref;
    let isSubword = prefix ? word.length !== ref.length : start > 0 && !text.slice(start - 1, start + 1).includes(' ');
    if (unk !== undefined && id === unk) [word, isSubword] = [ref, false];
    out.push({ word, scores: softmax(logits, i * L, L), start, end, index: i, isSubword });
  });
  return out;
}

function aggregateWord(group: readonly PreEntity[], how: Aggregation, label: (i: number) => string, tokenizer: Tokenizer): Labeled {
  let scores: readonly number[];
  if (how === 'first') scores = group[0]!.scores;
  else if (how === 'max') scores = group.reduce((a, b) => (Math.max(...b.scores) > Math.max(...a.scores) ? b : a)).scores;
  else scores = group[0]!.scores.map((_, k) => group.reduce((s, e) => s + e.scores[k]!, 0) / group.length);
  const i = argmax(scores);
  return { entity: label(i), score: scores[i]!, word: tokenizer.decodeTokens(group.map((e) => e.word)), start: group[0]!.start, end: group[group.length - 1]!.end };
}

/** B-X starts an entity; I-X and a bare X continue one of tag X. */
function tag(name: string): [bi: 'B' | 'I', tag: string] {
  if (name.startsWith('B-')) return ['B', name.slice(2)];
  if (name.startsWith('I-')) return ['I', name.slice(2)];
  return ['I', name];
}

function groupEntities(entities: readonly Labeled[], tokenizer: Tokenizer): TokenEntity[] {
  const groups: TokenEntity[] = [];
  let cur: Labeled[] = [];
  const close = (): void => {
    const first = cur[0]!;
    const dash = first.entity.indexOf('-');
    groups.push({
      entityGroup: dash < 0 ? first.entity : first.entity.slice(dash + 1),
      score: cur.reduce((s, e) => s + e.score, 0) / cur.length,
      word: tokenizer.decodeTokens(cur.map((e) => e.word)),
      start: first.start,
      end: cur[cur.length - 1]!.end,
    });
  };
  for (const e of entities) {
    if (cur.length > 0) {
      const [bi, t] = tag(e.entity);
      if (t !== tag(cur[cur.length - 1]!.entity)[1] || bi === 'B') {
        close();
        cur = [];
      }
    }
    cur.push(e);
  }
  if (cur.length > 0) close();
  return groups;
}

/** The pipeline's entities of one encoded text. */
export function tokenEntities(text: string, enc: EncodeResult, logits: Float32Array, L: number, label: (i: number) => string, tokenizer: Tokenizer,
  options: TokenClassifyOptions): TokenEntity[] {
  const how = options.aggregation ?? 'none';
  const ignore = options.ignoreLabels ?? ['O'];
  const pre = preEntities(text, enc, logits, L, tokenizer);
  let labeled: Labeled[];
  if (how === 'none' || how === 'simple') {
    labeled = pre.map((p) => {
      const i = argmax(p.scores);
      return { entity: label(i), score: p.scores[i]!, index: p.index, word: p.word, start: p.start, end: p.end };
    });
  } else {
    labeled = [];
    let group: PreEntity[] = [];
    for (const p of pre) {
      if (group.length > 0 && !p.isSubword) {
        labeled.push(aggregateWord(group, how, label, tokenizer));
        group = [];
      }
      group.push(p);
    }
    if (group.length > 0) labeled.push(aggregateWord(group, how, label, tokenizer));
  }
  const out: TokenEntity[] = how === 'none' ? labeled.map((e) => ({ entity: e.entity, score: e.score, index: e.index!, word: e.word, start: e.start, end: e.end })) : groupEntities(labeled, tokenizer);
  return out.filter((e) => !ignore.includes(e.entity ?? e.entityGroup!));
}
