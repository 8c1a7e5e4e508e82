// Moving memory away from running native work: a typed array's ArrayBuffer transferred or
// detached while an async op, a batch or a model pass reads or writes it. Async ops work on
// native copies of detachable buffers (native/src/staging.h), so the op still computes from
// what it was given, and an output whose buffer went away fails the call with an error that
// says so; compiled passes use SharedArrayBuffers and native pages, which cannot be moved.
// Each case must leave the process healthy: the next op runs and is right.
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../ts/native.js';
import { loadModel } from '../ts/models/model.js';

const addon = loadAddon();
const FIX = join(import.meta.dirname, 'fixtures', 'models');
const t = (data: Float32Array, shape: number[]) => ({ dtype: 'f32', shape, data });
const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
const N = 1 << 20;

function ramp(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ((i % 1000) - 500) / 100;
  return a;
}

/** Moves `buf` away the two ways JavaScript can: a transfer list, or a port's postMessage. */
const moves: Array<[string, (buf: ArrayBuffer) => void]> = [
  ['structuredClone transfer', (buf) => void structuredClone(buf, { transfer: [buf] })],
  [
    'postMessage transfer',
    (buf) => {
      const { port1, port2 } = new MessageChannel();
      port1.postMessage(buf, [buf]);
      port1.close();
      port2.close();
    },
  ],
];

describe('buffers moved while async native work runs', () => {
  for (const [how, move] of moves) {
    it(`an input moved mid-op (${how}): the op computes from what it was given`, async () => {
      const x = ramp(N);
      const want = Float32Array.from(x, gelu);
      const out = new Float32Array(N);
      const pending = addon.opAsync('gelu', { x: t(x, [N]), out: t(out, [N]) });
      move(x.buffer as ArrayBuffer);
      expect(x.byteLength).toBe(0); // detached
      await pending;
      for (const i of [0, 1, 12345, N - 1]) expect(out[i]).toBeCloseTo(want[i]!, 3);
    });

    it(`an output moved mid-op (${how}): the call fails naming it, and the process is fine`, async () => {
      const x = ramp(N);
      const out = new Float32Array(N);
      const pending = addon.opAsync('gelu', { x: t(x, [N]), out: t(out, [N]) });
      move(out.buffer as ArrayBuffer);
      await expect(pending).rejects.toThrow(/an output's ArrayBuffer was detached, transferred or resized while the op ran/);
      const again = new Float32Array(N);
      await addon.opAsync('gelu', { x: t(x, [N]), out: t(again, [N]) });
      expect(again[7]).toBeCloseTo(gelu(x[7]!), 5);
    });
  }

  it('a batch whose later op reads an earlier op output sees it, and moving both mid-batch is safe', async () => {
    const x = ramp(N);
    const mid = new Float32Array(N);
    const out = new Float32Array(N);
    const pending = addon.opsAsync([
      { op: 'gelu', args: { x: t(x, [N]), out: t(mid, [N]) } },
      { op: 'gelu', args: { x: t(mid, [N]), out: t(out, [N]) } },
    ]);
    structuredClone(x.buffer, { transfer: [x.buffer as ArrayBuffer] });
    await pending;
    const v = ((7 % 1000) - 500) / 100;
    expect(mid[7]).toBeCloseTo(gelu(v), 5);
    expect(out[7]).toBeCloseTo(gelu(gelu(v)), 5);
  });

  it('an output that is a view of a larger buffer is copied back into its range only', async () => {
    const buf = new Float32Array(3 * 1024).fill(-7);
    const x = ramp(1024);
    const out = buf.subarray(1024, 2048);
    const pending = addon.opAsync('gelu', { x: t(x, [1024]), out: t(out, [1024]) });
    buf[0] = 42; // JavaScript writes elsewhere in the same buffer while the op runs
    await pending;
    expect(buf[0]).toBe(42);
    expect(buf[2048]).toBe(-7);
    expect(out[3]).toBeCloseTo(gelu(x[3]!), 5);
  });

  it('SharedArrayBuffer storage is used in place: it cannot be moved', async () => {
    const x = new Float32Array(new SharedArrayBuffer(4 * 1024));
    x.set(ramp(1024));
    const out = new Float32Array(new SharedArrayBuffer(4 * 1024));
    const pending = addon.opAsync('gelu', { x: t(x, [1024]), out: t(out, [1024]) });
    expect(() => structuredClone(x.buffer, { transfer: [x.buffer as unknown as ArrayBuffer] })).toThrow();
    await pending;
    expect(out[5]).toBeCloseTo(gelu(x[5]!), 5);
  });

  it('a model pass survives its caller moving the ids and the logits it was given back', async () => {
    const model = await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder' });
    const ids = Int32Array.of(1, 2, 3, 4);
    const cache = model.newCache();
    const pending = model.forward(ids, { cache });
    structuredClone(ids.buffer, { transfer: [ids.buffer] });
    const logits = await pending;
    structuredClone(logits.buffer, { transfer: [logits.buffer as ArrayBuffer] });
    const next = await model.forward([5], { cache });
    const fresh = await model.forward([1, 2, 3, 4, 5]);
    expect(Math.max(...next.map((v, i) => Math.abs(v - fresh[i]!)))).toBeLessThan(1e-4);
    model.dispose();
  });
});
