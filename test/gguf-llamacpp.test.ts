// Whole-model parity with llama.cpp on GGUF files that llama.cpp itself quantized (the llama-k256
// fixture in every legacy and k-quant type): attnode's logits against llama.cpp's goldens within a
// per-format budget, and the same greedy continuations. Not a test of dequantization on its own.
// Fixture: tools/reference/make_llamacpp_fixture.py; files and goldens: tools/llamacpp/make-goldens.mjs.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GGUFFile } from '../ts/io/gguf.js';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { formatOfGgufType } from '../ts/tensor/formats.js';
import { TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';
import { maxDiff } from './helpers/decoding.js';
import { LLAMACPP_DIR, LLAMACPP_GOLDENS, TORCH_GOLDENS, comparePrompts, logitBudget, type LlamaCppFile } from './helpers/llamacpp.js';

/** ggml's lower-case type names (the goldens' tensor_types) -> ggml_type ids. */
const GGML_TYPE_ID: Readonly<Record<string, number>> = {
  f32: 0, f16: 1, q4_0: 2, q4_1: 3, q5_0: 6, q5_1: 7, q8_0: 8, q2_K: 10, q3_K: 11, q4_K: 12, q5_K: 13, q6_K: 14,
  iq4_nl: 20, iq4_xs: 23, bf16: 30,
};

const committed = Object.entries(LLAMACPP_GOLDENS.files).filter(([, f]) => f.committed !== false);
/** The ggml types of a file that attnode's format table (ts/tensor/formats.ts) has no entry for. */
const missingTypes = (f: LlamaCppFile) => [...new Set(Object.values(f.tensor_types))].filter((t) => formatOfGgufType(GGML_TYPE_ID[t] ?? -1) === undefined);
const unloadable = committed.filter(([, f]) => missingTypes(f).length > 0);
if (unloadable.length > 0) {
  console.warn(`gguf-llamacpp: attnode does not load ${unloadable.length} of ${committed.length} llama.cpp files yet ` +
    `(their tensor types are not in ts/tensor/formats.ts); they are NOT compared:\n` +
    unloadable.map(([n, f]) => `  ${n} (${f.type}): ${missingTypes(f).join(', ')}`).join('\n'));
}

describe('llama-k256 goldens', () => {
  it('come from llama.cpp with f32 K/V and flash attention off, for prompts of 1, 7 and 33 tokens', () => {
    expect(LLAMACPP_GOLDENS.header.reference).toMatch(/^llama\.cpp v\d+\.\d+\.\d+/);
    expect(LLAMACPP_GOLDENS.header.settings).toMatchObject({ kv_cache: 'f32', flash_attn: 'off' });
    expect(LLAMACPP_GOLDENS.prompts.map((p) => p.length)).toEqual([1, 7, 33]);
  });

  it("llama.cpp's f32 file agrees with PyTorch's forward pass of the same weights (last-position logits, greedy ids)", () => {
    const f32 = LLAMACPP_GOLDENS.files['model-f32.gguf']!;
    for (const [i, t] of TORCH_GOLDENS.prompts.entries()) {
      expect(t.prompt).toEqual(LLAMACPP_GOLDENS.prompts[i]);
      const p = f32.prompts[i]!;
      expect(maxDiff(p.logits[p.logits.length - 1]!, t.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      expect(p.greedy).toEqual(t.greedy);
    }
  });

  it('every committed file is the one the goldens were recorded on (sha256, and tensor types by attnode\'s reader)', () => {
    for (const [name, f] of committed) {
      const path = join(LLAMACPP_DIR, name);
      expect(existsSync(path), name).toBe(true);
      const bytes = readFileSync(path);
      expect(bytes.byteLength, name).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), name).toBe(f.sha256);
      if (missingTypes(f).length > 0) continue;
      const g = new GGUFFile(path);
      try {
        const types = Object.fromEntries([...g.tensors].map(([t, info]) => [t, info.typeName.toLowerCase()]));
        expect(types, name).toEqual(Object.fromEntries(Object.entries(f.tensor_types).map(([t, ty]) => [t, ty.toLowerCase()])));
      } finally {
        g.dispose();
      }
    }
  });
});

for (const [name, f] of committed) {
  const missing = missingTypes(f);
  // A file attnode cannot load yet gets the refusal test below instead of a comparison.
  if (missing.length === 0) describe(`${name} (${f.type}) against llama.cpp`, () => {
    let model: DecoderModel;
    beforeAll(async () => {
      model = await loadModel(join(LLAMACPP_DIR, name), { kind: 'decoder', outputs: ['logits', 'lastLogits'] });
    });
    afterAll(() => model?.dispose());

    it(`logits within ${logitBudget(f.type)} of each row's spread, greedy ids the same`, async () => {
      const r = await comparePrompts(model, f);
      console.log(`${name}: max |attnode - llama.cpp| / spread = ${r.maxRel.toExponential(2)} (budget ${logitBudget(f.type)}), ` +
        `greedy compared for ${r.greedyCompared} of ${r.greedyTotal} steps`);
      expect(r.maxRel).toBeLessThanOrEqual(logitBudget(f.type));
      for (const m of r.greedy) expect(m.got, m.what).toEqual(m.want);
    });
  });
  if (missing.length > 0) {
    it(`${name} (${f.type}) is refused with an error naming its tensor type, until attnode has ${missing.join(', ')}`, async () => {
      await expect(loadModel(join(LLAMACPP_DIR, name))).rejects.toThrow(new RegExp(missing.map((t) => t.toUpperCase()).join('|'), 'i'));
    });
  }
}
