// The checks an encoder-decoder family's golden test runs (tools/reference/make_bart_marian.py's
// layout, which is make_seq2seq.py's): encoder outputs and decoder logits single and batched,
// greedy and beam outputs with scores, and the run-once counters; on native, reference or WebGPU.
// Not a test file itself.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../ts/models/model.js';
import { loadSeq2Seq, type EncoderDecoderModel } from '../../ts/models/seq2seq.js';
import type { EarlyStopping } from '../../ts/generate/beam-scorer.js';
import { HAS_WEBGPU } from './webgpu.js';
import { TOL_BEAM_SCORE_F32, TOL_MODEL_ENCODER_F32, TOL_MODEL_LOGITS_F32, TOL_MODEL_LOGITS_KV_F16, TOL_MODEL_SEQ2SEQ_Q8_0_OF_SCALE, type Tolerance } from '../harness/tolerance.js';

export const FIX = join(import.meta.dirname, '..', 'fixtures', 'models');

export interface BeamCase {
  name: string;
  eos: number[];
  options: { num_beams: number; num_return_sequences: number; length_penalty: number; early_stopping: EarlyStopping; max_new_tokens: number; no_repeat_ngram_size?: number; min_new_tokens?: number };
  sequences: { ids: number[]; score: number; eos: boolean }[];
}
export interface InputCase { input: number[]; encoder: number[]; decoderIds: number[]; logits: number[]; greedy: number[]; beams: BeamCase[] }
export interface Goldens {
  header: { script: string; layout_version: number };
  marianTokenizer: { text: string; ids: number[] }[];
  marianDecode: { ids: number[]; text: string; skipSpecial: string }[];
  models: Record<string, InputCase[]>;
}

export const G = JSON.parse(readFileSync(join(FIX, 'bart-marian-goldens.json'), 'utf8')) as Goldens;

/** How far the worst element is outside |got - want| <= atol + rtol |want| (<= 0: within). */
export function excess(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): number {
  expect(got.length).toBe(want.length);
  let worst = -Infinity;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) - (tol.atol + tol.rtol * Math.abs(want[i]!)));
  return worst;
}
const LOGITS: Tolerance = { atol: TOL_MODEL_LOGITS_F32, rtol: TOL_MODEL_LOGITS_F32 };

function beamOptions(c: BeamCase) {
  const o = c.options;
  return {
    numBeams: o.num_beams, numReturnSequences: o.num_return_sequences, lengthPenalty: o.length_penalty, earlyStopping: o.early_stopping,
    maxTokens: o.max_new_tokens, eosTokenIds: c.eos,
    // 0 when the case has none: generation_config.json's no_repeat_ngram_size must not apply.
    noRepeatNgramSize: o.no_repeat_ngram_size ?? 0,
    ...(o.min_new_tokens ? { minNewTokens: o.min_new_tokens } : {}),
  };
}

/** The golden checks of one checkpoint directory `name` under FIX, on one backend. */
export function describeGoldens(name: string, architecture: string, backend: 'native' | 'reference' | 'webgpu', goldens: Goldens = G): void {
  const cases = goldens.models[name]!;
  // WebGPU runs where the global setup found an adapter (lavapipe here), else shows as skipped with the setup's printed reason.
  const suite = backend === 'webgpu' ? describe.skipIf(!HAS_WEBGPU) : describe;
  suite(`${name} on ${backend} against ${goldens.header.script}`, () => {
    let model: EncoderDecoderModel;
    beforeAll(async () => {
      model = await loadModel(join(FIX, name), { kind: 'encoder-decoder', backend, pageRows: 4, maxBatch: 8, contextLength: 64 });
    });
    afterAll(() => model?.dispose());

    it('is an encoder-decoder with the config of its file', () => {
      expect(model.kind).toBe('encoder-decoder');
      expect(model.config.architecture).toBe(architecture);
      expect([model.config.encoderLayers, model.config.decoderLayers]).toEqual([2, 3]);
    });

    it('encoder outputs equal PyTorch, one input at a time and packed in one pass', async () => {
      for (const c of cases) {
        const e = await model.encode(c.input);
        expect(excess(e.hidden, c.encoder, TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0);
        e.dispose();
      }
      const passes = model.counters.encoderPasses;
      const both = await model.encodeBatch(cases.map((c) => c.input));
      expect(model.counters.encoderPasses).toBe(passes + 1);
      both.forEach((e, i) => expect(excess(e.hidden, cases[i]!.encoder, TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0));
      for (const e of both) e.dispose();
    });

    it('decoder logits equal PyTorch at every step, stepping one sequence and two batched', async () => {
      const V = model.decoderVocabSize;
      const encs = await model.encodeBatch(cases.map((c) => c.input));
      const single = model.newCache();
      const caches = cases.map(() => model.newCache());
      const c0 = cases[0]!;
      for (let step = 0; step < c0.decoderIds.length; step++) {
        const want = (c: InputCase) => c.logits.slice(step * V, (step + 1) * V);
        const got = await model.forward([c0.decoderIds[step]!], { encoder: encs[0], cache: single });
        expect(excess(got, want(c0), LOGITS), `step ${step}`).toBeLessThanOrEqual(0);
        const batch = await model.forwardBatch(cases.map((c, i) => ({ ids: [c.decoderIds[step]!], cache: caches[i]!, encoder: encs[i] })));
        batch.forEach((l, i) => expect(excess(l, want(cases[i]!), LOGITS), `batched step ${step}, input ${i}`).toBeLessThanOrEqual(0));
      }
      // A whole decoder sequence in one pass, without a cache: its last position.
      const last = cases[1]!;
      const whole = await model.forward(last.decoderIds, { encoder: encs[1] });
      expect(excess(whole, last.logits.slice(-V), LOGITS)).toBeLessThanOrEqual(0);
      for (const x of [single, ...caches, ...encs]) x.dispose();
    });

    it('greedy outputs equal PyTorch, with the checkpoint\'s forced tokens', async () => {
      for (const c of cases) {
        const r = await model.generate(c.input, { numBeams: 1, maxTokens: c.greedy.length, ignoreEos: true, noRepeatNgramSize: 0 });
        expect(r.sequences[0]!.ids).toEqual(c.greedy);
      }
    });

    // The reference backend is too slow for every search; native and WebGPU (its own state pool's fork and reorder) run them.
    if (backend !== 'reference')
      for (const [i, c] of cases.entries())
        for (const b of c.beams)
          it(`beam search ${b.name}, input ${i}: ids equal the reference, scores within tolerance; encoder and cross K/V once`, async () => {
            const before = model.counters;
            const r = await model.generate(c.input, beamOptions(b));
            expect(r.sequences.map((s) => s.ids)).toEqual(b.sequences.map((s) => s.ids));
            expect(r.sequences.map((s) => s.eos)).toEqual(b.sequences.map((s) => s.eos));
            r.sequences.forEach((s, k) => {
              const want = b.sequences[k]!.score;
              expect(Math.abs(s.score - want)).toBeLessThanOrEqual(TOL_BEAM_SCORE_F32.atol + Math.abs(want) * TOL_BEAM_SCORE_F32.rtol);
            });
            const after = model.counters;
            expect(after.encoderPasses - before.encoderPasses).toBe(1);
            expect(after.crossKVRows - before.crossKVRows).toBe(c.input.length);
            expect(after.decoderPasses - before.decoderPasses).toBe(r.steps + 1);
            expect(model.stateStats().pagesInUse).toBe(0);
          });
  });
}

/** A copy of checkpoint `name` with config.json fields replaced by `patch`. */
export function withConfig(name: string, patch: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), `${name}-cfg-`));
  for (const f of readdirSync(join(FIX, name))) copyFileSync(join(FIX, name, f), join(dir, f));
  const cfg = JSON.parse(readFileSync(join(FIX, name, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, ...patch }));
  return dir;
}

/** f16 K/V state (max |diff|) and q8_0 weights (max |diff| over the largest |logit|) against the f32 goldens of `name`. */
export function lowPrecisionCheck(name: string, goldens: Goldens = G): void {
  it(`${name}: f16 K/V state and q8_0 weights stay close to the f32 goldens`, async () => {
    const c = goldens.models[name]![1]!;
    const scale = c.logits.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    for (const [opts, tol, of] of [[{ kvDtype: 'f16' as const }, TOL_MODEL_LOGITS_KV_F16, 1], [{ dtype: 'q8_0' as const }, TOL_MODEL_SEQ2SEQ_Q8_0_OF_SCALE, scale]] as const) {
      const m = await loadSeq2Seq(join(FIX, name), { ...opts, contextLength: 32 });
      try {
        const V = m.decoderVocabSize;
        const enc = await m.encode(c.input);
        const cache = m.newCache();
        let worst = 0;
        for (let step = 0; step < c.decoderIds.length; step++) {
          const got = await m.forward([c.decoderIds[step]!], { encoder: enc, cache });
          const want = c.logits.slice(step * V, (step + 1) * V);
          for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        }
        console.log(`${name} ${JSON.stringify(opts)}: max |diff| ${worst.toFixed(4)} (largest |logit| ${scale.toFixed(2)})`);
        expect(worst / of, JSON.stringify(opts)).toBeLessThanOrEqual(tol);
        cache.dispose();
        enc.dispose();
      } finally {
        m.dispose();
      }
    }
  });
}
