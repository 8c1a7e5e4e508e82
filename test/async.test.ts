// Async native ops run off the main thread: timers keep firing while a long kernel runs, and
// the typed arrays stay alive even when the caller drops every reference.
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../ts/native.js';

const addon = loadAddon();

describe('async native ops', () => {
  it('do not block the event loop', async () => {
    addon.setThreads(1);
    try {
      // Size the work so that one call takes at least ~150 ms on this machine.
      let n = 1 << 20;
      for (;;) {
        const x = { dtype: 'f32', shape: [n], data: new Float32Array(n).fill(0.5) };
        const t0 = performance.now();
        addon.op('gelu', { x, out: x });
        if (performance.now() - t0 > 15 || n >= 1 << 27) break;
        n *= 2;
      }
      const x = { dtype: 'f32', shape: [n], data: new Float32Array(n).fill(0.5) };
      const out = { dtype: 'f32', shape: [n], data: new Float32Array(n) };
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const t0 = performance.now();
      let ticksWhileRunning = 0;
      const done = (async () => {
        for (let i = 0; i < 10; i++) await addon.opAsync('gelu', { x, out });
        ticksWhileRunning = ticks;
      })();
      await done;
      clearInterval(timer);
      const elapsed = performance.now() - t0;
      expect(elapsed).toBeGreaterThan(50);
      // A blocked loop would see at most one tick per op; a free one ticks many times.
      expect(ticksWhileRunning).toBeGreaterThan(20);
      expect(out.data[0]).toBeCloseTo(0.3457, 3);
    } finally {
      addon.setThreads(loadAddon().cpuInfo().cores);
    }
  });

  it('keeps inputs alive while the kernel runs', async () => {
    const n = 1 << 22;
    const out = { dtype: 'f32', shape: [n], data: new Float32Array(n) };
    const p = addon.opAsync('scale', { x: { dtype: 'f32', shape: [n], data: new Float32Array(n).fill(3) }, s: 2, out });
    (globalThis as { gc?: () => void }).gc?.();
    await p;
    expect(out.data[n - 1]).toBe(6);
  });

  it('runs many ops in flight at once, each with its own arrays', async () => {
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) => {
        const x = { dtype: 'f32', shape: [1000], data: new Float32Array(1000).fill(i) };
        const out = { dtype: 'f32', shape: [1000], data: new Float32Array(1000) };
        return addon.opAsync('scale', { x, s: 2, out }).then(() => out.data[999]);
      }),
    );
    expect(results).toEqual(Array.from({ length: 32 }, (_, i) => 2 * i));
  });

  it('rejects the Promise, without crashing, when shared inputs turn invalid before the kernel runs', async () => {
    // Jobs run in order on the addon's dispatch thread: a long op first keeps the embedding
    // queued while its ids are changed to an out-of-range value behind the validator's back.
    const n = 1 << 23;
    const big = { dtype: 'f32', shape: [n], data: new Float32Array(n) };
    const first = addon.opAsync('gelu', { x: big, out: big });
    const ids = new Int32Array([0, 1]);
    const lookup = addon.opAsync('embedding', {
      table: { dtype: 'f32', shape: [2, 3], data: new Float32Array(6) },
      ids: { dtype: 'i32', shape: [2], data: ids },
      out: { dtype: 'f32', shape: [2, 3], data: new Float32Array(6) },
    });
    ids[1] = 1_000_000;
    await first;
    await expect(lookup).rejects.toThrow(/^embedding: .*check failed/);
  });
});

