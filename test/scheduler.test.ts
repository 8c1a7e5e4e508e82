// The scheduler: a Piscina pool with a bounded priority queue, cancellation, timeouts, fault
// isolation and clean shutdown, exercised with a deterministic stand-in engine.
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
// The compiled pool (dist/, built by the global setup): its workers load JavaScript.
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';
import { PoolClosedError, QueueFullError, RequestTimeoutError, WorkerCrashedError } from '../dist/scheduler/errors.js';

const engineModule = new URL('./fixtures/fake-engine.mjs', import.meta.url);
const pools: InferencePool[] = [];
function pool(options: Parameters<typeof createPool>[0] = {}): InferencePool {
  const p = createPool({ engineModule, threadsPerWorker: 1, ...options });
  pools.push(p);
  return p;
}
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close({ mode: 'cancel' })));
});

describe('scheduler pool', () => {
  it('gives the same result for a seed alone, concurrently and batched', async () => {
    const p = pool({ workers: 2, maxBatch: 4 });
    const alone = await p.generate('hello', { seed: 7, maxTokens: 12 });
    const many = await Promise.all(Array.from({ length: 9 }, (_, i) => p.generate(i % 3 === 0 ? 'hello' : `other ${i}`, { seed: 7, maxTokens: 12 })));
    expect(alone.ids).toHaveLength(12);
    expect(alone.finishReason).toBe('length');
    for (const i of [0, 3, 6]) expect(many[i]!.ids).toEqual(alone.ids);
    expect(many[1]!.ids).not.toEqual(alone.ids);
  });

  it('runs concurrent sequences in one batch per step', async () => {
    const p = pool({ workers: 1, maxBatch: 8 });
    const results = await Promise.all(Array.from({ length: 6 }, () => p.generate('__batch__', { maxTokens: 4 })));
    expect(Math.max(...results.map((r) => Number(r.text.trim().split(' ').at(-1)!.slice(1))))).toBeGreaterThanOrEqual(6);
    // The engine's passes reach the pool's metrics: 24 sequence steps in fewer passes.
    const { batch } = p.metrics();
    expect(batch.histogram.reduce((a, n) => a + n, 0)).toBe(batch.passes);
    expect(batch.histogram.reduce((a, n, size) => a + n * size, 0)).toBe(24);
    expect(batch.meanSequences * batch.passes).toBeCloseTo(24, 9);
    expect(batch.histogram[6]).toBeGreaterThan(0);
    expect(batch.meanSequences).toBeGreaterThan(1);
  });

  it('streams chunks whose text adds up to the result', async () => {
    const p = pool();
    const s = p.stream('stream me', { seed: 1, maxTokens: 10 });
    const chunks: string[] = [];
    for await (const c of s) chunks.push(c.text);
    const r = await s.result;
    expect(chunks).toHaveLength(10);
    expect(chunks.join('')).toBe(r.text);
  });

  it('rejects with QueueFullError beyond maxQueue, and serves the rest', async () => {
    const p = pool({ workers: 1, maxBatch: 1, maxQueue: 2, engineOptions: { stepMs: 5 } });
    const accepted = [p.generate('a', { maxTokens: 5 }), p.generate('b', { maxTokens: 5 }), p.generate('c', { maxTokens: 5 })];
    await expect(p.generate('d')).rejects.toBeInstanceOf(QueueFullError);
    expect((await Promise.all(accepted)).map((r) => r.finishReason)).toEqual(['length', 'length', 'length']);
    expect(p.metrics().rejected).toBe(1);
  });

  it('starts higher priority first and never starves low priority', async () => {
    const p = pool({ workers: 1, maxBatch: 1, agingMs: 60_000 });
    const order: string[] = [];
    const run = (name: string, priority: number) => p.generate(name, { maxTokens: 3, priority }).then(() => order.push(name));
    const first = run('running', 0);
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([first, run('low', -1), run('normal', 0), run('high', 5)]);
    expect(order).toEqual(['running', 'high', 'normal', 'low']);
  });

  it('aborts queued and running requests promptly with finishReason aborted', async () => {
    const p = pool({ workers: 1, maxBatch: 1, engineOptions: { stepMs: 20 } });
    const running = new AbortController();
    const queued = new AbortController();
    const stream = p.stream('long', { maxTokens: 1000, signal: running.signal });
    const b = p.generate('queued', { maxTokens: 1000, signal: queued.signal });
    queued.abort();
    expect((await b).finishReason).toBe('aborted');
    // Abort once three tokens have arrived, and keep reading (breaking out would cancel by itself).
    let seen = 0;
    let atAbort = 0;
    for await (const _chunk of stream) {
      if (++seen === 3) {
        atAbort = seen;
        running.abort();
      }
    }
    const r = await stream.result;
    expect(r.finishReason).toBe('aborted');
    // Promptly means in steps, not milliseconds: past the tokens already read, at most the one
    // already on its way and the one step the worker may begin before the cancel reaches it.
    expect(atAbort).toBe(3);
    expect(r.ids.length).toBeGreaterThanOrEqual(3);
    expect(r.ids.length).toBeLessThanOrEqual(atAbort + 2);
    expect(seen).toBe(r.ids.length);
    const already = new AbortController();
    already.abort();
    expect((await p.generate('x', { signal: already.signal })).finishReason).toBe('aborted');
  });

  it('breaking out of a stream cancels its request', async () => {
    const p = pool({ workers: 1, maxBatch: 1, engineOptions: { stepMs: 5 } });
    const s = p.stream('endless', { maxTokens: 100_000 });
    let n = 0;
    for await (const _chunk of s) if (++n === 3) break;
    expect((await s.result).finishReason).toBe('aborted');
    expect((await p.generate('next', { maxTokens: 2 })).finishReason).toBe('length');
  });

  it('times out with RequestTimeoutError carrying the partial text', async () => {
    const p = pool({ engineOptions: { stepMs: 10 } });
    await p.generate('warm up', { maxTokens: 1 });
    const err = await p.generate('slow', { maxTokens: 10_000, timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect((err as RequestTimeoutError).partialText.length).toBeGreaterThan(0);
  });

  it('a crashing worker fails only its own requests and is replaced', async () => {
    const p = pool({ workers: 2, maxBatch: 1 });
    const [crashed, fine] = await Promise.allSettled([p.generate('__crash__', { maxTokens: 5 }), p.generate('fine', { maxTokens: 5 })]);
    expect(crashed.status).toBe('rejected');
    expect((crashed as PromiseRejectedResult).reason).toBeInstanceOf(WorkerCrashedError);
    expect(fine.status).toBe('fulfilled');
    const after = await Promise.all(Array.from({ length: 4 }, (_, i) => p.generate(`after ${i}`, { maxTokens: 3 })));
    expect(after.every((r) => r.finishReason === 'length')).toBe(true);
    const m = p.metrics();
    expect(m.failed).toBe(1);
    expect(m.completed).toBeGreaterThanOrEqual(5);
  });

  it('close() drains, then rejects new requests', async () => {
    const p = pool();
    const inflight = p.generate('finish me', { maxTokens: 20 });
    const closed = p.close();
    await expect(p.generate('late')).rejects.toBeInstanceOf(PoolClosedError);
    expect((await inflight).finishReason).toBe('length');
    await closed;
  });

  it('close({ mode: cancel }) rejects waiting requests and stops running ones', async () => {
    const p = pool({ workers: 1, maxBatch: 1, engineOptions: { stepMs: 20 } });
    const running = p.generate('r', { maxTokens: 10_000 });
    const waiting = p.generate('w', { maxTokens: 5 });
    await new Promise((r) => setTimeout(r, 30));
    const waitingOutcome = waiting.catch((e: unknown) => e);
    await p.close({ mode: 'cancel' });
    expect((await running).finishReason).toBe('aborted');
    expect(await waitingOutcome).toBeInstanceOf(PoolClosedError);
  });

  it('validates options with clear errors', async () => {
    expect(() => createPool({ workers: 0 })).toThrow(/'workers' must be an integer/);
    expect(() => createPool({ maxBatch: 1.5 })).toThrow(/'maxBatch'/);
    expect(() => createPool({ maxBatchTokens: 0 })).toThrow(/createPool: 'maxBatchTokens' must be an integer >= 1/);
    expect(() => createPool({ batching: 1 as unknown as boolean })).toThrow(/createPool: 'batching' must be a boolean/);
    expect(() => createPool({ worker: 2 } as never)).toThrow(TypeError);
    expect(() => createPool({ worker: 2 } as never)).toThrow(/^createPool: unknown option 'worker'; did you mean 'workers'\?/);
    expect(() => createPool({ maxTokens: 8 } as never)).toThrow(/createPool: 'maxTokens' is a request option/);
    const p = pool();
    await expect(p.generate('x', { priority: Number.NaN })).rejects.toThrow(/'priority'/);
    await expect(p.generate(42 as unknown as string)).rejects.toThrow(/'prompt' must be a string/);
  });

  it('reports metrics under load', async () => {
    const p = pool({ workers: 2, maxBatch: 8, engineOptions: { stepMs: 1 } });
    await Promise.all([p.generate('warm', { maxTokens: 1 }), p.generate('up', { maxTokens: 1 })]);
    p.resetEventLoopDelay();
    await Promise.all(Array.from({ length: 64 }, (_, i) => p.generate(`load ${i}`, { maxTokens: 32 })));
    const m = p.metrics();
    expect(m.completed).toBe(66);
    expect(m.tokensPerSecond).toBeGreaterThan(0);
    expect(m.timeToFirstTokenMs.count).toBe(66);
    // The delay itself is measured in bench/suites/event-loop.ts (against a blocking control), not
    // asserted here, where other test files share the cores.
    expect(m.eventLoopDelayMs.p50).toBeGreaterThanOrEqual(0);
    expect(m.eventLoopDelayMs.p99).toBeGreaterThanOrEqual(m.eventLoopDelayMs.p50);
    expect(m.eventLoopDelayMs.max).toBeGreaterThanOrEqual(m.eventLoopDelayMs.p99);
    expect(Number.isFinite(m.eventLoopDelayMs.max)).toBe(true);
    expect(m.queueDepth).toBe(0);
    expect(m.activeSequences).toBe(0);
  });

  it('leaves no handles open: a process that closes its pool exits on its own', () => {
    const script = `
      import { createPool } from ${JSON.stringify(new URL('../dist/scheduler/pool.js', import.meta.url).href)};
      const p = createPool({ engineModule: new URL(${JSON.stringify(engineModule.href)}), threadsPerWorker: 1, workers: 2 });
      const r = await Promise.all([p.generate('a', { maxTokens: 3 }), p.generate('b', { maxTokens: 3 })]);
      await p.close();
      console.log('closed', r.length);
    `;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe('closed 2');
    expect(out.status).toBe(0);
  });
});
