// `attnode serve`'s encoder routes over HTTP with fetch, on the tiny BERT task fixtures:
// /v1/embeddings (float and base64) equal to Encoder.embed, /v1/rerank (and its aliases) equal
// to Encoder.rerank, bad bodies, and routes the loaded model's kind cannot serve.

import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../dist/index.js';
import { createPool } from '../dist/scheduler/pool.js';
import { createServer } from '../dist/server/server.js';
import type { Tolerance } from './harness/tolerance.js';

const DIR = join(import.meta.dirname, 'fixtures', 'encoder-tasks');

/** Server vectors against the library's: the same rows in packed passes of other sizes (see encoder-pool.test.ts). */
const TOL_PACKING_F32: Tolerance = { atol: 1e-6, rtol: 1e-5 };

function within(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance = TOL_PACKING_F32): number {
  expect(got.length).toBe(want.length);
  let bad = -1;
  for (let i = 0; i < want.length && bad < 0; i++) if (Math.abs(got[i]! - want[i]!) > tol.atol + Math.abs(want[i]!) * tol.rtol) bad = i;
  return bad;
}

type App = ReturnType<typeof createServer>;
const servers: App[] = [];
const bases: Record<'embed' | 'rerank' | 'decoder', string> = { embed: '', rerank: '', decoder: '' };
let embedLib: Encoder;
let rerankLib: Encoder;

async function serve(name: keyof typeof bases, pool: ReturnType<typeof createPool>, modelName: string): Promise<void> {
  const app = createServer({ pool, modelName });
  await app.listen({ host: '127.0.0.1', port: 0 });
  servers.push(app);
  bases[name] = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  await serve('embed', createPool({ model: join(DIR, 'embed-mean'), threadsPerWorker: 1 }), 'embed-mean');
  await serve('rerank', createPool({ model: join(DIR, 'rerank'), threadsPerWorker: 1 }), 'rerank');
  await serve('decoder', createPool({ engineModule: new URL('./fixtures/fake-engine.mjs', import.meta.url), threadsPerWorker: 1 }), 'fake');
  embedLib = await Encoder.load(join(DIR, 'embed-mean'));
  rerankLib = await Encoder.load(join(DIR, 'rerank'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  embedLib.dispose();
  rerankLib.dispose();
});

interface Json {
  [k: string]: unknown;
  error?: { message: string; type: string; param: string | null; code: string | null };
}

async function post(server: keyof typeof bases, path: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(bases[server] + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Json };
}

interface EmbeddingsResponse {
  object: string;
  model: string;
  data: { object: string; index: number; embedding: number[] | string }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

const TEXTS = ['the quick brown fox', 'hello world', 'Paris is the capital of France'];

describe('/v1/embeddings', () => {
  it('answers OpenAI\'s shape with the vectors Encoder.embed gives', async () => {
    const want = await embedLib.embed(TEXTS);
    const r = await post('embed', '/v1/embeddings', { input: TEXTS, model: 'embed-mean' });
    expect(r.status).toBe(200);
    const body = r.json as unknown as EmbeddingsResponse;
    expect(body.object).toBe('list');
    expect(body.model).toBe('embed-mean');
    expect(body.data.map((d) => [d.object, d.index])).toEqual(TEXTS.map((_, i) => ['embedding', i]));
    body.data.forEach((d, i) => expect(within(d.embedding as number[], want[i]!), `input ${i}`).toBe(-1));
    const tokens = TEXTS.reduce((n, t) => n + embedLib.tokenizer.encodeWithOffsets(t).ids.length, 0);
    expect(body.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
  });

  it('takes one string, and token ids', async () => {
    const [want] = await embedLib.embed([TEXTS[1]!]);
    const one = (await post('embed', '/v1/embeddings', { input: TEXTS[1] })).json as unknown as EmbeddingsResponse;
    expect(one.data).toHaveLength(1);
    expect(within(one.data[0]!.embedding as number[], want!)).toBe(-1);
    const ids = embedLib.tokenizer.encodeWithOffsets(TEXTS[1]!).ids;
    for (const input of [ids, [ids, ids]]) {
      const r = (await post('embed', '/v1/embeddings', { input })).json as unknown as EmbeddingsResponse;
      for (const d of r.data) expect(within(d.embedding as number[], want!)).toBe(-1);
    }
  });

  it('base64 is the little-endian f32 bytes of the same vectors', async () => {
    const want = await embedLib.embed(TEXTS);
    const r = (await post('embed', '/v1/embeddings', { input: TEXTS, encoding_format: 'base64' })).json as unknown as EmbeddingsResponse;
    r.data.forEach((d, i) => {
      expect(typeof d.embedding).toBe('string');
      const bytes = Buffer.from(d.embedding as string, 'base64');
      expect(bytes.length).toBe(4 * 32);
      const floats = Array.from({ length: bytes.length / 4 }, (_, k) => bytes.readFloatLE(4 * k));
      expect(within(floats, want[i]!), `input ${i}`).toBe(-1);
    });
  });

  it('dimensions equal to the model\'s width is accepted; any other is a 400 that says why', async () => {
    expect((await post('embed', '/v1/embeddings', { input: 'x', dimensions: 32 })).status).toBe(200);
    const r = await post('embed', '/v1/embeddings', { input: 'x', dimensions: 16 });
    expect(r.status).toBe(400);
    expect(r.json.error!.param).toBe('dimensions');
    expect(r.json.error!.message).toMatch(/have 32 and cannot be shortened/);
  });

  it('truncate: true embeds a text longer than the model takes as Encoder.embed does', async () => {
    const long = 'word '.repeat(40);
    const [want] = await embedLib.embed([long]);
    const r = (await post('embed', '/v1/embeddings', { input: long, truncate: true })).json as unknown as EmbeddingsResponse;
    expect(within(r.data[0]!.embedding as number[], want!)).toBe(-1);
    expect(r.usage.prompt_tokens).toBe(32);
  });

  it.each([
    ['an empty string', { input: '' }, 'input', /'input' is an empty string/],
    ['an empty array', { input: [] }, 'input', /'input' is an empty array/],
    ['an empty string item', { input: ['a', ''] }, 'input', /'input\[1\]' is an empty string/],
    ['a non-string item', { input: ['a', 3] }, 'input', /'input\[1\]' must be a string, got number/],
    ['a null item', { input: ['a', null] }, 'input', /'input\[1\]' must be a string, got null/],
    ['mixed token ids', { input: [1, 'a'] }, 'input', /'input\[1\]' must be a token id/],
    ['a negative token id', { input: [[2, -1]] }, 'input', /'input\[0\]\[1\]' must be a token id/],
    ['a token id past the vocabulary', { input: [2, 5000, 3] }, 'input', /'input\[1\]' = 5000 is outside the vocabulary \[0, 105\)/],
    ['input of the wrong type', { input: 42 }, 'input', /input must be string, body\/input must be array/],
    ['a missing input', { model: 'x' }, 'input', /required property 'input'/],
    ['an unknown encoding_format', { input: 'a', encoding_format: 'int8' }, 'encoding_format', /encoding_format must be equal to one of the allowed values/],
    ['an unknown field', { input: 'a', pooling: 'cls' }, 'pooling', /must NOT have additional properties: 'pooling'/],
    ['a text longer than the model takes', { input: ['ok', 'word '.repeat(40)] }, 'input', /'input\[1\]' has \d+ tokens, more than the 32 the model takes/],
    ['one text longer than the model takes', { input: 'word '.repeat(40) }, 'input', /'input' has \d+ tokens, more than the 32 the model takes/],
    ['too many inputs', { input: Array.from({ length: 2049 }, () => 'a') }, 'input', /input must NOT have more than 2048 items/],
  ])('400 naming the field for %s', async (_label, body, param, message) => {
    const r = await post('embed', '/v1/embeddings', body);
    expect(r.status).toBe(400);
    expect(r.json.error!.type).toBe('invalid_request_error');
    expect(r.json.error!.param).toBe(param);
    expect(r.json.error!.message).toMatch(message);
  });
});

interface RerankResponse {
  model: string;
  results: { index: number; relevance_score: number; document?: { text: string } }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

const QUERY = 'what is the capital of France';
const DOCS = ['Paris is the capital of France', 'the quick brown fox', 'hello world', 'France is in Europe'];

describe('a client that goes away', () => {
  it('cancels its embeddings request', async () => {
    const pool = servers[0]!.attnode.context.pool();
    const before = pool.metrics().cancelled;
    const ac = new AbortController();
    const input = Array.from({ length: 2000 }, (_, i) => `text number ${i}`);
    const res = fetch(`${bases.embed}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }), signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(res).rejects.toThrow();
    for (let i = 0; i < 200 && pool.metrics().cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pool.metrics().cancelled).toBe(before + 1);
  });
});

describe('/v1/rerank', () => {
  it('orders and scores as Encoder.rerank, with top_n and return_documents', async () => {
    const want = await rerankLib.rerank(QUERY, DOCS);
    const r = await post('rerank', '/v1/rerank', { model: 'rerank', query: QUERY, documents: DOCS });
    expect(r.status).toBe(200);
    const body = r.json as unknown as RerankResponse;
    expect(body.model).toBe('rerank');
    expect(body.results.map((x) => x.index)).toEqual(want.map((x) => x.index));
    expect(within(body.results.map((x) => x.relevance_score), want.map((x) => x.score))).toBe(-1);
    expect(body.results[0]!.document).toBeUndefined();
    const pairs = DOCS.reduce((n, d) => n + rerankLib.tokenizer.encodeWithOffsets(QUERY, { pair: d }).ids.length, 0);
    expect(body.usage).toEqual({ prompt_tokens: pairs, total_tokens: pairs });
    const top = (await post('rerank', '/v1/rerank', { query: QUERY, documents: DOCS, top_n: 2, return_documents: true })).json as unknown as RerankResponse;
    expect(top.results.map((x) => x.index)).toEqual(want.slice(0, 2).map((x) => x.index));
    expect(top.results.map((x) => x.document?.text)).toEqual(want.slice(0, 2).map((x) => DOCS[x.index]));
  });

  it.each(['/rerank', '/reranking', '/v1/reranking'])('answers on llama.cpp\'s alias %s', async (path) => {
    const want = await rerankLib.rerank(QUERY, DOCS);
    const r = (await post('rerank', path, { query: QUERY, documents: DOCS })).json as unknown as RerankResponse;
    expect(r.results.map((x) => x.index)).toEqual(want.map((x) => x.index));
  });

  it.each([
    ['a missing query', { documents: ['a'] }, 'query', /required property 'query'/],
    ['an empty query', { query: '', documents: ['a'] }, 'query', /'query' is an empty string/],
    ['a non-string query', { query: 3, documents: ['a'] }, 'query', /query must be string/],
    ['documents not an array', { query: 'q', documents: 'a' }, 'documents', /documents must be array/],
    ['no documents', { query: 'q', documents: [] }, 'documents', /documents must NOT have fewer than 1 items/],
    ['a non-string document', { query: 'q', documents: ['a', 7] }, 'documents', /documents\/1 must be string/],
    ['an empty document', { query: 'q', documents: ['a', ''] }, 'documents', /'documents\[1\]' is an empty string/],
    ['top_n 0', { query: 'q', documents: ['a'], top_n: 0 }, 'top_n', /top_n must be >= 1/],
    ['top_n past the documents', { query: 'q', documents: ['a', 'b'], top_n: 3 }, 'top_n', /'top_n' is 3, more than the 2 documents given/],
    ['top_n not an integer', { query: 'q', documents: ['a'], top_n: 1.5 }, 'top_n', /top_n must be integer/],
    ['a pair longer than the model takes', { query: 'q', documents: ['a', 'word '.repeat(20)] }, 'documents', /'documents\[1\]' has \d+ tokens, more than the 64 the model takes/],
  ])('400 naming the field for %s', async (_label, body, param, message) => {
    const r = await post('rerank', '/v1/rerank', body);
    expect(r.status).toBe(400);
    expect(r.json.error!.param).toBe(param);
    expect(r.json.error!.message).toMatch(message);
  });

  it('truncate: true scores a long pair as Encoder.rerank (which truncates) does', async () => {
    const docs = ['a', 'word '.repeat(20)];
    const want = await rerankLib.rerank('q', docs);
    const r = (await post('rerank', '/v1/rerank', { query: 'q', documents: docs, truncate: true })).json as unknown as RerankResponse;
    expect(r.results.map((x) => x.index)).toEqual(want.map((x) => x.index));
    expect(within(r.results.map((x) => x.relevance_score), want.map((x) => x.score))).toBe(-1);
  });
});

describe('routes follow the model\'s kind', () => {
  it.each([
    ['decoder', '/v1/embeddings', { input: 'a' }, /\/v1\/embeddings needs an encoder \(embedding\) model; this server's model 'fake' is a decoder, which it serves on \/v1\/completions and \/v1\/chat\/completions/],
    ['decoder', '/v1/rerank', { query: 'q', documents: ['a'] }, /\/v1\/rerank needs a cross-encoder/],
    ['embed', '/v1/completions', { prompt: 'hi' }, /\/v1\/completions needs a decoder \(generative\) model; this server's model 'embed-mean' is an encoder \(BertModel\), which it serves on \/v1\/embeddings/],
    ['embed', '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], stream: true }, /\/v1\/chat\/completions needs a decoder/],
    ['embed', '/v1/rerank', { query: 'q', documents: ['a'] }, /needs a cross-encoder .*'embed-mean' is an encoder \(BertModel\), which it serves on \/v1\/embeddings$/],
    ['rerank', '/v1/completions', { prompt: 'hi' }, /serves on \/v1\/embeddings and \/v1\/rerank/],
    // The kind is checked before the body: a wrong route hears that first.
    ['embed', '/v1/completions', { bogus: 1 }, /needs a decoder/],
  ] as const)('the %s server answers %s with a 400 that says why', async (server, path, body, message) => {
    const r = await post(server, path, body);
    expect(r.status).toBe(400);
    expect(r.json.error!.type).toBe('invalid_request_error');
    expect(r.json.error!.code).toBe('model_not_supported');
    expect(r.json.error!.message).toMatch(message);
  });

  it('a decoder server still serves completions', async () => {
    expect((await post('decoder', '/v1/completions', { prompt: 'hi', max_tokens: 2 })).status).toBe(200);
  });
});
