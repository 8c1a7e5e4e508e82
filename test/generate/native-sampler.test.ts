// The addon's 'sample' op against the TypeScript reference (sampleNext): the same seeded ids and
// the same logprobs, bit for bit, on awkward vocabulary sizes and every combination of the
// vocabulary passes, with and without the few-id processors and a user's own processor; its
// argument checks; and where its kernel runs.
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../ts/native.js';
import type { LogitsProcessor, ProcessContext } from '../../ts/generate/processors.js';
import { Rng } from '../../ts/generate/rng.js';
import { buildProcessors, sampleNext, sampleNextAsync, type SamplingOptions } from '../../ts/generate/sampler.js';
import { mulberry32, normals } from '../harness/rng.js';

const addon = loadAddon();
const VOCABS = [1, 3, 17, 33, 50257];

/** A user's processor: JavaScript over the whole Float64Array, so the head stays on this thread. */
class EvenBoost implements LogitsProcessor {
  readonly name = 'even-boost';
  process(scores: Float64Array): void {
    for (let i = 0; i < scores.length; i += 2) scores[i] = scores[i]! + 0.25;
  }
}

/** Logits with distinct values, with many exact ties (top-k's edge), and with a wide spread. */
function logitsFor(v: number, kind: 'normal' | 'ties' | 'wide', seed: number): Float32Array {
  const x = normals(v, seed, kind === 'wide' ? 25 : 3);
  if (kind === 'ties') for (let i = 0; i < v; i++) x[i] = Math.round(x[i]! * 2) / 2;
  return x;
}

function headOptions(v: number, head: 'none' | 'sparse' | 'custom'): SamplingOptions {
  if (head === 'none') return {};
  const sparse: SamplingOptions = {
    repetitionPenalty: 1.3,
    presencePenalty: 0.4,
    frequencyPenalty: 0.2,
    logitBias: v > 1 ? { 0: 2, [v - 1]: -Infinity } : { 0: 1 },
    noRepeatNgramSize: 2,
    badWordIds: v > 2 ? [[1, 2]] : [],
    forcedTokens: new Map([[3, v - 1]]),
  };
  return head === 'sparse' ? sparse : { ...sparse, processors: [new EvenBoost()] };
}

type Outcome = { id: number; logprob: number } | { error: string };

function refStep(logits: Float32Array, o: SamplingOptions, ctx: ProcessContext, rng: Rng): Outcome {
  try {
    return sampleNext(logits, buildProcessors(o, logits.length), ctx, rng, true);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

async function nativeStep(logits: Float32Array, o: SamplingOptions, ctx: ProcessContext, rng: Rng): Promise<Outcome> {
  try {
    return await sampleNextAsync(logits, buildProcessors(o, logits.length), ctx, rng, true);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const same = (a: Outcome, b: Outcome): boolean =>
  'error' in a || 'error' in b ? JSON.stringify(a) === JSON.stringify(b) : a.id === b.id && Object.is(a.logprob, b.logprob);

/** Every subset of the vocabulary passes at each temperature, each head: `draws` seeded steps each. */
async function mismatches(v: number, temps: number[], draws: number, kinds: ('normal' | 'ties' | 'wide')[]): Promise<string[]> {
  const bad: string[] = [];
  let seed = 1;
  for (const kind of kinds)
    for (const head of ['none', 'sparse', 'custom'] as const)
      for (const temperature of temps)
        for (let mask = 0; mask < 16; mask++) {
          const o: SamplingOptions = { ...headOptions(v, head), temperature };
          if (mask & 1) o.topK = mask & 2 ? 3 : 40;
          if (mask & 2) o.topP = 0.9;
          if (mask & 4) o.minP = 0.05;
          if (mask & 8) o.typicalP = 0.9;
          const s = seed++;
          const r = new Rng(s);
          const q = new Rng(s);
          const ids = [0, v - 1, Math.floor(v / 2), 0];
          const logits = logitsFor(v, kind, s);
          for (let d = 0; d < draws; d++) {
            const ctx = { ids: [...ids], promptLength: 2 };
            const want = refStep(logits, o, ctx, r);
            const got = await nativeStep(logits, o, ctx, q);
            if (!same(want, got)) {
              bad.push(`V=${v} ${kind} ${head} t=${temperature} mask=${mask} draw ${d}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
              break;
            }
            if ('id' in want) ids.push(want.id);
            // a new logit row now and then, as a model step would give
            if (d % 3 === 2) logits.set(logitsFor(v, kind, s * 31 + d));
          }
        }
  return bad;
}

describe('native sampler', () => {
  for (const v of VOCABS.filter((n) => n < 1000)) {
    it(`equals sampleNext on V=${v}: ids and logprobs, every pass combination, temperatures 0 to 1.5`, async () => {
      expect(await mismatches(v, [0, 0.7, 1, 1.5], 12, ['normal', 'ties', 'wide'])).toEqual([]);
    });
  }

  it('equals sampleNext on GPT-2 sized logits (V=50257)', async () => {
    expect(await mismatches(50257, [0, 0.8, 1.3], 2, ['normal', 'wide'])).toEqual([]);
  }, 120_000);

  it('top-k by heap or selection keeps the reference set for every k, ties included (k up to 1e9)', async () => {
    const bad: string[] = [];
    const cases: [number, number[]][] = [
      // 1024 and 1025: either side of the heap's reach (kHeapTopK in sampler.cc).
      [5003, [1, 2, 7, 100, 1024, 1025, 2500, 5002, 5003, 5004, 1e9]],
      [50257, [40, 1024, 1025, 10_000, 1e9]],
    ];
    for (const [v, ks] of cases)
      for (const kind of ['ties', 'normal'] as const)
        for (const topK of ks) {
          const logits = logitsFor(v, kind, topK % 97);
          const o: SamplingOptions = { topK, temperature: 0.9 };
          const r = new Rng(topK % 13);
          const q = new Rng(topK % 13);
          for (let d = 0; d < 3; d++) {
            const ctx = { ids: [1, 2], promptLength: 1 };
            const want = refStep(logits, o, ctx, r);
            const got = await nativeStep(logits, o, ctx, q);
            if (!same(want, got)) bad.push(`V=${v} ${kind} k=${topK} draw ${d}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
          }
        }
    expect(bad).toEqual([]);
  }, 120_000);

  it('top-k by selection keeps exactly the k largest, ties by index, on skewed and adversarial rows', async () => {
    // A temperature of 1e30 makes every kept token (almost exactly) equally likely, so a sweep of
    // u over 2k evenly spaced points draws every kept token and nothing else: the kept set itself,
    // compared with one written here from its definition (largest first, ties to the lower index).
    const rows: [string, Float32Array][] = [];
    const v = 5003;
    rows.push(['normal', logitsFor(v, 'normal', 5)]);
    rows.push(['ties', logitsFor(v, 'ties', 6)]);
    rows.push(['ascending', Float32Array.from({ length: v }, (_, i) => i / 7)]);
    rows.push(['descending', Float32Array.from({ length: v }, (_, i) => -i / 7)]);
    // Every other score high: a strided sample sees only one kind and misjudges the k-th largest.
    rows.push(['alternating', Float32Array.from({ length: v }, (_, i) => (i % 2 ? 0 : 10) + ((i * 7919) % 1000) / 1000)]);
    rows.push(['two values', Float32Array.from({ length: v }, (_, i) => (i % 3 ? 1 : 2))]);
    rows.push(['a few large', Float32Array.from({ length: v }, (_, i) => (i % 1000 === 3 ? 50 : (i % 17) / 17))]);
    const bad: string[] = [];
    for (const [kind, logits] of rows)
      for (const topK of [1025, 1700, 2600, 4000]) {
        const order = Array.from({ length: v }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
        const want = order.slice(0, topK).sort((a, b) => a - b);
        const chain = buildProcessors({ topK, temperature: 1e30 }, v);
        const got = new Set<number>();
        const draws = 2 * topK;
        for (let j = 0; j < draws; j++) {
          const u = (j + 0.5) / draws;
          const rng = { nextFloat: () => u } as unknown as Rng;
          got.add((await sampleNextAsync(logits, chain, { ids: [], promptLength: 0 }, rng, false)).id);
        }
        const kept = [...got].sort((a, b) => a - b);
        if (kept.length !== want.length || kept.some((x, i) => x !== want[i])) {
          const missing = want.filter((x) => !got.has(x)).slice(0, 5);
          bad.push(`${kind} k=${topK}: kept ${kept.length}, want ${want.length}; missing e.g. ${missing.join(',')}`);
        }
      }
    expect(bad).toEqual([]);
  }, 120_000);

  it('greedy is the exact arg-max, ties to the lower index', async () => {
    const l = Float32Array.from([1, 5, 2, 5, -3]);
    const r = new Rng(1);
    for (let i = 0; i < 5; i++) expect((await sampleNextAsync(l, buildProcessors({ temperature: 0 }, 5), { ids: [], promptLength: 0 }, r, false)).id).toBe(1);
  });

  it('gives the reference its extreme cases: huge logits, +Infinity, NaN, every token removed', async () => {
    const ctx = { ids: [], promptLength: 0 };
    const cases: [Float32Array, SamplingOptions][] = [
      [Float32Array.from([1e38, 3e38, -1e38]), { temperature: 1e-3 }],
      [Float32Array.from([0, Infinity, 5, Infinity]), {}],
      [Float32Array.from([0, Infinity, 5, Infinity]), { topP: 0.4, typicalP: 0.5 }],
      [Float32Array.from([0, 1, NaN]), {}],
      [Float32Array.from([1, 2, 3]), { logitBias: { 0: -Infinity, 1: -Infinity, 2: -Infinity } }],
      [Float32Array.from([1, 2, 3]), { processors: [new EvenBoost()], badWordIds: [[0], [1], [2]] }],
      // top-k past the heap's reach, where value buckets cannot be made: all scores equal, a
      // range that overflows f64 (temperature 1e-300), +Infinity among the scores.
      [new Float32Array(3000).fill(2), { topK: 1500 }],
      [Float32Array.from({ length: 3000 }, (_, i) => (i % 2 ? 3e38 : -3e38) * ((i % 7) + 1) / 7), { topK: 1100, temperature: 1e-300 }],
      [Float32Array.from({ length: 3000 }, (_, i) => (i % 500 === 0 ? Infinity : i % 37)), { topK: 1200 }],
    ];
    for (const [l, o] of cases) {
      const r = new Rng(9);
      const q = new Rng(9);
      for (let i = 0; i < 30; i++) expect(await nativeStep(l, o, ctx, q)).toEqual(refStep(l, o, ctx, r));
    }
    await expect(sampleNextAsync(Float32Array.from([0, NaN]), buildProcessors({}, 2), ctx, new Rng(1), false)).rejects.toThrow(RangeError);
  });

  it('runs its kernel off the JavaScript thread', async () => {
    const l = normals(50257, 4, 3);
    const t0 = addon.kernelThreads();
    const pending = sampleNextAsync(l, buildProcessors({ topP: 0.9, temperature: 0.8 }, l.length), { ids: [1], promptLength: 1 }, new Rng(2), true);
    expect(addon.kernelThreads().jsThread).toBe(t0.jsThread); // submitting ran nothing here
    await pending;
    const t1 = addon.kernelThreads();
    expect({ jsThread: t1.jsThread - t0.jsThread, otherThreads: t1.otherThreads - t0.otherThreads }).toEqual({ jsThread: 0, otherThreads: 1 });
  });

  it("checks every argument of the 'sample' op, naming it", () => {
    const logits = { dtype: 'f32', shape: [3], data: Float32Array.from([1, 2, 3]) };
    const ok = { logits, u: 0.5, out: new Float64Array(4) };
    const run = (extra: Record<string, unknown>) => () => addon.op('sample', { ...ok, ...extra });
    expect(run({})).not.toThrow();
    expect(run({ logits: undefined })).toThrow(TypeError);
    expect(run({ logits: { dtype: 'f32', shape: [0], data: new Float32Array(0) } })).toThrow(/'logits' must have shape \[V\] with V >= 1/);
    expect(run({ logits: { dtype: 'f32', shape: [1, 3], data: new Float32Array(3) } })).toThrow(RangeError);
    expect(run({ scores: new Float64Array(2) })).toThrow(/'scores' has 2 elements, expected 3/);
    expect(run({ scores: new Float32Array(3) })).toThrow(/'scores' must be a Float64Array/);
    expect(run({ fill: NaN })).toThrow(/'fill'/);
    expect(run({ fill: 0, scores: new Float64Array(3) })).toThrow(/'fill' and 'scores'/);
    const ids = (a: number[]) => ({ dtype: 'i32', shape: [a.length], data: Int32Array.from(a) });
    expect(run({ editIds: ids([3]), editValues: new Float64Array(1) })).toThrow(/'editIds\[0\]' must be a token id in \[0, 3\)/);
    expect(run({ editIds: ids([0]) })).toThrow(/'editValues' must be a Float64Array/);
    expect(run({ editValues: new Float64Array(1) })).toThrow(/'editValues' needs 'editIds'/);
    expect(run({ steps: ids([5]), stepParams: new Float64Array(1) })).toThrow(/'steps\[0\]' must be a step kind/);
    expect(run({ steps: ids([0]), stepParams: Float64Array.of(-1) })).toThrow(/'stepParams\[0\]' \(temperature\)/);
    expect(run({ steps: ids([1]), stepParams: Float64Array.of(1.5) })).toThrow(/'stepParams\[0\]' \(top-k\) must be an integer >= 1/);
    expect(run({ steps: ids([2]), stepParams: Float64Array.of(0) })).toThrow(/\(top-p\) must be in \(0, 1\]/);
    expect(run({ steps: ids([3]), stepParams: Float64Array.of(2) })).toThrow(/\(min-p\) must be in \[0, 1\]/);
    expect(run({ steps: ids([4]), stepParams: Float64Array.of(NaN) })).toThrow(/\(typical-p\)/);
    expect(run({ stepParams: new Float64Array(1) })).toThrow(/'stepParams' needs 'steps'/);
    expect(run({ u: undefined })).toThrow(/'u' must be a number in \[0, 1\)/);
    expect(run({ u: 1 })).toThrow(/'u' must be a number in \[0, 1\)/);
    expect(run({ u: -0.1 })).toThrow(/'u'/);
    expect(run({ logprob: 1 })).toThrow(/'logprob' must be a boolean/);
    expect(run({ out: new Float64Array(3) })).toThrow(/'out' has 3 elements, expected 4/);
    expect(run({ out: undefined })).toThrow(/'out' must be a Float64Array/);
  });

  it('draws the same stream of u as the reference, one per step (seeded parity over a whole request)', async () => {
    // Ten steps at V=17 with a fresh Rng each way: any extra or missing draw shifts every later id.
    const rand = mulberry32(77);
    const r = new Rng(5);
    const q = new Rng(5);
    const o = { temperature: 0.9, topK: 8 };
    for (let i = 0; i < 10; i++) {
      const l = Float32Array.from({ length: 17 }, () => rand() * 6 - 3);
      const ctx = { ids: [i], promptLength: 1 };
      expect(await nativeStep(l, o, ctx, q)).toEqual(refStep(l, o, ctx, r));
    }
    expect(q.nextU32()).toBe(r.nextU32());
  });
});
