// The pool and `attnode serve` with the real default model: seeded results identical alone and
// concurrently, a bounded loopback load test (with and without clients that disconnect
// mid-stream), and no kernel on the main thread under full load (its event-loop delay is
// measured in bench/suites/event-loop.ts, against a blocking control, not asserted here).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';
import { createServer } from '../dist/server/server.js';
import { loadAddon } from '../dist/native.js';

let pool: InferencePool;
let app: ReturnType<typeof createServer>;
let base: string;

beforeAll(async () => {
  pool = createPool({ workers: 2, threadsPerWorker: 1, maxBatch: 16 });
  app = createServer({ pool, modelName: 'default' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app.close();
});

/** One streamed completion; `disconnectAfter` closes the socket after that many events. */
function streamed(prompt: string, disconnectAfter?: number): Promise<{ ok: boolean; disconnected: boolean }> {
  return new Promise((resolve) => {
    const req = http.request(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      let events = 0;
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        events = body.split('\n\n').length - 1;
        if (disconnectAfter !== undefined && events >= disconnectAfter) {
          req.destroy();
          resolve({ ok: true, disconnected: true });
        }
      });
      res.on('end', () => {
        const frames = body.split('\n\n').filter((e) => e.length);
        const wellFormed =
          res.statusCode === 200 && frames.every((f) => f.startsWith('data: ')) && frames.at(-1) === 'data: [DONE]' &&
          frames.slice(0, -1).every((f) => {
            const j = JSON.parse(f.slice(6)) as { choices?: unknown[] };
            return Array.isArray(j.choices);
          });
        resolve({ ok: wellFormed, disconnected: false });
      });
    });
    req.on('error', () => resolve({ ok: disconnectAfter !== undefined, disconnected: true }));
    // A client that will disconnect asks for many tokens, so that its request is still running
    // when the server sees the socket close (with 8 it could finish first and count as completed).
    const long = disconnectAfter !== undefined ? { max_tokens: 512, ignore_eos: true } : { max_tokens: 8 };
    req.end(JSON.stringify({ prompt, ...long, stream: true, temperature: 0.8, seed: 7 }));
  });
}

async function load(total: number, clients: number, disconnectEvery?: number) {
  let next = 0;
  const results: Array<{ ok: boolean; disconnected: boolean }> = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        results.push(await streamed(`Fortune number ${i} says`, disconnectEvery && i % disconnectEvery === 0 ? 2 : undefined));
      }
    }),
  );
  return results;
}

describe('serving the default model', () => {
  it('gives identical seeded results alone and among concurrent requests batched together', async () => {
    const alone = await pool.generate('The secret of life is', { maxTokens: 12, seed: 5, temperature: 0.9 });
    const before = pool.metrics().batch;
    const together = await Promise.all(
      Array.from({ length: 6 }, (_, i) => pool.generate(i % 2 ? 'A computer is' : 'The secret of life is', { maxTokens: 12, seed: 5, temperature: 0.9 })),
    );
    expect(alone.ids.length).toBeGreaterThan(0);
    for (const r of [together[0]!, together[2]!, together[4]!]) expect(r.ids).toEqual(alone.ids);
    // The concurrent requests shared forward passes (two workers, so at least two passes per step).
    const after = pool.metrics().batch;
    const sequences = after.meanSequences * after.passes - before.meanSequences * before.passes;
    // One forward call per generated token; one more after the last token only when it was end-of-text.
    expect(Math.round(sequences)).toBe(together.reduce((a, r) => a + r.ids.length + (r.finishReason === 'eos' ? 1 : 0), 0));
    expect(sequences / (after.passes - before.passes)).toBeGreaterThan(1);
  });

  it('200 streamed requests from 32 clients: none lost, none failed, every stream well-formed', async () => {
    const before = pool.metrics();
    const results = await load(200, 32);
    expect(results).toHaveLength(200);
    expect(results.filter((r) => r.ok)).toHaveLength(200);
    const m = pool.metrics();
    expect(m.completed - before.completed).toBe(200);
    expect(m.failed).toBe(before.failed);
  }, 300_000);

  it('runs no kernel on the main thread while the pool generates at full load', async () => {
    await pool.generate('warm up', { maxTokens: 2 });
    pool.resetEventLoopDelay();
    // The addon counts this thread's kernel runs by the thread they ran on: the workers' passes
    // and sampling are counted in their own environments, so here both must stay unchanged.
    const before = loadAddon().kernelThreads();
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => pool.generate(`Fortune ${i}:`, { maxTokens: 24, seed: i })));
    expect(results.every((r) => ['length', 'eos', 'stop'].includes(r.finishReason))).toBe(true);
    expect(results.reduce((a, r) => a + r.ids.length, 0)).toBeGreaterThan(64 * 8);
    const m = pool.metrics();
    console.log(`event-loop delay at full load: p50 ${m.eventLoopDelayMs.p50.toFixed(2)} ms, p99 ${m.eventLoopDelayMs.p99.toFixed(2)} ms, max ${m.eventLoopDelayMs.max.toFixed(2)} ms; ${m.tokensPerSecond.toFixed(0)} tok/s`);
    expect(loadAddon().kernelThreads()).toEqual(before);
  }, 300_000);

  it('with 10% of clients disconnecting mid-stream, their work is cancelled and the rest unaffected', async () => {
    const before = pool.metrics();
    const results = await load(200, 32, 10);
    const dropped = results.filter((r) => r.disconnected);
    expect(dropped).toHaveLength(20);
    expect(results.filter((r) => !r.disconnected && r.ok)).toHaveLength(180);
    for (let i = 0; i < 100 && pool.metrics().cancelled - before.cancelled < 20; i++) await new Promise((r) => setTimeout(r, 50));
    const m = pool.metrics();
    expect(m.cancelled - before.cancelled).toBe(20);
    expect(m.completed - before.completed).toBe(180);
    expect(m.failed).toBe(before.failed);
  }, 300_000);
});
