// The per-client queue limit of the server (issue #23), over the stand-in engine: a client past
// maxQueuePerClient requests in flight gets 429 in OpenAI's shape naming the limit, other clients
// (by address, or by bearer token) are not held back, a finished or abandoned request gives its
// place back, refusals are counted in the Prometheus text, and bad settings are refused.
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { createPool } from '../dist/scheduler/pool.js';
import { createServer, type AttnodeServer, type ServerOptions } from '../dist/server/server.js';

const FAKE = new URL('./fixtures/fake-engine.mjs', import.meta.url);
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
// 60 tokens at 10 ms a step: a request that stays in flight for about 600 ms.
const LONG = { prompt: 'long', max_tokens: 60 };
const SHORT = { prompt: 'hi', max_tokens: 2 };

async function serve(o: Partial<ServerOptions>): Promise<{ app: AttnodeServer; port: number }> {
  const pool = createPool({ engineModule: FAKE, workers: 1, maxBatch: 8, threadsPerWorker: 1, engineOptions: { stepMs: 10 } });
  const app = createServer({ pool, modelName: 'fake-model', ...o });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port };
}

interface Reply { status: number; json: { error?: { message: string; type: string; param: string | null; code: string | null } }; text: string; retryAfter: string | undefined }

/** POSTs from a chosen loopback address (every 127.x.y.z is this machine on Linux). */
function post(port: number, path: string, body: unknown, o: { from?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request({
      host: '127.0.0.1', port, path, method: 'POST', localAddress: o.from ?? '127.0.0.1', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...o.headers },
      ...(o.signal ? { signal: o.signal } : {}),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        let json: Reply['json'] = {};
        try { json = JSON.parse(text) as Reply['json']; } catch { /* an event stream */ }
        resolve({ status: res.statusCode ?? 0, json, text, retryAfter: res.headers['retry-after'] as string | undefined });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the pool holds `n` requests (queued or running): they were counted on arrival. */
async function untilInFlight(app: AttnodeServer, n: number): Promise<void> {
  for (;;) {
    const m = app.attnode.context.pool().metrics();
    if (m.queueDepth + m.activeSequences >= n) return;
    await settle(10);
  }
}

describe('maxQueuePerClient', () => {
  it('refuses a client past its limit with 429 naming the limit; other addresses still get in; places come back', async () => {
    const { app, port } = await serve({ maxQueuePerClient: 2 });
    try {
      const held = [post(port, '/v1/completions', LONG), post(port, '/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 60 })];
      await untilInFlight(app, 2);
      for (const [path, body] of [['/v1/completions', SHORT], ['/v1/completions', { ...SHORT, stream: true }], ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }]] as const) {
        const r = await post(port, path, body);
        expect(r.status, path).toBe(429);
        expect(r.json.error).toMatchObject({ type: 'rate_limit_error', code: 'ATTNODE_CLIENT_QUEUE_FULL', param: null });
        expect(r.json.error!.message).toMatch(/max-queue-per-client = 2/);
        expect(r.retryAfter).toBe('1');
      }
      // Another client is not held back by this one's requests.
      expect((await post(port, '/v1/completions', SHORT, { from: '127.0.0.2' })).status).toBe(200);
      // Health and metrics are not counted.
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      for (const r of await Promise.all(held)) expect(r.status).toBe(200);
      // Finished requests gave their places back.
      const again = await Promise.all([post(port, '/v1/completions', SHORT), post(port, '/v1/completions', SHORT)]);
      expect(again.map((r) => r.status)).toEqual([200, 200]);
    } finally {
      await app.close();
    }
  });

  it('a stream the client abandons gives its place back', async () => {
    const { app, port } = await serve({ maxQueuePerClient: 1 });
    try {
      const ac = new AbortController();
      const gone = post(port, '/v1/completions', { ...LONG, max_tokens: 500, stream: true }, { signal: ac.signal }).catch((e: Error) => e);
      await untilInFlight(app, 1);
      expect((await post(port, '/v1/completions', SHORT)).status).toBe(429);
      ac.abort();
      await gone;
      // The server sees the connection close a moment later; until then the place is held.
      let status = 429;
      while (status === 429) {
        await settle(20);
        status = (await post(port, '/v1/completions', SHORT)).status;
      }
      expect(status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it("with clientIdentity 'api-key', bearer tokens are the clients, whatever the address", async () => {
    const { app, port } = await serve({ maxQueuePerClient: 1, clientIdentity: 'api-key' });
    try {
      const a = { authorization: 'Bearer user-a' };
      const held = post(port, '/v1/completions', LONG, { headers: a });
      await untilInFlight(app, 1);
      expect((await post(port, '/v1/completions', SHORT, { headers: a, from: '127.0.0.3' })).status).toBe(429);
      expect((await post(port, '/v1/completions', SHORT, { headers: { authorization: 'Bearer user-b' } })).status).toBe(200);
      // No token: counted by address, apart from the token holders.
      expect((await post(port, '/v1/completions', SHORT)).status).toBe(200);
      expect((await held).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('counts its refusals in the Prometheus text; only callers past the API key are counted', async () => {
    const key = 'sk-limit-test';
    const { app, port } = await serve({ maxQueuePerClient: 1, apiKey: key });
    const auth = { authorization: `Bearer ${key}` };
    try {
      const held = post(port, '/v1/completions', LONG, { headers: auth });
      await untilInFlight(app, 1);
      for (let i = 0; i < 3; i++) expect((await post(port, '/v1/completions', SHORT, { headers: auth })).status).toBe(429);
      // Without the key: 401, not a 429, and no place taken.
      expect((await post(port, '/v1/completions', SHORT)).status).toBe(401);
      expect((await held).status).toBe(200);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: auth })).text();
      const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
      const full = families.get('attnode_client_queue_full_total');
      expect(full?.type).toBe('COUNTER');
      expect(Number(full!.metrics[0]!.value)).toBe(3);
      const requests = families.get('attnode_http_requests_total')!.metrics;
      expect(Number(requests.find((m) => m.labels?.route === '/v1/completions' && m.labels?.status === '429')?.value)).toBe(3);
    } finally {
      await app.close();
    }
  });

  it('refuses bad settings: a RangeError naming the option, a usage error naming the flag or variable', () => {
    const pool = createPool({ engineModule: FAKE, workers: 1 });
    try {
      for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createServer({ pool, maxQueuePerClient: bad })).toThrow(/'maxQueuePerClient' must be an integer >= 1/);
      expect(() => createServer({ pool, maxQueuePerClient: 1, clientIdentity: 'cookie' as 'address' })).toThrow(/'clientIdentity' must be one of address, api-key/);
    } finally {
      void pool.close();
    }
    const flag = spawnSync(process.execPath, [CLI, 'serve', '--max-queue-per-client', '0'], { encoding: 'utf8', timeout: 30_000 });
    expect(flag.status).not.toBe(0);
    expect(flag.stderr).toMatch(/--max-queue-per-client must be an integer >= 1, got '0'/);
    const env = spawnSync(process.execPath, [CLI, 'serve'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ATTNODE_MAX_QUEUE_PER_CLIENT: 'many' } });
    expect(env.status).not.toBe(0);
    expect(env.stderr).toMatch(/ATTNODE_MAX_QUEUE_PER_CLIENT\) must be an integer >= 1, got 'many'/);
    const by = spawnSync(process.execPath, [CLI, 'serve', '--client-by', 'cookie'], { encoding: 'utf8', timeout: 30_000 });
    expect(by.stderr).toMatch(/--client-by must be one of address, api-key, got 'cookie'/);
  });
});
