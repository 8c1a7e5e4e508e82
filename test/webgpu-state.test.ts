// Sequence state on the WebGPU device (ts/backend/webgpu/state.ts): pages of K/V rows in device
// buffers with a page table per sequence, read by attention through the table. Forks share pages
// copy-on-write, reorder and truncate move page tables, disposed states give their pages (and,
// last, the device buffers) back, and the budget says no with a RangeError. Logits after each of
// these equal a fresh recomputation on the same device.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { WebGPUStatePool } from '../ts/backend/webgpu/state.js';
import { DecoderLM } from '../ts/generate/decoder-lm.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { MODEL_FIXTURES as FIX, maxDiff } from './helpers/decoding.js';
import { mulberry32 } from './harness/rng.js';
import { TOL_MODEL_LOGITS_F32, TOL_MODEL_LOGITS_KV_F16 } from './harness/tolerance.js';

/** lavapipe compiles each pipeline with LLVM on first use. */
const SLOW = 300_000;

const gpu = await openWebGPU();
afterAll(() => gpu?.dispose());

function ids(n: number, seed: number, vocab: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(r() * vocab));
}

describe.skipIf(!HAS_WEBGPU)('webgpu sequence state', () => {
  const load = (o: { pageRows?: number; stateBudget?: number; kvDtype?: 'f32' | 'f16'; fixture?: string } = {}) =>
    loadModel(join(FIX, o.fixture ?? 'llama-tiny'), { kind: 'decoder', backend: gpu!, contextLength: 64, maxBatch: 4, pageRows: o.pageRows, stateBudget: o.stateBudget, kvDtype: o.kvDtype });
  const fresh = (model: DecoderModel, seq: number[]) => model.forward(seq);

  it('is the backend\'s own paged pool, with no host buffer of the rows', async () => {
    const model = await load({ pageRows: 8 });
    try {
      expect(model.states).toBeInstanceOf(WebGPUStatePool);
      const c = model.newCache();
      await model.forward(ids(20, 1, model.config.vocabSize), { cache: c });
      const { layers, kvHeads, headDim } = model.config;
      const s = model.stateStats();
      expect(s.pageRows).toBe(8);
      expect(s.pageBytes).toBe(8 * 2 * layers * kvHeads * headDim * 4);
      expect([c.length, c.pages, c.bytes]).toEqual([20, 3, 3 * s.pageBytes]);
      expect(s.pagesInUse).toBe(3);
      expect(s.bytesInUse).toBe(3 * s.pageBytes);
      // The state has no tensors for the executor to hand out: its rows exist only on the device.
      expect(c.state).not.toHaveProperty('k');
      expect(c.state).not.toHaveProperty('v');
      c.dispose();
    } finally {
      model.dispose();
    }
  }, SLOW);

  it('decodes across many small pages as a fresh recomputation does (f32 and f16 rows)', async () => {
    for (const [kvDtype, tol] of [['f32', TOL_MODEL_LOGITS_F32], ['f16', TOL_MODEL_LOGITS_KV_F16]] as const) {
      const model = await load({ pageRows: 4, kvDtype });
      try {
        const V = model.config.vocabSize;
        const seq = ids(30, 2, V);
        const c = model.newCache();
        // A prompt of 13 rows: four pages, the last one partly filled; then steps across pages.
        await model.forward(seq.slice(0, 13), { cache: c });
        for (let i = 13; i < 30; i++) {
          const got = await model.forward([seq[i]!], { cache: c });
          if (i % 4 === 0 || i === 29) expect(maxDiff(got, await fresh(model, seq.slice(0, i + 1)))).toBeLessThanOrEqual(tol);
        }
        expect([c.length, c.pages]).toEqual([30, 8]);
        c.dispose();
      } finally {
        model.dispose();
      }
    }
  }, SLOW);

  it('a fork shares every page, copies only a shared partial page on its first write, and decodes as a fresh recomputation', async () => {
    const model = await load({ pageRows: 8 });
    try {
      const V = model.config.vocabSize;
      const prompt = ids(20, 3, V); // 2 full pages + 4 rows
      const base = model.newCache();
      await model.forward(prompt, { cache: base });
      const s0 = model.stateStats();
      const forks = [0, 1, 2].map(() => base.fork());
      const s1 = model.stateStats();
      expect(s1.pagesInUse).toBe(s0.pagesInUse);
      expect(s1.pagesTaken).toBe(s0.pagesTaken);
      expect(forks.map((f) => [f.length, f.pages])).toEqual([[20, 3], [20, 3], [20, 3]]);
      for (const [i, f] of forks.entries()) {
        const next = [7 + i, 11 + i];
        const got = await model.forward(next, { cache: f });
        expect(maxDiff(got, await fresh(model, [...prompt, ...next]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      }
      // Each fork wrote into the shared partial page: one copy each, of a partial page.
      const s2 = model.stateStats();
      expect(s2.pagesCopied - s1.pagesCopied).toBe(3);
      expect(s2.fullPagesCopied - s1.fullPagesCopied).toBe(0);
      expect(s2.pagesInUse - s1.pagesInUse).toBe(3);
      // The parent is unchanged by its forks, and its own write copies nothing (its page is its own again).
      const parentNext = await model.forward([3], { cache: base });
      expect(maxDiff(parentNext, await fresh(model, [...prompt, 3]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      expect(model.stateStats().pagesCopied).toBe(s2.pagesCopied);
      // A fork of a fork, past a page boundary.
      const ff = forks[0]!.fork();
      const tail = ids(6, 4, V);
      const got = await model.forward(tail, { cache: ff });
      expect(maxDiff(got, await fresh(model, [...prompt, 7, 11, ...tail]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      for (const c of [base, ff, ...forks]) c.dispose();
    } finally {
      model.dispose();
    }
  }, SLOW);

  it('truncate rolls back: pages past the kept rows go back, and decoding after it equals a fresh recomputation', async () => {
    const model = await load({ pageRows: 8 });
    try {
      const V = model.config.vocabSize;
      const prompt = ids(30, 5, V);
      const c = model.newCache();
      await model.forward(prompt, { cache: c });
      expect(c.pages).toBe(4);
      c.truncate(12);
      expect([c.length, c.pages]).toEqual([12, 2]);
      expect(model.stateStats().pagesInUse).toBe(2);
      const got = await model.forward([9, 8], { cache: c });
      expect(maxDiff(got, await fresh(model, [...prompt.slice(0, 12), 9, 8]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      // Truncating a fork leaves its parent's rows alone.
      const f = c.fork();
      f.truncate(3);
      const back = await model.forward([1], { cache: f });
      expect(maxDiff(back, await fresh(model, [...prompt.slice(0, 3), 1]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      const more = await model.forward([5], { cache: c });
      expect(maxDiff(more, await fresh(model, [...prompt.slice(0, 12), 9, 8, 5]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      expect(() => c.truncate(99)).toThrow(/'length' must be an integer in \[0, 15\]/);
      c.truncate(0);
      expect([c.length, c.pages]).toEqual([0, 0]);
      f.dispose();
      c.dispose();
    } finally {
      model.dispose();
    }
  }, SLOW);

  it('reorder gives each beam its parent\'s rows, moving page tables without copying a full page', async () => {
    const model = await load({ pageRows: 8 });
    try {
      const V = model.config.vocabSize;
      const prompt = ids(13, 6, V);
      const beams = [0, 1, 2, 3].map(() => model.newCache());
      const seqs = beams.map((_, i) => [...prompt, 100 + i, ...(i === 3 ? [50] : [])]);
      for (const [i, b] of beams.entries()) await model.forward(seqs[i]!, { cache: b });
      const s0 = model.stateStats();
      // Beams 3 and 0 survive, twice each: lengths differ (15 and 14 rows).
      const parents = [3, 0, 3, 0];
      model.reorder(beams, parents);
      expect(model.stateStats().pagesTaken).toBe(s0.pagesTaken);
      expect(beams.map((b) => b.length)).toEqual([15, 14, 15, 14]);
      // Beams 1 and 2's pages went back; 0 and 3's are shared by two beams each.
      expect(model.stateStats().pagesInUse).toBe(4);
      const step = await model.forwardBatch(beams.map((cache, i) => ({ ids: [200 + i], cache })));
      const s1 = model.stateStats();
      expect(s1.fullPagesCopied - s0.fullPagesCopied).toBe(0);
      expect(s1.pagesCopied - s0.pagesCopied).toBeLessThanOrEqual(4);
      for (const [i, got] of step.entries()) {
        const want = await fresh(model, [...seqs[parents[i]!]!, 200 + i]);
        expect(maxDiff(got, want)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      }
      expect(() => model.reorder(beams, [0, 4, 0, 0])).toThrow(RangeError);
      for (const b of beams) b.dispose();
      expect(model.stateStats().pagesInUse).toBe(0);
      expect(() => model.reorder(beams, [0, 0, 0, 0])).toThrow(/disposed/);
    } finally {
      model.dispose();
    }
  }, SLOW);

  it('a disposed state gives its device memory back', async () => {
    const model = await load({ pageRows: 8, fixture: 'gpt2-tiny' });
    try {
      const V = model.config.vocabSize;
      const before = gpu!.stats();
      const a = model.newCache();
      const b = model.newCache();
      await model.forward(ids(20, 7, V), { cache: a });
      await model.forward(ids(9, 8, V), { cache: b });
      const held = gpu!.stats();
      expect(model.stateStats().bytesInUse).toBe(a.bytes + b.bytes);
      expect(held.stateBufferBytes).toBeGreaterThanOrEqual(a.bytes + b.bytes);
      const resident = held.residentBytes;
      const aBytes = a.bytes;
      a.dispose();
      expect(a.bytes).toBe(0);
      expect(model.stateStats().bytesInUse).toBe(b.bytes);
      expect(gpu!.stats().residentBytes).toBe(resident - aBytes);
      // The last state's pages go back, and so do the pool's buffers.
      b.dispose();
      expect(model.stateStats().pagesInUse).toBe(0);
      expect(gpu!.stats().stateBufferBytes).toBe(before.stateBufferBytes);
      await expect(model.forward([1], { cache: a })).rejects.toThrow(/cache was disposed/);
      expect(() => a.fork()).toThrow(/disposed/);
      // A new state after that starts again on new buffers.
      const c = model.newCache();
      const got = await model.forward([4, 5, 6], { cache: c });
      expect(maxDiff(got, await fresh(model, [4, 5, 6]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      c.dispose();
    } finally {
      model.dispose();
    }
  }, SLOW);

  it('a pass past the budget fails with a RangeError naming the budget, and leaves the cache as it was', async () => {
    // Another model of the same weights recomputes afresh: the small budget has no pages for it.
    const probe = await load({ pageRows: 8 });
    const pageBytes = probe.stateStats().pageBytes;
    const model = await load({ pageRows: 8, stateBudget: 3 * pageBytes });
    try {
      const V = model.config.vocabSize;
      expect(model.stateStats().budgetPages).toBe(3);
      const c = model.newCache();
      const prompt = ids(16, 9, V);
      await model.forward(prompt, { cache: c }); // two pages
      const err = await model.forward(ids(20, 10, V), { cache: c }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(/sequence-state budget of 3 pages \(\d+ bytes\) is in use: 2 pages held, 3 more needed; dispose finished sequences or raise the state budget/);
      expect([c.length, c.pages]).toEqual([16, 2]);
      expect(model.stateStats().pagesInUse).toBe(2);
      // Rows still there, and the one free page still usable.
      const got = await model.forward([1], { cache: c });
      expect(maxDiff(got, await fresh(probe, [...prompt, 1]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      // forward() without a cache needs pages too: none are left.
      await expect(model.forward(ids(9, 11, V))).rejects.toThrow(/sequence-state budget of 3 pages/);
      c.dispose();
      expect((await model.forward(ids(9, 11, V))).length).toBe(V);
    } finally {
      model.dispose();
      probe.dispose();
    }
    await expect(load({ pageRows: 8, stateBudget: pageBytes - 1 })).rejects.toThrow(/'budgetBytes' \(\d+\) is less than one page/);
  }, SLOW);
  it('shares whole prompt pages through the prefix cache, and gives cached pages up when the budget needs them', async () => {
    const model = await load({ pageRows: 8 });
    const V = model.config.vocabSize;
    try {
      expect(model.states.sharesPrefixes).toBe(true);
      const prefix = ids(24, 12, V);
      const a = Int32Array.from([...prefix, ...ids(5, 13, V)]);
      const b = Int32Array.from([...prefix, ...ids(7, 14, V)]);
      const ca = model.newCache();
      await model.forward(a, { cache: ca });
      model.publishPrefix(ca, a);
      const s0 = model.stateStats();
      expect(s0.prefixPages).toBe(3); // the fourth page (rows 24..28) is not full
      const cb = model.newCache();
      expect(model.attachPrefix(cb, b)).toBe(24);
      expect([cb.length, cb.pages]).toEqual([24, 3]);
      expect(model.stateStats().pagesTaken).toBe(s0.pagesTaken);
      const got = await model.forward(b.subarray(24), { cache: cb });
      expect(maxDiff(got, await fresh(model, [...b]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      expect(model.stateStats().prefixTokensReused).toBe(24);
      // The first sequence decodes on from the shared pages, unchanged by the second.
      const next = await model.forward([4], { cache: ca });
      expect(maxDiff(next, await fresh(model, [...a, 4]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      // A prompt that is exactly the prefix leaves its last page to run: 16 rows attached.
      const cc = model.newCache();
      expect(model.attachPrefix(cc, Int32Array.from(prefix))).toBe(16);
      expect(() => model.attachPrefix(ca, b)).toThrow(/must be empty/);
      for (const c of [ca, cb, cc]) c.dispose();
      // The cache alone holds its pages now; clearing it returns them.
      expect(model.stateStats().pagesInUse).toBe(3);
      model.states.clearPrefix();
      expect(model.stateStats()).toMatchObject({ pagesInUse: 0, prefixPages: 0 });
    } finally {
      model.dispose();
    }
    // Under a budget of 6 pages, a 41-row prompt takes the 3 cached pages that no sequence holds.
    const pageBytes = model.stateStats().pageBytes;
    const small = await load({ pageRows: 8, stateBudget: 6 * pageBytes });
    try {
      const p1 = Int32Array.from(ids(25, 15, V));
      const c1 = small.newCache();
      await small.forward(p1, { cache: c1 });
      small.publishPrefix(c1, p1);
      c1.dispose();
      expect(small.stateStats()).toMatchObject({ prefixPages: 3, pagesInUse: 3 });
      const c2 = small.newCache();
      await small.forward(ids(41, 16, V), { cache: c2 });
      expect(small.stateStats()).toMatchObject({ prefixPages: 0, pagesInUse: 6 });
      c2.dispose();
    } finally {
      small.dispose();
    }
  }, SLOW);
  it('DecoderLM runs only the suffix of a prompt whose prefix an earlier request left on the device', async () => {
    const model = await load({ pageRows: 8 });
    const lm = new DecoderLM(model, [], { maxBatchTokens: 64 });
    try {
      const V = model.config.vocabSize;
      const prefix = ids(32, 17, V);
      const a = Int32Array.from([...prefix, ...ids(3, 18, V)]);
      const b = Int32Array.from([...prefix, ...ids(5, 19, V)]);
      await lm.forward(a, lm.newCache());
      const before = lm.batchStats;
      const got = await lm.forward(b, lm.newCache());
      const after = lm.batchStats;
      expect(after.prefixTokens - before.prefixTokens).toBe(32);
      expect(after.tokens - before.tokens).toBe(5);
      expect(maxDiff(got, await model.forward([...b]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    } finally {
      lm.dispose();
      model.dispose();
    }
  }, SLOW);
  it('the workgroup-tiled attention (tiles: shared, the GPU variant) reads pages through the table too', async () => {
    const shared = (await openWebGPU({ tiles: 'shared' }))!;
    const model = await loadModel(join(FIX, 'llama-tiny'), { kind: 'decoder', backend: shared, contextLength: 64, pageRows: 4 });
    try {
      const V = model.config.vocabSize;
      const seq = ids(22, 20, V);
      const c = model.newCache();
      await model.forward(seq.slice(0, 13), { cache: c });
      const f = c.fork();
      for (let i = 13; i < 22; i++) await model.forward([seq[i]!], { cache: f });
      const got = await model.forward([7], { cache: f });
      expect(maxDiff(got, await model.forward([...seq, 7]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      f.dispose();
      c.dispose();
    } finally {
      model.dispose();
      shared.dispose();
    }
  }, SLOW);
});
