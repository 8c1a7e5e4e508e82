// Sequence state owned by the backend (native/src/state.h): pages taken on demand and returned
// on dispose, bytes in use equal pages x page size, fork shares pages copy-on-write, reorder
// (beam selection) moves page tables, truncate rolls back, the budget says no with an error,
// and the prefix cache lets a second prompt run only its suffix. Logits after each of these
// equal a fresh recomputation.
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../ts/native.js';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { DecoderLM } from '../ts/generate/decoder-lm.js';
import { mulberry32 } from './harness/rng.js';
import { TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const addon = loadAddon();

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const tol = (_ref: Float32Array) => TOL_MODEL_LOGITS_F32;

// llama-tiny's weights with a 1024-position config (rotary positions: nothing else changes), so
// sequences of 512 tokens and more fit.
const LONG = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'attnode-state-'));
  const src = join(FIX, 'llama-tiny');
  const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, max_position_embeddings: 1024 }));
  copyFileSync(join(src, 'generation_config.json'), join(dir, 'generation_config.json'));
  symlinkSync(join(src, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
})();

function ids(n: number, seed: number, vocab: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(r() * vocab));
}

describe('paged sequence state: memory', () => {
  // GPT-2 124M's state layout: 12 layers, 12 heads of 64, f32.
  const layout = { layers: 12, kvHeads: 12, headDim: 64, dtype: 'f32' as const };
  const C = layout.kvHeads * layout.headDim;
  const SEQS = 64;
  const ROWS = 32;

  it('64 sequences of 32 tokens hold page-rounded rows for their 32 tokens, not their capacity', async () => {
    const pageRows = 16;
    const pool = addon.statePool({ ...layout, pageRows, budgetBytes: 2 ** 33 });
    // One pass writes every segment's new rows into every layer's K and V.
    const x = new Float32Array(new SharedArrayBuffer(SEQS * ROWS * C * 4));
    x.forEach((_, i) => (x[i] = (i % 97) / 97));
    const steps = [];
    for (let l = 0; l < layout.layers; l++)
      for (const which of ['k', 'v'])
        steps.push({ op: 'cast', perSegment: true, args: { x: { slot: 0, shape: ['T', C] }, out: { cache: which, layer: l, rows: 'new', shape: ['T', C] } } });
    const program = addon.compile({ slots: [x], layers: layout.layers, steps });
    const states = Array.from({ length: SEQS }, () => pool.create());
    const seg = new Int32Array(SEQS * 2).map((_, i) => (i % 2 === 0 ? ROWS : 0));
    await program.run(seg, states);
    const s = pool.stats();
    const pagesPerSeq = Math.ceil(ROWS / pageRows);
    const rowBytes = 2 * layout.layers * C * 4;
    expect(s.pageBytes).toBe(pageRows * rowBytes);
    expect(s.pagesInUse).toBe(SEQS * pagesPerSeq);
    expect(s.bytesInUse).toBe(s.pagesInUse * s.pageBytes);
    for (const st of states) {
      expect(st.length).toBe(ROWS);
      expect(st.bytes).toBe(pagesPerSeq * s.pageBytes);
    }
    // 1024 rows of capacity per sequence would be 32x this.
    expect(s.bytesInUse * (1024 / ROWS)).toBe(SEQS * 1024 * rowBytes);
    // A sequence growing by one row past its pages takes one page, and disposing returns them at once.
    await program.run(new Int32Array([1, ROWS]), [states[0]!]);
    expect(pool.stats().pagesInUse).toBe(SEQS * pagesPerSeq + 1);
    for (const st of states) st.dispose();
    expect(pool.stats().pagesInUse).toBe(0);
    expect(pool.stats().peakPages).toBe(SEQS * pagesPerSeq + 1);
    program.dispose();
    pool.dispose();
  });

  it('says no with a RangeError when a pass would exceed the budget, and the state stays usable', async () => {
    const desc = { layers: 1, kvHeads: 1, headDim: 8, dtype: 'f32' as const, pageRows: 4 };
    // Pages are whole system pages (mmap): read the size rather than assume it.
    const probe = addon.statePool({ ...desc, budgetBytes: 1 << 20 });
    const pageBytes = probe.stats().pageBytes;
    probe.dispose();
    const pool = addon.statePool({ ...desc, budgetBytes: 3 * pageBytes });
    const x = new Float32Array(new SharedArrayBuffer(64 * 8 * 4));
    const program = addon.compile({
      slots: [x], layers: 1,
      steps: [{ op: 'cast', perSegment: true, args: { x: { slot: 0, shape: ['T', 8] }, out: { cache: 'k', layer: 0, rows: 'new', shape: ['T', 8] } } }],
    });
    const a = pool.create();
    await program.run(new Int32Array([12, 0]), [a]); // three pages: the whole budget
    const b = pool.create();
    expect(() => program.run(new Int32Array([1, 0]), [b])).toThrow(/sequence-state budget of 3 pages .* is in use; dispose finished sequences or raise the state budget/);
    expect(b.length).toBe(0);
    a.truncate(4); // two pages back
    expect(pool.stats().pagesInUse).toBe(1);
    await program.run(new Int32Array([1, 0]), [b]);
    expect(b.length).toBe(1);
    expect(() => addon.statePool({ layers: 1, kvHeads: 1, headDim: 8, dtype: 'f32', pageRows: 3, budgetBytes: 1 << 20 })).toThrow(/'pageRows' must be a power of two/);
    expect(() => addon.statePool({ layers: 1, kvHeads: 1, headDim: 8, dtype: 'bf16' as never, pageRows: 4, budgetBytes: 1 << 20 })).toThrow(/'dtype' must be 'f32' or 'f16'/);
    expect(() => addon.statePool({ ...desc, budgetBytes: 10 })).toThrow(/less than one page/);
    expect(() => a.truncate(9)).toThrow(/'length' must be an integer in \[0, 4\]/);
    program.dispose();
    pool.dispose();
  });
});

describe('paged sequence state: fork, reorder, truncate on a model', () => {
  const load = (o: { pageRows?: number; stateBudget?: number } = {}) => loadModel(LONG, { kind: 'decoder', contextLength: 1024, maxBatch: 8, ...o });

  async function fresh(model: DecoderModel, seq: number[]): Promise<Float32Array> {
    return model.forward(seq);
  }

  it('four forks of a 512-token sequence add at most four pages, and each decodes as a fresh recomputation', async () => {
    const model = await load({ pageRows: 32 });
    const V = model.config.vocabSize;
    const prompt = ids(512 - 5, 1, V).concat(ids(5, 2, V)); // 512 tokens: 16 full pages
    const base = model.newCache();
    await model.forward(prompt, { cache: base });
    const before = model.stateStats();
    expect(base.pages).toBe(16);
    const forks = [0, 1, 2, 3].map(() => base.fork());
    expect(model.stateStats().pagesInUse).toBe(before.pagesInUse); // forks share every page
    for (const [i, f] of forks.entries()) {
      const next = [7 + i, 11 + i];
      const got = await model.forward(next, { cache: f });
      const want = await fresh(model, [...prompt, ...next]);
      expect(maxDiff(got, want)).toBeLessThanOrEqual(tol(want));
    }
    // Each fork wrote past the 16 shared full pages: one new page each, no copy.
    const after = model.stateStats();
    expect(after.pagesInUse - before.pagesInUse).toBeLessThanOrEqual(4);
    expect(after.pagesCopied - before.pagesCopied).toBe(0);
    // The parent is unchanged by its forks.
    const parentNext = await model.forward([3], { cache: base });
    expect(maxDiff(parentNext, await fresh(model, [...prompt, 3]))).toBeLessThanOrEqual(tol(parentNext));
    model.dispose();
  });

  it('a fork of a partial page copies only that page, on its first write', async () => {
    const model = await load({ pageRows: 16 });
    const V = model.config.vocabSize;
    const prompt = ids(40, 3, V); // 2 full pages + 8 rows
    const base = model.newCache();
    await model.forward(prompt, { cache: base });
    const s0 = model.stateStats();
    const f = base.fork();
    const got = await model.forward([5], { cache: f });
    const s1 = model.stateStats();
    expect(s1.pagesCopied - s0.pagesCopied).toBe(1);
    expect(s1.fullPagesCopied - s0.fullPagesCopied).toBe(0);
    expect(maxDiff(got, await fresh(model, [...prompt, 5]))).toBeLessThanOrEqual(tol(got));
    model.dispose();
  });

  it('reorder (a beam step) moves page tables and copies no full page', async () => {
    const model = await load({ pageRows: 16 });
    const V = model.config.vocabSize;
    const prompt = ids(37, 4, V);
    const beams = [0, 1, 2, 3].map(() => model.newCache());
    const seqs = beams.map((_, i) => [...prompt, 100 + i]);
    for (const [i, b] of beams.entries()) await model.forward(seqs[i]!, { cache: b });
    const s0 = model.stateStats();
    // Beams 0 and 2 survive, twice each.
    const parents = [2, 0, 2, 0];
    model.reorder(beams, parents);
    const chosen = parents.map((p) => seqs[p]!);
    expect(model.stateStats().pagesTaken).toBe(s0.pagesTaken);
    const step = await model.forwardBatch(beams.map((cache, i) => ({ ids: [200 + i], cache })));
    const s1 = model.stateStats();
    expect(s1.fullPagesCopied - s0.fullPagesCopied).toBe(0);
    expect(s1.pagesCopied - s0.pagesCopied).toBeLessThanOrEqual(4); // partial last pages only
    for (const [i, got] of step.entries()) {
      const want = await fresh(model, [...chosen[i]!, 200 + i]);
      expect(maxDiff(got, want)).toBeLessThanOrEqual(tol(want));
    }
    // Beams 1 and 3 (old 1 and 3) are gone: their pages went back.
    for (const b of beams) b.dispose();
    expect(model.stateStats().pagesInUse).toBe(0); // forward() without a cache returns its pages too
    expect(() => model.reorder(beams, [0, 0, 0, 0])).toThrow(/disposed/);
    model.dispose();
  });

  it('truncate rolls back: decoding after it equals a fresh recomputation', async () => {
    const model = await load({ pageRows: 16 });
    const V = model.config.vocabSize;
    const prompt = ids(50, 5, V);
    const c = model.newCache();
    await model.forward(prompt, { cache: c });
    c.truncate(20);
    expect(c.length).toBe(20);
    expect(c.pages).toBe(2);
    const got = await model.forward([9, 8], { cache: c });
    expect(maxDiff(got, await fresh(model, [...prompt.slice(0, 20), 9, 8]))).toBeLessThanOrEqual(tol(got));
    model.dispose();
  });

  it('a budget too small for a pass fails that pass with a RangeError and leaves the cache as it was', async () => {
    const model = await load({ pageRows: 16 });
    const pageBytes = model.stateStats().pageBytes;
    expect(pageBytes).toBe(16 * 2 * model.config.layers * model.config.kvHeads * model.config.headDim * 4);
    model.dispose();
    const small = await load({ pageRows: 16, stateBudget: 4 * pageBytes });
    const c = small.newCache();
    await small.forward(ids(16, 6, small.config.vocabSize), { cache: c });
    await expect(small.forward(ids(64, 7, small.config.vocabSize), { cache: c })).rejects.toThrow(/sequence-state budget of 4 pages/);
    expect(c.length).toBe(16);
    expect((await small.forward([1], { cache: c })).length).toBe(small.config.vocabSize);
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', pageRows: 24 })).rejects.toThrow(/'pageRows' must be a power of two in \[1, 4096\], got 24/);
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', stateBudget: -1 })).rejects.toThrow(/'stateBudget' must be a positive integer/);
    small.dispose();
  });
});

describe('prefix cache', () => {
  it('a second request sharing a 512-token prefix runs only its suffix, with the logits of a full run', async () => {
    const model = await loadModel(LONG, { kind: 'decoder', contextLength: 1024, maxBatch: 4, pageRows: 32 });
    const lm = new DecoderLM(model, [], { maxBatchTokens: 1024 });
    const V = model.config.vocabSize;
    const prefix = ids(512, 8, V);
    const a = Int32Array.from([...prefix, ...ids(9, 9, V)]);
    const b = Int32Array.from([...prefix, ...ids(13, 10, V)]);
    const ca = lm.newCache();
    await lm.forward(a, ca);
    const before = lm.batchStats;
    const cb = lm.newCache();
    const got = await lm.forward(b, cb);
    const after = lm.batchStats;
    expect(after.prefixTokens - before.prefixTokens).toBe(512);
    expect(after.tokens - before.tokens).toBe(13); // only the suffix ran
    expect(model.stateStats().prefixTokensReused).toBe(512);
    const want = await model.forward(b);
    expect(maxDiff(got, want)).toBeLessThanOrEqual(tol(want));
    // Decoding on from the shared pages leaves the first request's rows alone.
    const next = await lm.forward(Int32Array.of(4), ca);
    expect(maxDiff(next, await model.forward([...a, 4]))).toBeLessThanOrEqual(tol(next));
    // Without the prefix cache, the whole prompt runs.
    const off = new DecoderLM(model, [], { maxBatchTokens: 1024, prefixCache: false });
    await off.forward(b, off.newCache());
    expect(off.batchStats.tokens).toBe(b.length);
    expect(off.batchStats.prefixTokens).toBe(0);
    expect(() => new DecoderLM(model, [], { prefixCache: 1 as never })).toThrow(/'prefixCache' must be a boolean/);
    lm.dispose();
  });

  it('evicts cached prefixes no sequence holds when the budget needs their pages', async () => {
    const probe = await loadModel(LONG, { kind: 'decoder', pageRows: 16 });
    const pageBytes = probe.stateStats().pageBytes;
    probe.dispose();
    const model = await loadModel(LONG, { kind: 'decoder', contextLength: 256, pageRows: 16, stateBudget: 8 * pageBytes });
    const V = model.config.vocabSize;
    const p1 = Int32Array.from(ids(65, 11, V)); // 5 pages, 4 of them full
    const c1 = model.newCache();
    await model.forward(p1, { cache: c1 });
    model.publishPrefix(c1, p1);
    c1.dispose();
    expect(model.stateStats().prefixPages).toBe(4);
    // 6 pages for a new prompt: the cache gives up what it must.
    const c2 = model.newCache();
    await model.forward(ids(90, 12, V), { cache: c2 });
    const s = model.stateStats();
    expect(s.pagesInUse).toBeLessThanOrEqual(8);
    expect(s.prefixPages).toBeLessThan(4);
    model.dispose();
  });
});

describe('host sequence state (reference backend)', () => {
  it('forks by copying rows and truncates; the same contract as native pages', async () => {
    const model = await loadModel(join(FIX, 'llama-tiny'), { kind: 'decoder', backend: 'reference' });
    const V = model.config.vocabSize;
    const prompt = ids(20, 13, V);
    const base = model.newCache();
    await model.forward(prompt, { cache: base });
    const f = base.fork();
    const got = await model.forward([3], { cache: f });
    expect(maxDiff(got, await model.forward([...prompt, 3]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    base.truncate(10);
    const back = await model.forward([4], { cache: base });
    expect(maxDiff(back, await model.forward([...prompt.slice(0, 10), 4]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    expect(model.states.sharesPrefixes).toBe(false);
    expect(model.attachPrefix(model.newCache(), Int32Array.from(prompt))).toBe(0);
    model.dispose();
  });
});

describe('state handles check their arguments', () => {
  it('names what is wrong and changes nothing', () => {
    const desc = { layers: 1, kvHeads: 1, headDim: 4, dtype: 'f32' as const, pageRows: 4, budgetBytes: 1 << 20 };
    const pool = addon.statePool(desc);
    const other = addon.statePool(desc);
    const [a, b] = [pool.create(), pool.create()];
    expect(() => pool.reorder([a, b], Int32Array.of(0, 2))).toThrow(/parents\[1\] = 2 is outside \[0, 2\)/);
    expect(() => pool.reorder([a, a], Int32Array.of(0, 1))).toThrow(/states\[1\] repeats states\[0\]/);
    expect(() => pool.reorder([a, other.create()], Int32Array.of(0, 1))).toThrow(/belongs to another StatePool/);
    expect(() => pool.reorder([a, b], [0, 1] as never)).toThrow(/'parents' must be an Int32Array with one index per state/);
    expect(() => pool.reorder([a, {} as never], Int32Array.of(0, 1))).toThrow(/must be a SequenceState from StatePool.create\(\)/);
    expect(() => pool.attachPrefix(a, [1, 2] as never)).toThrow(/'ids' must be an Int32Array/);
    expect(() => pool.publishPrefix(a, Int32Array.of(1, 2))).toThrow(/'ids' \(2\) are more than the state's rows \(0\)/);
    expect(() => a.truncate(-1)).toThrow(/'length' must be an integer in \[0, 0\]/);
    expect(() => a.truncate(0.5)).toThrow(RangeError);
    b.dispose();
    expect(() => b.fork()).toThrow(/the state was disposed/);
    expect(() => pool.reorder([a, b], Int32Array.of(0, 0))).toThrow(/was disposed/);
    pool.dispose();
    expect(() => pool.create()).toThrow(/the pool was disposed/);
    expect(a.length).toBe(0);
    a.dispose();
    other.dispose();
  });
});

describe('a sliding window lets go of the pages behind it', () => {
  it('mistral (window 8): a long decode holds a bounded number of pages and decodes as a fresh recomputation', async () => {
    const model = await loadModel(join(FIX, 'mistral-tiny'), { kind: 'decoder', pageRows: 4 });
    expect(model.config.slidingWindow).toBe(8);
    const V = model.config.vocabSize;
    const seq = ids(5, 21, V);
    const cache = model.newCache();
    let logits = await model.forward(seq, { cache });
    let most = 0;
    for (let i = 0; i < 50; i++) {
      const next = logits.reduce((b, v, j, a) => (v > a[b]! ? j : b), 0);
      seq.push(next);
      logits = await model.forward([next], { cache });
      most = Math.max(most, cache.pages);
    }
    // Rows [length - 7, length) are all a query can see: at most 4 pages of 4 rows hold them.
    expect(cache.length).toBe(55);
    expect(most).toBeLessThanOrEqual(4);
    expect(cache.state.forgotten).toBeGreaterThanOrEqual(44);
    expect(maxDiff(logits, await model.forward(seq))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    expect(() => cache.truncate(10)).toThrow(/were forgotten/);
    // A fork shares what is left and decodes on.
    const f = cache.fork();
    const a = await model.forward([7], { cache: f });
    expect(maxDiff(a, await model.forward([...seq, 7]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    model.dispose();
  });
});
