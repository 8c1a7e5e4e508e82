// Encoder requests through createPool on the tiny BERT task fixtures: embed, rerank and classify
// equal to the Encoder facade's; concurrent requests sharing packed passes and equal to each run
// alone; cancellation, timeouts, bad input, and requests of the wrong kind for the pool's model.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../dist/index.js';
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';
import { RequestAbortedError } from '../dist/scheduler/encoder-requests.js';
import { RequestTimeoutError } from '../dist/scheduler/errors.js';
import type { Tolerance } from './harness/tolerance.js';

const DIR = join(import.meta.dirname, 'fixtures', 'encoder-tasks');

/**
 * The same sequence in packed passes of different sizes: the kernels are the same, but the gemm
 * blocks its rows differently with the pass's row count, so sums round differently (measured: up
 * to 9e-8 on these vectors of norm 1). Far below the model's budget against PyTorch.
 */
const TOL_PACKING_F32: Tolerance = { atol: 1e-6, rtol: 1e-5 };

function excess(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance = TOL_PACKING_F32): number {
  expect(got.length).toBe(want.length);
  let worst = -Infinity;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) - (tol.atol + Math.abs(want[i]!) * tol.rtol));
  return worst;
}

const TEXTS = [
  'the quick brown fox jumps over the lazy dog',
  'hello world',
  'a',
  'embeddings for search and retrieval',
  'Paris is the capital of France',
  'packed passes share no attention across texts',
  'one more text of a middling length here',
  'zebra',
];

let embedPool: InferencePool;
let rerankPool: InferencePool;
let embedLib: Encoder;
let rerankLib: Encoder;

beforeAll(async () => {
  embedPool = createPool({ model: join(DIR, 'embed-mean'), threadsPerWorker: 1, maxBatch: 16 });
  rerankPool = createPool({ model: join(DIR, 'rerank'), threadsPerWorker: 1 });
  embedLib = await Encoder.load(join(DIR, 'embed-mean'));
  rerankLib = await Encoder.load(join(DIR, 'rerank'));
  await Promise.all([embedPool.ready(), rerankPool.ready()]);
});
afterAll(async () => {
  await Promise.all([embedPool.close(), rerankPool.close()]);
  embedLib.dispose();
  rerankLib.dispose();
});

describe('encoder pool', () => {
  it('detects the encoder from config.json and reports what it serves', async () => {
    expect(await embedPool.modelInfo()).toEqual({ kind: 'encoder', architecture: 'BertModel', maxLength: 64, dimensions: 32, tasks: ['embed'] });
    expect((await rerankPool.modelInfo()).tasks).toEqual(['embed', 'rerank', 'classify']);
  });

  it('embed equals Encoder.embed, with the checkpoint pooling and each option', async () => {
    for (const opts of [{}, { pooling: 'cls' as const, normalize: false }, { pooling: 'max' as const }]) {
      const want = await embedLib.embed(TEXTS, opts);
      const got = await embedPool.embed(TEXTS, opts);
      expect(got.embeddings).toHaveLength(TEXTS.length);
      got.embeddings.forEach((v, i) => expect(excess(v, want[i]!), `text ${i} ${JSON.stringify(opts)}`).toBeLessThanOrEqual(0));
      // sentence_bert_config.json's max_seq_length (32) cuts the longer texts.
      const tokens = TEXTS.reduce((n, t) => n + Math.min(embedLib.tokenizer.encodeWithOffsets(t).ids.length, 32), 0);
      expect(got.promptTokens).toBe(tokens);
    }
  });

  it('token-id inputs are used as given: the ids of a text embed as the text does', async () => {
    const ids = embedLib.tokenizer.encodeWithOffsets(TEXTS[1]!).ids;
    const [a, b] = (await embedPool.embed([ids, TEXTS[1]!])).embeddings;
    expect(excess(a!, b!)).toBeLessThanOrEqual(0);
    await expect(embedPool.embed([[1, 2, 100000]])).rejects.toThrow(/'texts\[0\]\[2\]' = 100000 is outside the vocabulary/);
  });

  it('concurrent requests share packed passes and each equals its result alone', async () => {
    const alone: Float32Array[] = [];
    for (const t of TEXTS) alone.push((await embedPool.embed([t])).embeddings[0]!);
    const before = embedPool.metrics().batch.passes;
    // A long request first: the short ones arrive while its passes run and are packed together.
    const long = Array.from({ length: 48 }, (_, i) => TEXTS[i % TEXTS.length]!);
    const [big, ...small] = await Promise.all([embedPool.embed(long), ...TEXTS.map((t) => embedPool.embed([t]))]);
    const passes = embedPool.metrics().batch.passes - before;
    // Alone: 3 passes of 16 for the long request and one per short one.
    expect(passes).toBeLessThan(3 + TEXTS.length);
    small.forEach((r, i) => expect(excess(r.embeddings[0]!, alone[i]!), `text ${i}`).toBeLessThanOrEqual(0));
    big!.embeddings.forEach((v, i) => expect(excess(v, alone[i % TEXTS.length]!), `long ${i}`).toBeLessThanOrEqual(0));
  });

  it('rerank and classify equal Encoder.rerank and Encoder.classify', async () => {
    const docs = TEXTS.slice(1);
    const want = await rerankLib.rerank(TEXTS[0]!, docs, { returnDocuments: true });
    const got = await rerankPool.rerank(TEXTS[0]!, docs, { returnDocuments: true });
    expect(got.results.map((r) => r.index)).toEqual(want.map((r) => r.index));
    expect(got.results.map((r) => r.document)).toEqual(want.map((r) => r.document));
    expect(excess(got.results.map((r) => r.score), want.map((r) => r.score))).toBeLessThanOrEqual(0);
    const top = await rerankPool.rerank(TEXTS[0]!, docs, { topN: 2 });
    expect(top.results.map((r) => r.index)).toEqual(want.slice(0, 2).map((r) => r.index));
    expect(top.results[0]!.document).toBeUndefined();
    const cls = await rerankPool.classify(TEXTS, { topK: null });
    const clsWant = await rerankLib.classify(TEXTS, { topK: null });
    cls.labels.forEach((l, i) => {
      expect(l.map((x) => x.label)).toEqual(clsWant[i]!.map((x) => x.label));
      expect(excess(l.map((x) => x.score), clsWant[i]!.map((x) => x.score))).toBeLessThanOrEqual(0);
    });
  });

  it('aborting a running request rejects it with AbortError and stops its remaining passes', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => `${TEXTS[i % TEXTS.length]} ${i}`);
    const before = embedPool.metrics().batch.passes;
    const ac = new AbortController();
    const req = embedPool.embed(many, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    const err = await req.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RequestAbortedError);
    expect((err as Error).name).toBe('AbortError');
    // 2000 texts need 125 passes of 16; the abort stops them long before.
    const ran = embedPool.metrics().batch.passes - before;
    expect(ran).toBeLessThan(125);
    // The pool keeps serving.
    expect((await embedPool.embed(['after'])).embeddings).toHaveLength(1);
  });

  it('an already aborted signal rejects at once; a timeout rejects with RequestTimeoutError', async () => {
    await expect(embedPool.embed(['x'], { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(RequestAbortedError);
    const many = Array.from({ length: 2000 }, (_, i) => `${TEXTS[i % TEXTS.length]} ${i}`);
    await expect(embedPool.embed(many, { timeoutMs: 20 })).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  it.each([
    ['no texts', () => embedPool.embed([]), RangeError, /'texts' is empty/],
    ['a non-string item', () => embedPool.embed(['a', 3 as unknown as string]), TypeError, /'texts\[1\]' must be a string or a non-empty array of token ids/],
    ['texts not an array', () => embedPool.embed('a' as unknown as string[]), TypeError, /'texts' must be an array/],
    ['an unknown option', () => embedPool.embed(['a'], { pool: 'mean' } as object), TypeError, /pool/],
    ['a bad pooling', () => embedPool.embed(['a'], { pooling: 'sum' as 'mean' }), RangeError, /'pooling' must be one of/],
    ['a bad priority', () => embedPool.embed(['a'], { priority: Number.NaN }), RangeError, /'priority'/],
    ['a text longer than the model takes, truncate false', () => embedPool.embed(['word '.repeat(40)], { truncate: false }), RangeError, /'texts\[0\]' has \d+ tokens, more than the 32/],
    ['topN 0', () => rerankPool.rerank('q', ['d'], { topN: 0 }), RangeError, /'topN' must be a positive integer/],
    ['a non-string query', () => rerankPool.rerank(3 as unknown as string, ['d']), TypeError, /'query' must be a string/],
    ['rerank without a cross-encoder', () => embedPool.rerank('q', ['d']), TypeError, /BertModel, which has no sequence classification head/],
    ['generation on an encoder', () => embedPool.generate('hello'), TypeError, /serves an encoder \(BertModel\), which has no generation/],
    ['chat on an encoder', () => embedPool.chat([{ role: 'user', content: 'hi' }]), TypeError, /serves an encoder/],
  ] as const)('rejects %s with an error naming it', async (_label, call, Cls, message) => {
    const err = await call().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Cls);
    expect((err as Error).message).toMatch(message);
  });

  it('truncates long texts by default, as Encoder.embed does', async () => {
    const long = 'word '.repeat(40);
    const [want] = await embedLib.embed([long]);
    const got = await embedPool.embed([long]);
    expect(excess(got.embeddings[0]!, want!)).toBeLessThanOrEqual(0);
    expect(got.promptTokens).toBe(32);
  });

  it('shares the queue and its priorities with generation: a higher priority waiting request starts first', async () => {
    // One request at a time, so the others wait in the pool's queue.
    const pool = createPool({ model: join(DIR, 'embed-mean'), threadsPerWorker: 1, maxBatch: 1 });
    try {
      await pool.ready();
      const order: string[] = [];
      const many = Array.from({ length: 200 }, (_, i) => `${TEXTS[i % TEXTS.length]} ${i}`);
      const first = pool.embed(many).then(() => order.push('first'));
      const low = pool.embed(['low'], { priority: -1 }).then(() => order.push('low'));
      const high = pool.embed(['high'], { priority: 5 }).then(() => order.push('high'));
      await Promise.all([first, low, high]);
      expect(order).toEqual(['first', 'high', 'low']);
    } finally {
      await pool.close();
    }
  });

  it('refuses a token budget smaller than a pass of texts, naming the option', async () => {
    const pool = createPool({ model: join(DIR, 'embed-mean'), threadsPerWorker: 1, maxBatchTokens: 8 });
    await expect(pool.ready()).rejects.toThrow(/'maxBatchTokens' for an encoder must be at least 16/);
    await pool.close();
  });

  it('a small token budget splits passes and changes no result', async () => {
    const pool = createPool({ model: join(DIR, 'embed-mean'), threadsPerWorker: 1, maxBatchTokens: 40 });
    try {
      const got = await pool.embed(TEXTS);
      const want = await embedLib.embed(TEXTS);
      got.embeddings.forEach((v, i) => expect(excess(v, want[i]!), `text ${i}`).toBeLessThanOrEqual(0));
      const b = pool.metrics().batch;
      // No pass over 40 tokens: at least ceil(total / 40) of them.
      expect(b.passes).toBeGreaterThanOrEqual(Math.ceil(got.promptTokens / 40));
      expect(b.meanTokens).toBeLessThanOrEqual(40);
    } finally {
      await pool.close();
    }
  });

  it('without batching, every pass holds one request', async () => {
    const pool = createPool({ model: join(DIR, 'embed-mean'), threadsPerWorker: 1, batching: false });
    try {
      const rs = await Promise.all(TEXTS.map((t) => pool.embed([t])));
      expect(pool.metrics().batch.passes).toBe(TEXTS.length);
      const want = await embedLib.embed(TEXTS);
      rs.forEach((r, i) => expect(excess(r.embeddings[0]!, want[i]!)).toBeLessThanOrEqual(0));
    } finally {
      await pool.close();
    }
  });
});

describe('model kind detection', () => {
  it('does not block on a config.json that is a FIFO: the loader reports the checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnode-fifo-'));
    try {
      execFileSync('mkfifo', [join(dir, 'config.json')]);
      const pool = createPool({ model: dir, threadsPerWorker: 1 });
      await expect(pool.ready()).rejects.toThrow(/has no/);
      await pool.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('decoder pool', () => {
  it('rejects encoder requests with an error saying why', async () => {
    const pool = createPool({ engineModule: new URL('./fixtures/fake-engine.mjs', import.meta.url), threadsPerWorker: 1 });
    try {
      // Before the pool knows its model (the worker answers) and after (the pool answers).
      const early = pool.embed(['a']).then(() => undefined, (e: unknown) => e);
      expect(await early).toBeInstanceOf(TypeError);
      expect(((await early) as Error).message).toMatch(/embed: this pool serves a decoder; embed needs an encoder model/);
      expect((await pool.modelInfo()).kind).toBe('decoder');
      await expect(pool.rerank('q', ['d'])).rejects.toThrow(/rerank needs an encoder model/);
    } finally {
      await pool.close();
    }
  });
});

// llama.cpp's GGUF layout for embedding models: the facade reads the file's own WordPiece
// vocabulary and pooling_type (CLS in this fixture), and the pool tells the kind from the file.
describe('a GGUF embedding model', () => {
  const GGUF = join(import.meta.dirname, 'fixtures', 'models', 'bert-tiny.gguf');
  const SAFETENSORS = join(import.meta.dirname, 'fixtures', 'models', 'bert-tiny');
  /** The same f32 weights read from GGUF and from safetensors: only summation order may differ. */
  const TOL_SAME_WEIGHTS_F32: Tolerance = { atol: 1e-5, rtol: 1e-4 };

  it("Encoder.load(file.gguf) embeds with the file's tokenizer and pooling (the [CLS] row of the same model from safetensors)", async () => {
    const lib = await Encoder.load(GGUF);
    const { loadEncoder } = await import('../dist/models/encoder.js');
    const ref = await loadEncoder(SAFETENSORS);
    try {
      expect(lib.model.config.pooling).toBe('cls');
      const texts = TEXTS.slice(0, 4);
      const got = await lib.embed(texts);
      const ids = texts.map((t) => lib.tokenizer.encodeWithOffsets(t).ids);
      expect(ids.every((s) => s.length >= 2)).toBe(true);
      const outs = await ref.forward(ids);
      outs.forEach((o, i) => expect(excess(got[i]!, o.lastHiddenState.subarray(0, ref.config.hidden), TOL_SAME_WEIGHTS_F32), texts[i]).toBeLessThanOrEqual(0));
      const mean = await lib.embed(texts, { pooling: 'mean' });
      expect(excess(mean[0]!, got[0]!, { atol: 0, rtol: 0 })).toBeGreaterThan(0);
    } finally {
      lib.dispose();
      ref.dispose();
    }
  });

  it('createPool({ model: file.gguf }) serves it as an encoder, equal to Encoder.embed', async () => {
    const pool = createPool({ model: GGUF, threadsPerWorker: 1 });
    const lib = await Encoder.load(GGUF);
    try {
      await pool.ready();
      expect((await pool.modelInfo()).kind).toBe('encoder');
      const want = await lib.embed(TEXTS);
      const got = await pool.embed(TEXTS);
      got.embeddings.forEach((v, i) => expect(excess(v, want[i]!), TEXTS[i]).toBeLessThanOrEqual(0));
    } finally {
      await pool.close();
      lib.dispose();
    }
  });
});
