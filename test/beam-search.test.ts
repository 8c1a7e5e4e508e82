// Beam search on the trained tiny decoders against the PyTorch reference beam search
// (tools/reference/beam_search.py, HF BeamSearchScorer semantics): ids equal, scores within
// TOL_BEAM_SCORE_F32; beams share one pass per step and reordering copies no full page.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { TOL_BEAM_SCORE_F32 } from './harness/tolerance.js';
import type { EarlyStopping } from '../ts/generate/beam-scorer.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');

interface GoldenCase {
  name: string;
  prompt: number[];
  eos: number[];
  options: {
    num_beams: number; num_return_sequences: number; length_penalty: number; early_stopping: EarlyStopping; max_new_tokens: number;
    no_repeat_ngram_size?: number; min_new_tokens?: number;
  };
  sequences: { ids: number[]; score: number; eos: boolean }[];
}
const GOLDENS = JSON.parse(readFileSync(join(FIX, 'beam-goldens.json'), 'utf8')) as { header: { script: string }; models: Record<string, GoldenCase[]> };

function options(c: GoldenCase) {
  const o = c.options;
  return {
    numBeams: o.num_beams, numReturnSequences: o.num_return_sequences, lengthPenalty: o.length_penalty, earlyStopping: o.early_stopping,
    maxNewTokens: o.max_new_tokens, eosTokenIds: c.eos,
    ...(o.no_repeat_ngram_size ? { noRepeatNgramSize: o.no_repeat_ngram_size } : {}),
    ...(o.min_new_tokens ? { minNewTokens: o.min_new_tokens } : {}),
  };
}

for (const name of ['gpt2-tiny-trained', 'llama-tiny-trained']) {
  describe(`beam search: ${name} against ${GOLDENS.header.script}`, () => {
    let model: DecoderModel;
    beforeAll(async () => {
      model = await loadModel(join(FIX, name), { kind: 'decoder', pageRows: 4 });
    });
    let worst = 0;
    afterAll(() => {
      console.log(`${name}: max |score - reference| = ${worst.toExponential(2)}`);
      model?.dispose();
    });

    for (const c of GOLDENS.models[name]!) {
      it(`${c.name}, prompt of ${c.prompt.length}`, async () => {
        const before = model.stateStats();
        const r = await model.generate(c.prompt, options(c));
        expect(r.sequences.map((s) => s.ids)).toEqual(c.sequences.map((s) => s.ids));
        expect(r.sequences.map((s) => s.eos)).toEqual(c.sequences.map((s) => s.eos));
        r.sequences.forEach((s, i) => {
          const want = c.sequences[i]!.score;
          expect(Math.abs(s.score - want)).toBeLessThanOrEqual(TOL_BEAM_SCORE_F32.atol + Math.abs(want) * TOL_BEAM_SCORE_F32.rtol);
        });
        const after = model.stateStats();
        // Forks and reorders move page tables: only partly filled pages are ever copied.
        expect(after.fullPagesCopied).toBe(before.fullPagesCopied);
        // ... while beams that share a partly filled page did copy it when they wrote (the counter is live).
        if (r.steps > 0) expect(after.pagesCopied).toBeGreaterThan(before.pagesCopied);
        worst = Math.max(worst, ...r.sequences.map((s, i) => Math.abs(s.score - c.sequences[i]!.score)));
        expect(after.pagesInUse).toBe(before.pagesInUse);
      });
    }
  });
}
