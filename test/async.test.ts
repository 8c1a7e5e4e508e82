// Async native ops run off the main thread, shown by where each kernel ran (the addon counts its
// kernel runs by thread), not by timing the machine; and the typed arrays they read stay alive
// while they run, even when the caller drops every reference and the collector runs.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../ts/native.js';
import { LanguageModel } from '../ts/generate/model.js';

const addon = loadAddon();
const f32 = (n: number, fill = 0) => ({ dtype: 'f32', shape: [n], data: new Float32Array(n).fill(fill) });
const delta = (a: { jsThread: number; otherThreads: number }, b: { jsThread: number; otherThreads: number }) => ({
  jsThread: b.jsThread - a.jsThread,
  otherThreads: b.otherThreads - a.otherThreads,
});

describe('async native ops', () => {
  it('run their kernels off the JavaScript thread; the sync path, the control, runs on it', async () => {
    const x = f32(1 << 16, 0.5);
    const t0 = addon.kernelThreads();
    addon.op('gelu', { x, out: f32(1 << 16) });
    const t1 = addon.kernelThreads();
    expect(delta(t0, t1)).toEqual({ jsThread: 1, otherThreads: 0 });
    const out = f32(1 << 16);
    const pending = Array.from({ length: 10 }, () => addon.opAsync('gelu', { x, out }));
    // Submitting ran nothing here; the kernels ran, all ten, on another thread.
    expect(addon.kernelThreads().jsThread).toBe(t1.jsThread);
    await Promise.all(pending);
    await addon.opsAsync([{ op: 'gelu', args: { x, out } }, { op: 'scale', args: { x: out, s: 2, out } }]);
    expect(delta(t1, addon.kernelThreads())).toEqual({ jsThread: 0, otherThreads: 11 });
    expect(out.data[0]).toBeCloseTo(2 * 0.3457, 3);
  });

  it('a model request runs every forward pass and every sampling step off the JavaScript thread', async () => {
    const lm = await LanguageModel.load(); // the bundled default model
    try {
      const t0 = addon.kernelThreads();
      const r = await lm.generate([1, 2, 3], { maxTokens: 8, temperature: 0.8, seed: 3, ignoreEos: true });
      expect(r.ids).toHaveLength(8);
      // One compiled pass per forward call (the prompt, then each token but the last) and one
      // 'sample' op per token, all on the dispatch thread; none on the caller's thread.
      expect(delta(t0, addon.kernelThreads())).toEqual({ jsThread: 0, otherThreads: 16 });
    } finally {
      lm.dispose();
    }
  });

  it('keeps inputs alive while the kernel runs, and lets them go after it settles', () => {
    // In a child process with --expose-gc, so that gc() really collects (vitest's forks have no gc).
    // A long op first keeps the second one queued while its only input is unreachable from
    // JavaScript and the collector runs; a FinalizationRegistry says when the input was collected.
    const script = `
      const { loadAddon } = await import(${JSON.stringify(new URL('../dist/native.js', import.meta.url).href)});
      const addon = loadAddon();
      let collected = false;
      const registry = new FinalizationRegistry(() => { collected = true; });
      const n = 1 << 22;
      const big = { dtype: 'f32', shape: [1 << 24], data: new Float32Array(1 << 24) };
      const first = addon.opAsync('gelu', { x: big, out: big });
      const out = { dtype: 'f32', shape: [n], data: new Float32Array(n) };
      const p = (() => {
        const x = new Float32Array(n).fill(3);
        registry.register(x, 'x');
        return addon.opAsync('scale', { x: { dtype: 'f32', shape: [n], data: x }, s: 2, out });
      })();
      let collectedBeforeSettle;
      const settled = p.then(() => { collectedBeforeSettle = collected; });
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); }
      await first;
      await settled;
      const right = out.data.every((v) => v === 6);
      for (let i = 0; i < 50 && !collected; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      console.log(JSON.stringify({ collectedBeforeSettle, right, collectedAfter: collected }));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ collectedBeforeSettle: false, right: true, collectedAfter: true });
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
    // A 1024^3 matmul (2 GFLOP, tens of ms on these cores) leaves a window that a main thread
    // preempted by the kernel's own threads still meets; an element-wise op was too quick.
    const n = 1024;
    const sq = () => ({ dtype: 'f32', shape: [n, n], data: new Float32Array(new SharedArrayBuffer(n * n * 4)) });
    const first = addon.opAsync('matmul', { a: sq(), b: sq(), out: sq() });
    // SharedArrayBuffer memory is read in place (a plain ArrayBuffer's would be a staged copy,
    // taken when the op was validated), so it can change behind the validator's back.
    const ids = new Int32Array(new SharedArrayBuffer(8));
    ids.set([0, 1]);
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

