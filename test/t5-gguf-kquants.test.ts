// T5 in every k-quant type, from files llama.cpp quantized itself (test/fixtures/models/t5-k256,
// random d_model 256 T5s, ReLU and gated-GELU, whose rows hold whole 256-value blocks): attnode's
// decoder logits at every step against llama.cpp's within TOL_LLAMACPP_T5_KQUANT_OF_SPREAD, greedy
// ids up to llama.cpp's first near-tie. Files and goldens: tools/llamacpp/make-t5-goldens.mjs --k256.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../ts/models/model.js';
import { TOL_LLAMACPP_T5_KQUANT_OF_SPREAD } from './harness/tolerance.js';

const DIR = join(import.meta.dirname, 'fixtures', 'models', 't5-k256');
interface File { variant: 'gated' | 'relu'; type: string; bytes: number; sha256: string; committed: boolean; tensor_types: Record<string, string>; cases: { logits: number[][]; greedy: number[]; greedy_top2_gaps: number[] }[] }
const G = JSON.parse(readFileSync(join(DIR, 'llamacpp-goldens.json'), 'utf8')) as {
  header: { reference: string; layout_version: number }; cases: { input: number[]; decoderIds: number[] }[]; files: Record<string, File>;
};
const committed = Object.entries(G.files).filter(([, f]) => f.committed);

it('the committed files hold every k-quant type, and are the bytes the goldens were recorded on', () => {
  expect(G.header.layout_version).toBe(1);
  const types = new Set(committed.flatMap(([, f]) => Object.values(f.tensor_types)));
  for (const t of ['q2_K', 'q3_K', 'q4_K', 'q5_K', 'q6_K']) expect(types.has(t), t).toBe(true);
  for (const [name, f] of committed) {
    const bytes = readFileSync(join(DIR, name));
    expect(createHash('sha256').update(bytes).digest('hex'), name).toBe(f.sha256);
  }
});

for (const [name, f] of committed)
  describe(`t5-k256 ${f.variant} ${f.type} (llama.cpp's file) against llama.cpp`, () => {
    it(`logits at every decoder step within ${TOL_LLAMACPP_T5_KQUANT_OF_SPREAD[f.variant][f.type]!} of each row's spread, greedy ids up to a near-tie`, async () => {
      const m = await loadModel(join(DIR, name), { kind: 'encoder-decoder', contextLength: 64 });
      try {
        let maxRel = 0;
        let maxAbs = 0;
        for (const [i, c] of G.cases.entries()) {
          const enc = await m.encode(c.input);
          const cache = m.newCache();
          for (const [s, want] of f.cases[i]!.logits.entries()) {
            const got = await m.forward([c.decoderIds[s]!], { encoder: enc, cache });
            let lo = Infinity;
            let hi = -Infinity;
            let d = 0;
            for (let v = 0; v < want.length; v++) {
              lo = Math.min(lo, want[v]!);
              hi = Math.max(hi, want[v]!);
              d = Math.max(d, Math.abs(got[v]! - want[v]!));
            }
            maxAbs = Math.max(maxAbs, d);
            maxRel = Math.max(maxRel, d / (hi - lo));
          }
          cache.dispose();
          enc.dispose();
        }
        expect(m.config.gated).toBe(f.variant === 'gated');
        expect(maxRel).toBeLessThanOrEqual(TOL_LLAMACPP_T5_KQUANT_OF_SPREAD[f.variant][f.type]!);
        // A step whose top-2 gap (llama.cpp's) is under twice the largest |diff| may rightly go either way.
        let compared = 0;
        for (const [i, c] of G.cases.entries()) {
          const g = f.cases[i]!;
          const tie = g.greedy_top2_gaps.findIndex((x) => x < 2 * maxAbs);
          const n = tie < 0 ? g.greedy.length : tie;
          compared += n;
          if (n === 0) continue;
          const r = await m.generate(c.input, { numBeams: 1, maxTokens: n, ignoreEos: true });
          expect(r.sequences[0]!.ids).toEqual(g.greedy.slice(0, n));
        }
        // Where the logits agree to summation order, every greedy step is compared.
        if (TOL_LLAMACPP_T5_KQUANT_OF_SPREAD[f.variant][f.type]! < 1e-4) expect(compared).toBe(G.cases.length * 12);
        console.log(`t5-k256 ${f.variant} ${f.type}: max |attnode - llama.cpp| ${maxAbs.toExponential(2)}, ${maxRel.toExponential(2)} of the spread; greedy compared for ${compared} of ${G.cases.length * 12} steps`);
      } finally {
        m.dispose();
      }
    });
  });
