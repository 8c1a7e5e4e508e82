// The server against a careless or hostile client (issue #23), over the stand-in engine: the API
// key on every route, Prometheus text read by a real parser, status codes kept for streams that
// fail before their first token, `param`, the Host allow-list, the model's name, liveness and
// readiness, token-id prompts, and the pool's request checks (signal, options, timeouts, crashes).
import type { AddressInfo } from 'node:net';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolClosedError, WorkerCrashedError } from '../dist/scheduler/errors.js';
import { MAX_TIMEOUT_MS, createPool, type InferencePool } from '../dist/scheduler/pool.js';
import { createServer, type AttnodeServer } from '../dist/server/server.js';

const FAKE = new URL('./fixtures/fake-engine.mjs', import.meta.url);
const KEY = 'sk-test-0123456789';

async function serve(o: { apiKey?: string; allowedHosts?: string[]; pool?: Parameters<typeof createPool>[0] } = {}): Promise<{ app: AttnodeServer; base: string; pool: InferencePool }> {
  const pool = createPool({ engineModule: FAKE, workers: 1, maxBatch: 4, threadsPerWorker: 1, engineOptions: { stepMs: 2 }, ...o.pool });
  const app = createServer({ pool, modelName: 'fake-model', ...(o.apiKey ? { apiKey: o.apiKey } : {}), ...(o.allowedHosts ? { allowedHosts: o.allowedHosts } : {}) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, pool, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

type Json = Record<string, unknown> & { error?: { message: string; type: string; param: string | null; code: string | null } };

async function call(base: string, method: string, path: string, o: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; json: Json; text: string; type: string }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // Prometheus text and SSE are not JSON
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') ?? '' };
}

/** Every route the server has, with a body that would succeed. */
const ROUTES: [string, string, unknown][] = [
  ['GET', '/metrics', undefined],
  ['GET', '/metrics/json', undefined],
  ['POST', '/v1/completions', { prompt: 'hi', max_tokens: 2 }],
  ['POST', '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }],
  ['GET', '/no/such/route', undefined],
];

describe('API key', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    s = await serve({ apiKey: KEY });
  });
  afterAll(async () => {
    await s.app.close();
  });

  it('every route but /health answers 401 in OpenAI error shape without the key or with a wrong one', async () => {
    for (const [method, path, body] of ROUTES)
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${KEY}x` }, { authorization: KEY }, { authorization: `Basic ${KEY}` }]) {
        const r = await call(s.base, method, path, { body, headers });
        expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key', param: null });
        expect(r.json.error!.message).toMatch(/API key/);
      }
  });

  it('the right key opens every route; /health and its probes need none', async () => {
    for (const [method, path, body] of ROUTES) {
      const r = await call(s.base, method, path, { body, headers: { authorization: `Bearer ${KEY}` } });
      expect(r.status, `${method} ${path}`).toBe(path === '/no/such/route' ? 404 : 200);
    }
    for (const path of ['/health', '/health/live', '/health/ready']) expect((await call(s.base, 'GET', path)).status).toBe(200);
  });

  it('a path that only starts like /health is not open', async () => {
    const { request } = await import('node:http');
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${s.base}${path}`, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    for (const path of ['/health/../metrics', '/health/%2e%2e/metrics', '/healthz', '/health/ready/x']) expect(await status(path), path).toBe(401);
  });
});

describe('Prometheus metrics', () => {
  it('are text exposition that a parser reads, with the request, token, latency and pool series', async () => {
    const s = await serve();
    try {
      for (let i = 0; i < 3; i++) expect((await call(s.base, 'POST', '/v1/completions', { body: { prompt: 'hi', max_tokens: 4 } })).status).toBe(200);
      const streamed = await call(s.base, 'POST', '/v1/completions', { body: { prompt: 'hi', max_tokens: 3, stream: true } });
      expect(streamed.status).toBe(200);
      expect((await call(s.base, 'POST', '/v1/completions', { body: { prompt: 'hi', temperature: -1 } })).status).toBe(400);
      const r = await call(s.base, 'GET', '/metrics');
      expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
      const families = new Map(parsePrometheusTextFormat(r.text).map((f) => [f.name, f]));
      const type = (name: string) => families.get(name)?.type;
      expect(type('attnode_http_requests_total')).toBe('COUNTER');
      expect(type('attnode_generated_tokens_total')).toBe('COUNTER');
      expect(type('attnode_time_to_first_token_seconds')).toBe('HISTOGRAM');
      expect(type('attnode_time_per_output_token_seconds')).toBe('HISTOGRAM');
      expect(type('attnode_batch_passes_total')).toBe('COUNTER');
      expect(type('attnode_worker_restarts_total')).toBe('COUNTER');
      for (const g of ['attnode_queue_depth', 'attnode_active_sequences', 'attnode_kv_pages_in_use', 'attnode_event_loop_delay_p99_seconds']) expect(type(g), g).toBe('GAUGE');
      expect(families.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
      const requests = families.get('attnode_http_requests_total')!.metrics;
      const count = (route: string, status: string) => Number(requests.find((m) => m.labels?.route === route && m.labels?.status === status)?.value ?? 0);
      expect(count('/v1/completions', '200')).toBe(4);
      expect(count('/v1/completions', '400')).toBe(1);
      expect(Number(families.get('attnode_generated_tokens_total')!.metrics[0]!.value)).toBe(3 * 4 + 3);
      const ttft = families.get('attnode_time_to_first_token_seconds')!.metrics[0]!;
      expect(Number(ttft.count)).toBe(4);
      const perToken = families.get('attnode_time_per_output_token_seconds')!.metrics[0]!;
      expect(Number(perToken.count)).toBe(3 * 3 + 2);
      const passes = families.get('attnode_batch_passes_total')!.metrics.reduce((a, m) => a + Number(m.value), 0);
      expect(passes).toBeGreaterThan(0);
      // The JSON view is still there.
      expect((await call(s.base, 'GET', '/metrics/json')).json).toHaveProperty('queueDepth', 0);
    } finally {
      await s.app.close();
    }
  });
});

describe('status codes, param, names', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    s = await serve({ pool: { maxQueue: 0, maxBatch: 1, engineOptions: { stepMs: 5 } } });
  });
  afterAll(async () => {
    await s.app.close();
  });

  it('a stream refused before its first token keeps its status: 429 for a full queue, 400 for bad options', async () => {
    const long = call(s.base, 'POST', '/v1/completions', { body: { prompt: 'busy', max_tokens: 60 } });
    await new Promise((r) => setTimeout(r, 50));
    const full = await call(s.base, 'POST', '/v1/completions', { body: { prompt: 'hi', stream: true } });
    expect(full.status).toBe(429);
    expect(full.json.error).toMatchObject({ type: 'rate_limit_error', code: 'ATTNODE_QUEUE_FULL' });
    expect((await long).status).toBe(200);
    const refused = await call(s.base, 'POST', '/v1/completions', { body: { prompt: '__reject__', stream: true } });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ type: 'invalid_request_error', param: 'prompt' });
    const chat = await call(s.base, 'POST', '/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'x' }], logit_bias: { '99999999': 1 }, stream: true } });
    expect(chat.status).toBe(200); // the stand-in engine has no vocabulary to check ids against
  });

  it("a stream that times out before its first token is a 504, not a 200 with an error frame", async () => {
    const slow = await serve({ pool: { timeoutMs: 40, engineOptions: { stepMs: 400 } } });
    try {
      const r = await call(slow.base, 'POST', '/v1/completions', { body: { prompt: 'hi', stream: true } });
      expect(r.status).toBe(504);
      expect(r.json.error).toMatchObject({ type: 'timeout_error', code: 'ATTNODE_TIMEOUT' });
    } finally {
      await slow.app.close();
    }
  });

  it("`param` names the field an option error is about", async () => {
    const r = await call(s.base, 'POST', '/v1/completions', { body: { prompt: '__reject__' } });
    expect(r.status).toBe(400);
    expect(r.json.error!.param).toBe('prompt');
    const schema = await call(s.base, 'POST', '/v1/completions', { body: { prompt: 'x', top_k: -1 } });
    expect(schema.json.error!.param).toBe('top_k');
    const missing = await call(s.base, 'POST', '/v1/completions', { body: { max_tokens: 1 } });
    expect(missing.status).toBe(400);
    expect(missing.json.error!.param).toBe('prompt');
  });

  it('responses and /health name the model by its name', async () => {
    const r = await call(s.base, 'POST', '/v1/completions', { body: { prompt: 'hi', max_tokens: 1 } });
    expect(r.json.model).toBe('fake-model');
    expect((await call(s.base, 'GET', '/health')).json).toEqual({ status: 'ok', model: 'fake-model' });
  });

  it("accepts a prompt of token ids, as OpenAI's API does, and refuses echo with one", async () => {
    const ids = await call(s.base, 'POST', '/v1/completions', { body: { prompt: [464, 3290, 318], max_tokens: 2, seed: 1 } });
    expect(ids.status).toBe(200);
    const nested = await call(s.base, 'POST', '/v1/completions', { body: { prompt: [[464, 3290, 318]], max_tokens: 2, seed: 1 } });
    expect(nested.json.choices).toEqual(ids.json.choices);
    expect((await call(s.base, 'POST', '/v1/completions', { body: { prompt: [1.5] } })).status).toBe(400);
    const echo = await call(s.base, 'POST', '/v1/completions', { body: { prompt: [1, 2], echo: true } });
    expect(echo.status).toBe(400);
    expect(echo.json.error!.param).toBe('echo');
  });
});

describe('Host allow-list', () => {
  it('answers only for the listed host names (any port); /health stays open', async () => {
    const s = await serve({ allowedHosts: ['127.0.0.1', 'api.example'] });
    try {
      const port = new URL(s.base).port;
      const ok = await call(s.base, 'POST', '/v1/completions', { body: { prompt: 'hi', max_tokens: 1 } });
      expect(ok.status).toBe(200);
      // fetch sets Host from the URL, so a rebinding attacker's name goes through node:http.
      const { request } = await import('node:http');
      const status = (host: string, path: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
      expect(await status('evil.example:80', '/metrics')).toBe(403);
      expect(await status('api.example:443', '/metrics')).toBe(200);
      expect(await status('evil.example', '/health')).toBe(200);
    } finally {
      await s.app.close();
    }
  });
});

describe('liveness and readiness', () => {
  it('is live at once, ready only once the model loaded, and not ready while draining', async () => {
    const s = await serve({ pool: { engineOptions: { stepMs: 2, loadMs: 600 } } });
    try {
      expect((await call(s.base, 'GET', '/health/live')).status).toBe(200);
      const loading = await call(s.base, 'GET', '/health/ready');
      expect(loading.status).toBe(503);
      expect(loading.json.status).toBe('loading');
      await s.pool.ready();
      expect((await call(s.base, 'GET', '/health/ready')).json.status).toBe('ready');
      s.app.attnode.startDrain();
      const draining = await call(s.base, 'GET', '/health/ready');
      expect(draining.status).toBe(503);
      expect(draining.json.status).toBe('draining');
    } finally {
      await s.app.close();
    }
  });

  it("a model that can't load fails ready() with the loader's error, and readiness says so", async () => {
    const s = await serve({ pool: { engineOptions: { failLoad: '/models/garbage' } } });
    try {
      await expect(s.pool.ready()).rejects.toThrow(/cannot load '\/models\/garbage'/);
      const r = await call(s.base, 'GET', '/health/ready');
      expect(r.status).toBe(503);
      expect(r.json).toMatchObject({ status: 'failed', error: "cannot load '/models/garbage'" });
    } finally {
      await s.app.close();
    }
  });
});

describe('pool request checks', () => {
  let pool: InferencePool;
  beforeAll(() => {
    pool = createPool({ engineModule: FAKE, workers: 1, maxBatch: 4, threadsPerWorker: 1, engineOptions: { stepMs: 2 } });
  });
  afterAll(async () => {
    await pool.close();
  });

  it("a `signal` that is not an AbortSignal is a TypeError naming 'signal', for generate and stream", async () => {
    const bad = { addEventListener: 1 } as unknown as AbortSignal;
    await expect(pool.generate('hi', { signal: bad })).rejects.toThrow(TypeError);
    await expect(pool.generate('hi', { signal: bad })).rejects.toThrow(/'signal'/);
    const s = pool.stream('hi', { signal: bad });
    await expect(s.result).rejects.toThrow(/'signal'/);
  });

  it("`options: null` is a TypeError naming 'options'", async () => {
    await expect(pool.generate('hi', null as unknown as object)).rejects.toThrow(/'options' must be an object/);
    await expect(pool.stream('hi', null as unknown as object).result).rejects.toThrow(/'options' must be an object/);
  });

  it('timeouts: Infinity means none, more than a timer holds is a RangeError, never a 1 ms timeout', async () => {
    const r = await pool.generate('hi', { maxTokens: 3, timeoutMs: Infinity });
    expect(r.finishReason).toBe('length');
    await expect(pool.generate('hi', { timeoutMs: 1e10 })).rejects.toThrow(RangeError);
    await expect(pool.generate('hi', { timeoutMs: MAX_TIMEOUT_MS + 1 })).rejects.toThrow(/'timeoutMs' must be a number in \(0, 2147483647\]/);
    expect(() => createPool({ engineModule: FAKE, timeoutMs: 3e9 })).toThrow(/timeoutMs/);
    const longest = await pool.generate('hi', { maxTokens: 2, timeoutMs: MAX_TIMEOUT_MS });
    expect(longest.finishReason).toBe('length');
  });

  it('an uncaught throw in a worker is a WorkerCrashedError; an engine error keeps its class', async () => {
    await expect(pool.generate('__throw__', { maxTokens: 50 })).rejects.toBeInstanceOf(WorkerCrashedError);
    await expect(pool.generate('__reject__')).rejects.toBeInstanceOf(RangeError);
    expect(pool.metrics().workerCrashes).toBe(1);
    expect((await pool.generate('hi', { maxTokens: 2 })).finishReason).toBe('length'); // a new worker serves
  });

  it('a drain with a deadline rejects what is still queued with PoolClosedError and ends', async () => {
    const p = createPool({ engineModule: FAKE, workers: 1, maxBatch: 1, engineOptions: { stepMs: 20 } });
    const running = p.generate('a', { maxTokens: 1000 });
    // Settled as they end (their rejections are expected, not unhandled).
    const queued = Array.from({ length: 20 }, () => p.generate('b', { maxTokens: 1000 }).then((r) => r, (e: unknown) => e));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await p.close({ mode: 'drain', deadlineMs: 200 });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect((await running).finishReason).toBe('aborted');
    for (const q of await Promise.all(queued)) expect(q).toBeInstanceOf(PoolClosedError);
  });
});
