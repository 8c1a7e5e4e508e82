// The Encoder facade against the goldens of tools/reference/make_encoder_tasks.py: tokenization,
// sentence embeddings, cross-encoder rerank and packed chunking, and the errors of bad input.
// Classification, NER and fill-mask are in encoder-pipelines.test.ts.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder, cosineSimilarity } from '../ts/index.js';
import { TOL_MODEL_ENCODER_F32, type Tolerance } from './harness/tolerance.js';

const DIR = join(import.meta.dirname, 'fixtures', 'encoder-tasks');
/** Scores and vectors after the f32 forward pass: softmax/sigmoid/pooling add rounding to the model's. */
const TOL_TASK_F32: Tolerance = TOL_MODEL_ENCODER_F32;

interface Goldens {
  header: { script: string; seed: number };
  tokens: { text: string; pair?: string; ids: number[]; offsets: [number, number][]; typeIds?: number[] }[];
  embed: { model: string; texts: string[]; options: { pooling: 'mean' | 'cls' | 'max'; normalize: boolean } | null; embeddings: number[][] }[];
  rerank: { model: string; query: string; documents: string[]; results: { index: number; score: number }[] }[];
}
export const GOLDENS = JSON.parse(readFileSync(join(DIR, 'goldens.json'), 'utf8')) as Goldens;

export function close(got: number, want: number, tol: Tolerance = TOL_TASK_F32): boolean {
  return Math.abs(got - want) <= tol.atol + Math.abs(want) * tol.rtol;
}

function expectVector(got: Float32Array, want: readonly number[]): void {
  expect(got.length).toBe(want.length);
  const bad = want.findIndex((w, i) => !close(got[i]!, w));
  expect(bad, `element ${bad}: ${got[bad]} vs ${want[bad]}`).toBe(-1);
}

const models = new Map<string, Encoder>();
beforeAll(async () => {
  for (const name of ['embed-mean', 'embed-cls', 'rerank', 'classify']) models.set(name, await Encoder.load(join(DIR, name)));
});
afterAll(() => {
  for (const m of models.values()) m.dispose();
});
const get = (name: string): Encoder => models.get(name)!;

describe('Encoder tokenization', () => {
  it('tokenizer.json and vocab.txt give the reference ids, offsets and type ids', () => {
    expect(GOLDENS.header.script).toBe('tools/reference/make_encoder_tasks.py');
    for (const name of ['embed-mean', 'embed-cls']) {
      for (const g of GOLDENS.tokens) {
        const e = get(name).tokenizer.encodeWithOffsets(g.text, g.pair === undefined ? {} : { pair: g.pair });
        expect(e.ids, `${name}: ${g.text}`).toEqual(g.ids);
        // Specials have (0, 0) offsets in the reference.
        expect(e.offsets.map((o, i) => (e.specialTokensMask[i] ? [0, 0] : o))).toEqual(g.offsets);
        if (g.typeIds) expect(e.typeIds).toEqual(g.typeIds);
      }
    }
  });
});

describe('Encoder.embed', () => {
  it("follows the checkpoint's sentence-transformers pooling and Normalize, and the options over them", async () => {
    for (const g of GOLDENS.embed) {
      const got = await get(g.model).embed(g.texts, g.options ?? undefined);
      expect(got.length).toBe(g.texts.length);
      got.forEach((v, i) => expectVector(v, g.embeddings[i]!));
    }
    const mean = get('embed-mean').sentence;
    expect(mean.pooling).toEqual(['mean']);
    expect(mean.normalize).toBe(true);
    expect(get('embed-cls').sentence.pooling).toEqual(['cls']);
  });

  it('normalized vectors have unit length and cosineSimilarity matches the reference vectors', async () => {
    const g = GOLDENS.embed.find((e) => e.model === 'embed-mean' && e.options === null)!;
    const v = await get('embed-mean').embed(g.texts);
    for (const x of v) expect(close(Math.hypot(...x), 1)).toBe(true);
    const want = cosineSimilarity(g.embeddings[0]!, g.embeddings[2]!);
    expect(close(cosineSimilarity(v[0]!, v[2]!), want)).toBe(true);
    expect(close(cosineSimilarity(v[1]!, v[1]!), 1)).toBe(true);
    expect(() => cosineSimilarity([1, 2], [1])).toThrow(/same length/);
  });

  it('packs many texts into chunks of maxBatch and maxTokens with the same vectors as one pass each', async () => {
    const g = GOLDENS.embed.find((e) => e.model === 'embed-mean' && e.options === null)!;
    const texts = [...g.texts, ...g.texts, ...g.texts];
    const small = await Encoder.load(join(DIR, 'embed-mean'), { maxBatch: 2, maxTokens: 20 });
    try {
      const got = await small.embed(texts);
      got.forEach((v, i) => expectVector(v, g.embeddings[i % g.texts.length]!));
      // Concurrent calls wait their turn instead of failing on the busy model.
      const [a, b] = await Promise.all([small.embed([texts[0]!]), small.embed([texts[1]!])]);
      expectVector(a![0]!, g.embeddings[0]!);
      expectVector(b![0]!, g.embeddings[1]!);
    } finally {
      small.dispose();
    }
  });

  it('truncates a text longer than max_seq_length as sentence-transformers does', async () => {
    const long = Array.from({ length: 80 }, () => 'cat').join(' ');
    const [v] = await get('embed-mean').embed([long]);
    const [w] = await get('embed-mean').embed([Array.from({ length: 30 }, () => 'cat').join(' ')]);
    // max_seq_length 32: [CLS] + 30 words + [SEP] either way.
    expectVector(v!, Array.from(w!));
  });
});

describe('Encoder.rerank', () => {
  it('scores (query, document) pairs best first: the raw logit of one label, softmax of label 1 of two', async () => {
    for (const g of GOLDENS.rerank) {
      const got = await get(g.model).rerank(g.query, g.documents);
      expect(got.map((r) => r.index)).toEqual(g.results.map((r) => r.index));
      got.forEach((r, i) => expect(close(r.score, g.results[i]!.score), `${g.model} #${i}: ${r.score} vs ${g.results[i]!.score}`).toBe(true));
      expect(got.every((r) => r.document === undefined)).toBe(true);
    }
  });

  it('topN and returnDocuments', async () => {
    const g = GOLDENS.rerank.find((r) => r.model === 'rerank')!;
    const got = await get('rerank').rerank(g.query, g.documents, { topN: 2, returnDocuments: true });
    expect(got.map((r) => [r.index, r.document])).toEqual(g.results.slice(0, 2).map((r) => [r.index, g.documents[r.index]]));
    expect((await get('rerank').rerank(g.query, g.documents, { topN: 99 })).length).toBe(g.documents.length);
  });
});

describe('Encoder.rerank truncation', () => {
  it('cuts a long pair longest_first to what the model takes, as forwardText({ truncate }) does', async () => {
    const r = get('rerank');
    const doc = Array.from({ length: 100 }, (_, i) => (i % 2 ? 'cat' : 'paris')).join(' ');
    const [got] = await r.rerank('what is the capital of france?', [doc]);
    const [f] = await r.forwardText(['what is the capital of france?'], { pairs: [doc], truncate: true });
    expect(f!.encoding.ids.length).toBe(64);
    // The query (7 tokens, with [CLS] and [SEP] 9) is whole; the document gave up the rest.
    expect(f!.encoding.typeIds.filter((t) => t === 0).length).toBe(7 + 2);
    expect(got!.score).toBe(f!.logits![0]);
  });
});

describe('Encoder bad input', () => {
  it('names the problem', async () => {
    const e = get('embed-mean');
    await expect(e.embed([])).rejects.toThrow(/embed: 'texts' is empty/);
    await expect(e.embed('hello' as unknown as string[])).rejects.toThrow(/embed: 'texts' must be an array of strings, got string/);
    await expect(e.embed(['a', 3 as unknown as string])).rejects.toThrow(/embed: 'texts\[1\]' must be a string, got number/);
    await expect(e.embed(['a'], { pooling: 'sum' as 'mean' })).rejects.toThrow(/'pooling' must be one of 'cls', 'max', 'mean', got "sum"/);
    await expect(e.embed(['a'], { normalise: true } as object)).rejects.toThrow(/embed: unknown option 'normalise'; did you mean 'normalize'\?/);
    await expect(e.rerank('q', ['d'])).rejects.toThrow(/rerank: .*embed-mean is a BertModel, which has a bare encoder \(no head\); rerank needs a cross-encoder/);
    const r = get('rerank');
    await expect(r.rerank(3 as unknown as string, ['d'])).rejects.toThrow(/rerank: 'query' must be a string, got number/);
    await expect(r.rerank('q', [])).rejects.toThrow(/rerank: 'documents' is empty/);
    await expect(r.rerank('q', ['d'], { topN: 0 })).rejects.toThrow(/rerank: 'topN' must be a positive integer, got 0/);
    await expect(r.rerank('q', ['d'], { top_n: 1 } as object)).rejects.toThrow(/rerank: unknown option 'top_n'; did you mean 'topN'\?/);
    await expect(Encoder.load(join(DIR, 'embed-mean'), { thread: 2 } as object)).rejects.toThrow(/Encoder.load: unknown option 'thread'; did you mean 'threads'\?/);
    await expect(Encoder.load(join(DIR, 'nope'))).rejects.toThrow(/Encoder.load: '.*nope' is neither a checkpoint directory nor a .gguf file/);
  });

  it('a checkpoint without a tokenizer, or with a pooling it cannot follow, says which file', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'attnode-enc-'));
    try {
      cpSync(join(DIR, 'embed-cls'), tmp, { recursive: true });
      rmSync(join(tmp, 'vocab.txt'));
      await expect(Encoder.load(tmp)).rejects.toThrow(/has neither tokenizer.json nor vocab.txt/);
      cpSync(join(DIR, 'embed-cls', 'vocab.txt'), join(tmp, 'vocab.txt'));
      const pc = join(tmp, '1_Pooling', 'config.json');
      // Several modes concatenate in sentence-transformers' order: cls, max, mean.
      writeFileSync(pc, JSON.stringify({ ...JSON.parse(readFileSync(pc, 'utf8')), pooling_mode_mean_tokens: true }));
      const both = await Encoder.load(tmp);
      try {
        const [v] = await both.embed(['the cat']);
        const [c] = await both.embed(['the cat'], { pooling: 'cls' });
        const [m] = await both.embed(['the cat'], { pooling: 'mean' });
        expect(both.sentence.pooling).toEqual(['cls', 'mean']);
        expect(Array.from(v!)).toEqual([...c!, ...m!]);
      } finally {
        both.dispose();
      }
      writeFileSync(pc, JSON.stringify({ ...JSON.parse(readFileSync(pc, 'utf8')), pooling_mode_cls_token: false, pooling_mode_weightedmean_tokens: true }));
      const e = await Encoder.load(tmp);
      try {
        await expect(e.embed(['a'])).rejects.toThrow(/'pooling_mode_weightedmean_tokens' is not supported.*pass 'pooling'/);
        expect((await e.embed(['a'], { pooling: 'cls' }))[0]!.length).toBe(32);
      } finally {
        e.dispose();
      }
      writeFileSync(join(tmp, 'modules.json'), JSON.stringify([{ idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '2_Dense', type: 'sentence_transformers.models.Dense' }]));
      const d = await Encoder.load(tmp);
      try {
        await expect(d.embed(['a'])).rejects.toThrow(/module type 'sentence_transformers.models.Dense' is not supported/);
      } finally {
        d.dispose();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('throws after dispose and after await using', async () => {
    const e = await Encoder.load(join(DIR, 'embed-mean'));
    e.dispose();
    await expect(e.embed(['a'])).rejects.toThrow(/disposed/);
    let held: Encoder | undefined;
    {
      await using f = await Encoder.load(join(DIR, 'embed-mean'));
      held = f;
      expect((await f.embed(['a']))[0]!.length).toBe(32);
    }
    await expect(held.embed(['a'])).rejects.toThrow(/disposed/);
  });
});
