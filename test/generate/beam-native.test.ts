// Beam search's step in the addon ('logSoftmax' then 'topCandidates', through stepCandidates)
// against the TypeScript reference (logProbs and topCandidates): the same candidates, in the same
// order, with scores equal to the last bits the two exponentials may differ in, on awkward beam
// counts and vocabulary sizes, temperatures, exact ties, -inf rows and processors; NaN logits;
// and the ops' argument checks.
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../ts/native.js';
import { beamAddon, logProbs, stepCandidates, type StepInput } from '../../ts/generate/beam-search.js';
import { topCandidates, type Candidate } from '../../ts/generate/beam-scorer.js';
import { BadWords, MinNewTokens, NoRepeatNGram, type LogitsProcessor } from '../../ts/generate/processors.js';
import { normals } from '../harness/rng.js';

const addon = loadAddon();

function expectSame(got: Candidate[], want: Candidate[], where: string): void {
  expect(got.map((c) => [c.beam, c.token]), where).toEqual(want.map((c) => [c.beam, c.token]));
  got.forEach((c, i) => {
    const w = want[i]!.score;
    if (w === -Infinity) expect(c.score, where).toBe(-Infinity);
    else expect(Math.abs(c.score - w), `${where}: candidate ${i}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(w)));
  });
}

/** beams rows of logits: distinct, with exact ties, wide, or with -inf entries. */
function rowsFor(beams: number, v: number, kind: 'normal' | 'ties' | 'wide' | 'masked', seed: number): Float32Array[] {
  return Array.from({ length: beams }, (_, b) => {
    const x = normals(v, seed + 31 * b, kind === 'wide' ? 25 : 3);
    if (kind === 'ties') for (let i = 0; i < v; i++) x[i] = Math.round(x[i]!);
    if (kind === 'masked') for (let i = 0; i < v; i += 3) x[i] = -Infinity;
    return x;
  });
}

function step(logits: Float32Array[], temperature: number, processors: LogitsProcessor[], keep: number): StepInput {
  const v = logits[0]!.length;
  const histories = logits.map((_, b) => [5, 1, 2, b % 3, 1].map((t) => t % v));
  return {
    logits, temperature, processors, ids: (b) => histories[b]!, promptLength: 2,
    offsets: logits.map((_, b) => (b === 0 ? 0 : -0.37 * b)), keep,
  };
}

describe('beam step in the addon against the TypeScript reference', () => {
  it('has the beam ops', () => {
    expect(beamAddon()).not.toBeNull();
  });

  for (const beams of [1, 2, 5])
    for (const v of [1, 7, 300, 32003])
      for (const kind of ['normal', 'ties', 'wide', 'masked'] as const)
        it(`${beams} beam(s), V=${v}, ${kind} logits`, async () => {
          const logits = rowsFor(beams, v, kind, beams * 1000 + v);
          for (const temperature of [0, 1, 0.7, 1.9])
            for (const withProcessors of [false, true]) {
              const processors = withProcessors ? [new NoRepeatNGram(2), new BadWords(v > 3 ? [[1], [2, 3]] : [[0]], v), new MinNewTokens(4, [0])] : [];
              const keep = Math.min(beams * v, 2 * beams + 1);
              const s = step(logits, temperature, processors, keep);
              const where = `T=${temperature}, processors ${withProcessors}`;
              expectSame(await stepCandidates(s, beamAddon()), await stepCandidates(s, null), where);
            }
        });

  it('reads rows of one buffer in place and repeated rows (the first step) alike', async () => {
    const v = 4099;
    const block = normals(3 * v, 7, 4);
    const views = [0, 1, 2].map((b) => block.subarray(b * v, (b + 1) * v));
    const s = step(views, 1, [], 6);
    expectSame(await stepCandidates(s, beamAddon()), await stepCandidates(s, null), 'one buffer');
    const same = step([views[1]!, views[1]!, views[1]!], 1, [], 6);
    expectSame(await stepCandidates(same, beamAddon()), await stepCandidates(same, null), 'repeated');
    expect(block).toEqual(normals(3 * v, 7, 4)); // the logits are read, never written
  });

  it('keeps every candidate when k is beams x V, -inf ones last', async () => {
    const logits = rowsFor(2, 5, 'masked', 3);
    const s = step(logits, 1, [], 10);
    const got = await stepCandidates(s, beamAddon());
    expect(got).toHaveLength(10);
    expectSame(got, await stepCandidates(s, null), 'all');
    expect(got.slice(-4).every((c) => c.score === -Infinity)).toBe(true);
  });

  it('names the first NaN logit', async () => {
    const logits = rowsFor(3, 50, 'normal', 9);
    logits[1]![17] = NaN;
    logits[1]![30] = NaN;
    await expect(stepCandidates(step(logits, 1, [], 4), beamAddon())).rejects.toThrow('beam search: the model returned NaN for token 17');
    expect(() => logProbs(logits[1]!, 1, [], [], 0)).toThrow('beam search: the model returned NaN for token 17');
  });

  it('gives what the reference gives for a row of all -inf', async () => {
    const logits = [new Float32Array(6).fill(-Infinity), normals(6, 2, 1)];
    const s = step(logits, 1, [], 3);
    expectSame(await stepCandidates(s, beamAddon()), topCandidates(logits.map((l) => logProbs(l, 1, [], [], 0)), s.offsets, 3), 'masked row');
  });

  it('topCandidates never takes a NaN score', () => {
    const rows = [Float64Array.from([0, NaN, -1]), Float64Array.from([NaN, -2, -0.5])];
    expect(topCandidates(rows, [0, 0], 3).map((c) => [c.beam, c.token])).toEqual([[0, 0], [1, 2], [0, 2]]);
  });
});

describe('beam ops: argument checks', () => {
  const x = { dtype: 'f32', shape: [2, 3], data: new Float32Array(6) };
  const soft = (over: Record<string, unknown>) => () => addon.op('logSoftmax', { x, out: new Float64Array(6), outNanAt: new Float64Array(2), ...over });
  const top = (over: Record<string, unknown>) => () =>
    addon.op('topCandidates', { beams: 2, vocab: 3, rows: new Float64Array(6), offsets: new Float64Array(2), k: 2, out: new Float64Array(6), outCount: new Float64Array(1), ...over });

  it('logSoftmax', () => {
    expect(soft({})).not.toThrow();
    expect(soft({ x: { dtype: 'f32', shape: [6], data: new Float32Array(6) } })).toThrow(/'x' must have shape \[R, V\]/);
    expect(soft({ x: { dtype: 'i32', shape: [2, 3], data: new Int32Array(6) } })).toThrow(/'x'/);
    expect(soft({ scale: 0 })).toThrow(/'scale'/);
    expect(soft({ scale: -1 })).toThrow(/'scale'/);
    expect(soft({ scale: NaN })).toThrow(/'scale'/);
    expect(soft({ scale: Infinity })).toThrow(/'scale'/);
    expect(soft({ out: new Float64Array(5) })).toThrow(/'out' has 5 elements, expected 6/);
    expect(soft({ outNanAt: new Float32Array(2) })).toThrow(/'outNanAt' must be a Float64Array/);
  });

  it('topCandidates', () => {
    expect(top({})).not.toThrow();
    expect(top({ beams: undefined })).toThrow(/'beams'/);
    expect(top({ beams: 0 })).toThrow(/'beams'/);
    expect(top({ vocab: 1.5 })).toThrow(/'vocab'/);
    expect(top({ k: 0 })).toThrow(/'k'/);
    expect(top({ k: 7, out: new Float64Array(21) })).toThrow(/'k'/);
    expect(top({ rows: new Float64Array(5) })).toThrow(/'rows' has 5 elements, expected 6/);
    expect(top({ offsets: new Float64Array(3) })).toThrow(/'offsets' has 3 elements, expected 2/);
    expect(top({ out: new Float64Array(3) })).toThrow(/'out' has 3 elements, expected 6/);
  });
});
