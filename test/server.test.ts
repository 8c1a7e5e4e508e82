// `attnode serve`'s HTTP API on loopback, over a pool running the stand-in engine: request
// validation, completions and chat, SSE streams, disconnects, and a bounded load test.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';
import { createServer } from '../dist/server/server.js';

let pool: InferencePool;
let app: ReturnType<typeof createServer>;
let base: string;

beforeAll(async () => {
  pool = createPool({ engineModule: new URL('./fixtures/fake-engine.mjs', import.meta.url), workers: 2, maxBatch: 16, threadsPerWorker: 1, engineOptions: { stepMs: 2 } });
  app = createServer({ pool, modelName: 'fake' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app.close();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Reads an SSE response into its data payloads, checking the framing as it goes. */
async function readSse(res: Response): Promise<string[]> {
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const text = await res.text();
  const events = text.split('\n\n').filter((e) => e.length);
  for (const e of events) expect(e.startsWith('data: ')).toBe(true);
  return events.map((e) => e.slice(6));
}

describe('HTTP API', () => {
  it('health and metrics', async () => {
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok', model: 'fake' });
    const m = (await (await fetch(`${base}/metrics/json`)).json()) as Record<string, unknown>;
    expect(m).toHaveProperty('queueDepth');
    expect(m).toHaveProperty('eventLoopDelayMs');
  });

  it('completions, deterministic for a seed', async () => {
    const a = await post('/v1/completions', { prompt: 'hello', max_tokens: 5, seed: 3 });
    const b = await post('/v1/completions', { prompt: ['hello'], max_tokens: 5, seed: 3 });
    expect(a.status).toBe(200);
    expect(a.json.object).toBe('text_completion');
    const choice = (a.json.choices as Array<{ text: string; finish_reason: string }>)[0]!;
    expect(choice.finish_reason).toBe('length');
    expect(choice.text.trim().split(' ')).toHaveLength(5);
    expect((b.json.choices as Array<{ text: string }>)[0]!.text).toBe(choice.text);
    expect(a.json.usage).toEqual({ prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 });
  });

  it('chat completions', async () => {
    const r = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    expect(r.status).toBe(200);
    expect(r.json.object).toBe('chat.completion');
    const msg = (r.json.choices as Array<{ message: { role: string; content: string } }>)[0]!.message;
    expect(msg.role).toBe('assistant');
    expect(msg.content.length).toBeGreaterThan(0);
  });

  it.each([
    ['not JSON', '/v1/completions', '{"prompt": ', /JSON/i],
    ['missing prompt', '/v1/completions', { max_tokens: 3 }, /prompt/],
    ['prompt of the wrong type', '/v1/completions', { prompt: 42 }, /prompt/],
    ['max_tokens out of range', '/v1/completions', { prompt: 'x', max_tokens: 0 }, /max_tokens/],
    ['temperature out of range', '/v1/completions', { prompt: 'x', temperature: 9 }, /temperature/],
    ['n > 1 with temperature 0', '/v1/completions', { prompt: 'x', n: 3, temperature: 0 }, /\bn\b/],
    ['unknown field', '/v1/completions', { prompt: 'x', bogus: 1 }, /additional/],
    ['too many stop strings', '/v1/completions', { prompt: 'x', stop: ['a', 'b', 'c', 'd', 'e'] }, /stop/],
    ['empty messages', '/v1/chat/completions', { messages: [] }, /messages/],
    ['bad role', '/v1/chat/completions', { messages: [{ role: 'wizard', content: 'x' }] }, /role|allowed/],
    ['oversized prompt', '/v1/completions', { prompt: 'x'.repeat(70_000) }, /prompt|large/],
  ] as const)('rejects a bad body with 400 and a JSON error: %s', async (_label, path, body, message) => {
    const r = await post(path, body);
    expect(r.status === 400 || r.status === 413).toBe(true);
    expect((r.json.error as { message: string }).message).toMatch(message);
  });

  it('404 for unknown routes, as JSON', async () => {
    const res = await fetch(`${base}/v1/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/no route/);
  });

  it('streams completions as well-formed server-sent events', async () => {
    const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'stream', max_tokens: 6, stream: true, seed: 1 }) });
    const data = await readSse(res);
    expect(data.at(-1)).toBe('[DONE]');
    const frames = data.slice(0, -1).map((d) => JSON.parse(d) as { choices: Array<{ text: string; finish_reason: string | null }> });
    expect(frames.at(-1)!.choices[0]!.finish_reason).toBe('length');
    const streamed = frames.map((f) => f.choices[0]!.text).join('');
    const whole = await post('/v1/completions', { prompt: 'stream', max_tokens: 6, seed: 1 });
    expect(streamed).toBe((whole.json.choices as Array<{ text: string }>)[0]!.text);
  });

  it('streams chat deltas with the role first', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 3, stream: true }) });
    const frames = (await readSse(res)).slice(0, -1).map((d) => JSON.parse(d) as { object: string; choices: Array<{ delta: { role?: string; content?: string } }> });
    expect(frames[0]!.object).toBe('chat.completion.chunk');
    expect(frames[0]!.choices[0]!.delta.role).toBe('assistant');
  });

  it('cancels the work of a client that disconnects mid-stream', async () => {
    const before = pool.metrics().cancelled;
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ prompt: 'endless', max_tokens: 4096, stream: true }));
      setTimeout(() => reject(new Error('no data')), 10_000);
    });
    for (let i = 0; i < 100 && pool.metrics().cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pool.metrics().cancelled).toBe(before + 1);
  });

  it('load: 200 streamed requests from 32 concurrent clients, none lost or failed', async () => {
    let next = 0;
    const outcomes: Array<'ok' | 'bad'> = [];
    const client = async () => {
      while (next < 200) {
        const i = next++;
        const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `load ${i}`, max_tokens: 8, stream: true }) });
        const data = await readSse(res);
        const frames = data.slice(0, -1).map((d) => JSON.parse(d) as { choices: Array<{ finish_reason: string | null }> });
        outcomes.push(res.status === 200 && data.at(-1) === '[DONE]' && frames.length === 9 && frames.at(-1)!.choices[0]!.finish_reason === 'length' ? 'ok' : 'bad');
      }
    };
    await Promise.all(Array.from({ length: 32 }, client));
    expect(outcomes).toHaveLength(200);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(200);
  }, 120_000);
});
