// BERT from a GGUF file laid out as llama.cpp's converter writes it (tools/reference/make_encoders.py
// writes bert-tiny.gguf from bert-tiny's weights): loadModel gives an encoder equal to the
// safetensors model, the file's WordPiece metadata gives a tokenizer, and bad files are refused.

import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../ts/backend/backend.js';
import { GGUFFile } from '../ts/io/gguf.js';
import { loadEncoder } from '../ts/models/encoder.js';
import { loadModel } from '../ts/models/model.js';
import { tokenizerFromGGUF } from '../ts/tokenizer/index.js';
import { TOL_MODEL_ENCODER_F32 } from './harness/tolerance.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const GGUF = join(FIX, 'bert-tiny.gguf');
const GOLDENS = JSON.parse(readFileSync(join(FIX, 'encoder-goldens.json'), 'utf8')) as { models: Record<string, { ids: number[]; tokenTypeIds: number[]; lastHiddenState: number[] }[]> };

function worst(got: Float32Array, want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let w = -Infinity;
  want.forEach((v, i) => (w = Math.max(w, Math.abs(got[i]! - v) - (TOL_MODEL_ENCODER_F32.atol + Math.abs(v) * TOL_MODEL_ENCODER_F32.rtol))));
  return w;
}

const backends: [string, () => Promise<Backend | 'native' | 'reference'>, boolean][] = [
  ['native', async () => 'native', true],
  ['reference', async () => 'reference', true],
  ['webgpu', async () => (await openWebGPU())!, HAS_WEBGPU],
];
for (const [name, open, present] of backends)
  describe.skipIf(!present)(`bert-tiny.gguf on ${name}`, () => {
    it("loadModel(file.gguf) gives an encoder whose states equal bert-tiny's PyTorch goldens, texts alone and packed", async () => {
      const m = await loadModel(GGUF, { backend: await open() });
      try {
        expect(m.kind).toBe('encoder');
        if (m.kind !== 'encoder') return;
        expect(m.config).toMatchObject({ architecture: 'bert', task: 'none', hidden: 32, layers: 2, heads: 4, ffn: 64, vocabSize: 120, typeVocabSize: 2, pooling: 'cls' });
        // The file stores layer_norm_eps as a float32.
        expect(m.config.normEps).toBe(Math.fround(1e-12));
        // llama.cpp drops the pooler.
        expect(m.hasPooler).toBe(false);
        const cases = GOLDENS.models['bert-tiny']!;
        for (const c of cases) expect(worst((await m.forward(c.ids, { tokenTypeIds: c.tokenTypeIds }))[0]!.lastHiddenState, c.lastHiddenState)).toBeLessThanOrEqual(0);
        const packed = await m.forward(cases.map((c) => c.ids), { tokenTypeIds: cases.map((c) => c.tokenTypeIds) });
        packed.forEach((o, i) => expect(worst(o.lastHiddenState, cases[i]!.lastHiddenState)).toBeLessThanOrEqual(0));
      } finally {
        m.dispose();
      }
    });
  });

describe('bert-tiny.gguf', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'attnode-bert-gguf-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('its WordPiece metadata (tokenizer.ggml.model bert, word starts marked with U+2581) gives the tokenizer', () => {
    const g = new GGUFFile(GGUF);
    try {
      expect(g.get('tokenizer.ggml.model')).toBe('bert');
      const tok = tokenizerFromGGUF(Object.fromEntries(g.metadata));
      // '\u2581w0' is the word w0, 'w1' the continuation ##w1: [CLS] w0 ##w1 w2 [SEP].
      expect(tok.encode('w0w1 w2')).toEqual([2, 5, 6, 7, 3]);
    } finally {
      g.dispose();
    }
  });

  it("{ kind: 'decoder' } refuses it, naming the architecture; loadEncoder takes it; a decoder GGUF is no encoder", async () => {
    await expect(loadModel(GGUF, { kind: 'decoder' })).rejects.toThrow(/encoder checkpoint \(general\.architecture 'bert'\)/);
    const e = await loadEncoder(GGUF, { backend: 'reference', dtype: 'f16' });
    expect(e.config.pooling).toBe('cls');
    e.dispose();
    await expect(loadEncoder(join(FIX, 'gpt2-tiny', 'model-f32.gguf'))).rejects.toThrow(/general\.architecture "gpt2" is not an encoder; supported: bert/);
    await expect(loadModel(join(FIX, 'gpt2-tiny', 'model-f32.gguf'), { kind: 'encoder' })).rejects.toThrow(/not an encoder checkpoint/);
    const bad = join(dir, 'truncated.gguf');
    copyFileSync(GGUF, bad);
    truncateSync(bad, 4000);
    await expect(loadModel(bad)).rejects.toThrow(RangeError);
  });
});
