// T5 v1.0 (ReLU, tied head) and v1.1 (gated-GELU, untied, sharded, generation_config.json) against
// the PyTorch goldens of tools/reference/make_seq2seq.py (HF modeling_t5 semantics, beams from
// tools/reference/beam_search.py): encoder outputs, decoder logits at every step with
// cross-attention, single and batched; greedy and beam outputs with scores. The encoder runs once
// per request and cross K/V are computed once per request (the model's counters).

import { readFileSync, mkdtempSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../ts/models/model.js';
import { loadSeq2Seq, type EncoderDecoderModel } from '../ts/models/seq2seq.js';
import { tokenizerFromJSON } from '../ts/tokenizer/load.js';
import type { EarlyStopping } from '../ts/generate/beam-scorer.js';
import { TOL_BEAM_SCORE_F32, TOL_MODEL_ENCODER_F32, TOL_MODEL_LOGITS_F32, TOL_MODEL_LOGITS_KV_F16, TOL_MODEL_SEQ2SEQ_Q8_0_OF_SCALE, type Tolerance } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');

interface BeamCase {
  name: string;
  eos: number[];
  options: { num_beams: number; num_return_sequences: number; length_penalty: number; early_stopping: EarlyStopping; max_new_tokens: number; no_repeat_ngram_size?: number; min_new_tokens?: number };
  sequences: { ids: number[]; score: number; eos: boolean }[];
}
interface InputCase {
  input: number[];
  encoder: number[];
  decoderIds: number[];
  logits: number[];
  greedy: number[];
  beams: BeamCase[];
}
const G = JSON.parse(readFileSync(join(FIX, 'seq2seq-goldens.json'), 'utf8')) as {
  header: { script: string; layout_version: number };
  tokenizer: { text: string; ids: number[] }[];
  models: Record<string, InputCase[]>;
};

/** How far the worst element is outside |got - want| <= atol + rtol |want| (<= 0: within). */
function excess(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): number {
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
    ...(o.no_repeat_ngram_size ? { noRepeatNgramSize: o.no_repeat_ngram_size } : {}),
    ...(o.min_new_tokens ? { minNewTokens: o.min_new_tokens } : {}),
  };
}

it('reads golden layout version 1', () => expect(G.header.layout_version).toBe(1));

for (const backend of ['native', 'reference'] as const)
  for (const name of ['t5-tiny', 't5v11-tiny']) {
    const cases = G.models[name]!;
    describe(`${name} on ${backend} against ${G.header.script}`, () => {
      let model: EncoderDecoderModel;
      beforeAll(async () => {
        model = await loadModel(join(FIX, name), { kind: 'encoder-decoder', backend, pageRows: 4, maxBatch: 8, contextLength: 64 });
      });
      afterAll(() => model?.dispose());

      it('is an encoder-decoder with the config of its file', () => {
        expect(model.kind).toBe('encoder-decoder');
        expect(model.config.architecture).toBe('t5');
        expect(model.config.gated).toBe(name === 't5v11-tiny');
        expect(model.config.tiedEmbeddings).toBe(name === 't5-tiny');
        expect([model.config.encoderLayers, model.config.decoderLayers]).toEqual([2, 3]);
      });

      it('encoder outputs equal PyTorch, one input at a time and packed in one pass', async () => {
        for (const c of cases) {
          const e = await model.encode(c.input);
          expect(e.length).toBe(c.input.length);
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
        const V = model.config.vocabSize;
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
        expect(single.length).toBe(c0.decoderIds.length);
        expect(single.encoderLength).toBe(c0.input.length);
        // A whole decoder sequence in one pass, without a cache: its last position.
        const last = cases[1]!;
        const whole = await model.forward(last.decoderIds, { encoder: encs[1] });
        expect(excess(whole, last.logits.slice(-V), LOGITS)).toBeLessThanOrEqual(0);
        for (const x of [single, ...caches, ...encs]) x.dispose();
      });

      it('greedy outputs equal PyTorch', async () => {
        for (const c of cases) {
          // numBeams 1 over generation_config.json's 4 (t5v11-tiny).
          const r = await model.generate(c.input, { numBeams: 1, maxTokens: c.greedy.length, ignoreEos: true });
          expect(r.sequences[0]!.ids).toEqual(c.greedy);
        }
      });

      for (const [i, c] of cases.entries())
          for (const b of c.beams)
            it(`beam search ${b.name}, input ${i}: ids equal the reference, scores within tolerance; encoder and cross K/V once`, async () => {
              const before = model.counters;
              const pages = model.stateStats();
              const r = await model.generate(c.input, beamOptions(b));
              expect(r.sequences.map((s) => s.ids)).toEqual(b.sequences.map((s) => s.ids));
              expect(r.sequences.map((s) => s.eos)).toEqual(b.sequences.map((s) => s.eos));
              r.sequences.forEach((s, k) => {
                const want = b.sequences[k]!.score;
                expect(Math.abs(s.score - want)).toBeLessThanOrEqual(TOL_BEAM_SCORE_F32.atol + Math.abs(want) * TOL_BEAM_SCORE_F32.rtol);
              });
              const after = model.counters;
              expect(after.encoderPasses - before.encoderPasses).toBe(1);
              expect(after.encodedSequences - before.encodedSequences).toBe(1);
              expect(after.crossKVRows - before.crossKVRows).toBe(c.input.length);
              // The start token's pass, then one pass per step for all 4 beams together.
              expect(after.decoderPasses - before.decoderPasses).toBe(r.steps + 1);
              expect(after.decoderTokens - before.decoderTokens).toBe(1 + 4 * r.steps);
              // The beams share the static cross K/V pages; forks and reorders move page tables.
              expect(model.stateStats().fullPagesCopied).toBe(pages.fullPagesCopied);
              expect(model.stateStats().pagesInUse).toBe(0);
            });
    });
  }

describe('T5 loading, defaults and refusals', () => {
  it("generation_config.json's defaults are what generate() uses without options", async () => {
    const model = await loadModel(join(FIX, 't5v11-tiny'), { pageRows: 4 });
    try {
      expect(model.kind).toBe('encoder-decoder');
      if (model.kind !== 'encoder-decoder') return;
      expect(model.generationDefaults()).toEqual({ numBeams: 4, maxTokens: 8, lengthPenalty: 1, earlyStopping: false });
      const input = G.models['t5v11-tiny']![0]!.input;
      const plain = await model.generate(input);
      const explicit = await model.generate(input, { numBeams: 4, maxTokens: 8, lengthPenalty: 1, earlyStopping: false });
      expect(plain).toEqual(explicit);
      // The caller's options win over the defaults.
      const greedy = await model.generate(input, { numBeams: 1, maxTokens: 3, ignoreEos: true });
      expect(greedy.sequences[0]!.ids).toEqual(G.models['t5v11-tiny']![0]!.greedy.slice(0, 3));
    } finally {
      model.dispose();
    }
  });

  it("generation_config.json's forced_bos_token_id and forced_eos_token_id force the first and the last token", async () => {
    const dir = withConfig({});
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ decoder_start_token_id: 0, eos_token_id: 1, forced_bos_token_id: 7, forced_eos_token_id: 1, max_length: 6 }));
    const model = await loadSeq2Seq(dir, { contextLength: 32 });
    try {
      expect(model.generationDefaults()).toEqual({ maxTokens: 5, forcedTokens: new Map([[0, 7]]) });
      for (const numBeams of [1, 4]) {
        const r = await model.generate(G.models['t5-tiny']![0]!.input, { numBeams });
        const best = r.sequences[0]!;
        expect(best.ids[0]).toBe(7);
        // Forced EOS at the 5th token: at most 4 ids, and the hypothesis ended by EOS.
        expect(best.ids.length).toBeLessThanOrEqual(4);
        expect(best.eos).toBe(true);
      }
    } finally {
      model.dispose();
    }
  });

  it('the tokenizer.json of the directory gives the ids sentencepiece gives (with T5 </s>)', () => {
    const tok = tokenizerFromJSON(readFileSync(join(FIX, 't5-tiny', 'tokenizer.json'), 'utf8'));
    for (const c of G.tokenizer) expect(tok.encode(c.text), c.text).toEqual(c.ids);
  });

  it('loadModel refuses a T5 directory for another kind, and refuses decoder-only options', async () => {
    await expect(loadModel(join(FIX, 't5-tiny'), { kind: 'decoder' })).rejects.toThrow(/encoder-decoder checkpoint.*kind: 'encoder-decoder'/);
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'encoder-decoder' })).rejects.toThrow(/not an encoder-decoder checkpoint/);
    await expect(loadModel(join(FIX, 't5-tiny'), { outputs: ['hidden'] })).rejects.toThrow(TypeError);
  });

  function withConfig(patch: Record<string, unknown>): string {
    const dir = mkdtempSync(join(tmpdir(), 't5-cfg-'));
    for (const f of readdirSync(join(FIX, 't5-tiny'))) copyFileSync(join(FIX, 't5-tiny', f), join(dir, f));
    const cfg = JSON.parse(readFileSync(join(FIX, 't5-tiny', 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, ...patch }));
    return dir;
  }

  it('refuses config fields it does not implement with a RangeError naming field and value', async () => {
    await expect(loadSeq2Seq(withConfig({ feed_forward_proj: 'gated-swish' }))).rejects.toThrow(/'feed_forward_proj' = "gated-swish" is not supported/);
    await expect(loadSeq2Seq(withConfig({ relative_attention_num_buckets: 2 }))).rejects.toThrow(/'relative_attention_num_buckets' = 2 is not supported/);
    await expect(loadSeq2Seq(withConfig({ architectures: ['T5EncoderModel'] }))).rejects.toThrow(RangeError);
    await expect(loadSeq2Seq(withConfig({ is_encoder_decoder: false }))).rejects.toThrow(/'is_encoder_decoder' = false/);
    await expect(loadSeq2Seq(withConfig({ dense_act_fn: 'gelu_new' }))).rejects.toThrow(/'dense_act_fn' = "gelu_new" is not supported/);
    await expect(loadSeq2Seq(withConfig({ is_gated_act: true }))).rejects.toThrow(/'is_gated_act' = true/);
  });

  it("loads mT5's model_type and class, and the fields T5Config derives when they agree", async () => {
    const m = await loadModel(withConfig({ model_type: 'mt5', architectures: ['MT5ForConditionalGeneration'], dense_act_fn: 'relu', is_gated_act: false }), { contextLength: 16 });
    try {
      expect(m.kind).toBe('encoder-decoder');
      if (m.kind === 'encoder-decoder') expect(m.config.hfArchitecture).toBe('MT5ForConditionalGeneration');
    } finally {
      m.dispose();
    }
  });

  for (const name of ['t5-tiny', 't5v11-tiny'])
    it(`${name}: f16 K/V state and q8_0 weights stay close to the f32 goldens`, async () => {
      const c = G.models[name]![1]!;
      const V = 320;
      const scale = c.logits.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      // f16 K/V: max |diff|; q8_0: max |diff| as a fraction of the largest |logit|.
      for (const [opts, tol, of] of [[{ kvDtype: 'f16' as const }, TOL_MODEL_LOGITS_KV_F16, 1], [{ dtype: 'q8_0' as const }, TOL_MODEL_SEQ2SEQ_Q8_0_OF_SCALE, scale]] as const) {
        const m = await loadSeq2Seq(join(FIX, name), { ...opts, contextLength: 32 });
        try {
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

  it('checks its arguments: a first forward needs an encoder output, a cache keeps its own', async () => {
    const model = await loadSeq2Seq(join(FIX, 't5-tiny'), { contextLength: 32 });
    try {
      const [a, b] = await model.encodeBatch([[5, 6, 7], [8, 9]]);
      const cache = model.newCache();
      await expect(model.forward([0], { cache })).rejects.toThrow(/encoder is required/);
      await model.forward([0], { encoder: a, cache });
      await expect(model.forward([4], { encoder: b, cache })).rejects.toThrow(/another encoder output/);
      // The encoder output may go once the cache holds its rows.
      a!.dispose();
      expect((await model.forward([4], { cache })).length).toBe(model.config.vocabSize);
      await expect(model.encode([5, 320])).rejects.toThrow(/outside \[0, 320\)/);
      await expect(model.encode(new Array(33).fill(5))).rejects.toThrow(/more than the 32/);
      await expect(model.generate([5], { numBeams: 2, topK: 3 })).rejects.toThrow(TypeError);
      const small = model.newCache(2);
      await expect(model.forward([0, 4, 4], { encoder: b, cache: small })).rejects.toThrow(/0 decoder rows; 3 more exceed its capacity 2/);
      small.dispose();
      cache.dispose();
      b!.dispose();
      expect(model.stateStats().pagesInUse).toBe(0);
    } finally {
      model.dispose();
    }
  });
});
