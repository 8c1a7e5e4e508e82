// T5 from llama.cpp's 't5' GGUF: every T5 fixture converted by `attnode convert` (F32, F16, Q8_0)
// and loaded back, against the PyTorch goldens of tools/reference/make_seq2seq.py and
// make_t5_gguf.py (encoder outputs, decoder logits at every step, greedy ids), the F32 file also
// against the HF directory it came from (equal logits); and the files refused, by name.
// llama.cpp's own logits of the same files: t5-gguf-llamacpp.test.ts.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertHFToGGUF } from '../ts/convert/hf-to-gguf.js';
import { GGUFFile } from '../ts/io/gguf.js';
import { rawMetadata, writeGGUF, type GGUFWriteValue } from '../ts/io/gguf-write.js';
import { LanguageModel } from '../ts/generate/model.js';
import { loadModel } from '../ts/models/model.js';
import { loadSeq2Seq, type EncoderDecoderModel } from '../ts/models/seq2seq.js';
import { TOL_MODEL_ENCODER_F32, TOL_MODEL_LOGITS_F16_WEIGHTS, TOL_MODEL_LOGITS_F32, TOL_MODEL_SEQ2SEQ_Q8_0_OF_SCALE, type Tolerance } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
interface Case { input: number[]; encoder: number[]; decoderIds: number[]; logits: number[]; greedy: number[] }
const read = (f: string) => JSON.parse(readFileSync(join(FIX, f), 'utf8')) as { models: Record<string, Case[]> };
const GOLDENS: Record<string, Case[]> = { ...read('seq2seq-goldens.json').models, ...read('t5-gguf-goldens.json').models };
const work = mkdtempSync(join(tmpdir(), 't5-gguf-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** How far the worst element is outside |got - want| <= atol + rtol |want| (<= 0: within). */
function excess(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): number {
  expect(got.length).toBe(want.length);
  let worst = -Infinity;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) - (tol.atol + tol.rtol * Math.abs(want[i]!)));
  return worst;
}

/** Teacher-forced logits of every decoder step (one cache), (n, V) flattened. */
async function stepLogits(m: EncoderDecoderModel, c: Case): Promise<Float32Array> {
  const V = m.config.vocabSize;
  const enc = await m.encode(c.input);
  const cache = m.newCache();
  const out = new Float32Array(c.decoderIds.length * V);
  for (let s = 0; s < c.decoderIds.length; s++) out.set(await m.forward([c.decoderIds[s]!], { encoder: enc, cache }), s * V);
  cache.dispose();
  enc.dispose();
  return out;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

const FIXTURES = ['t5-tiny', 't5v11-tiny', 't5-gguf-tiny', 't5-gguf-tied'];
// Budgets against the f32 PyTorch goldens: F16 and Q8_0 as for the HF directory loaded with that dtype.
const TYPES = [['f32', TOL_MODEL_LOGITS_F32], ['f16', TOL_MODEL_LOGITS_F16_WEIGHTS], ['q8_0', TOL_MODEL_SEQ2SEQ_Q8_0_OF_SCALE]] as const;

for (const name of FIXTURES)
  for (const [type, budget] of TYPES)
    describe(`${name} converted to ${type.toUpperCase()} GGUF`, () => {
      const file = join(work, `${name}-${type}.gguf`);
      const cases = GOLDENS[name]!;

      it('loads as an encoder-decoder with the config of the HF directory', async () => {
        convertHFToGGUF(join(FIX, name), file, { type });
        const m = await loadModel(file, { kind: 'encoder-decoder', contextLength: 64 });
        const hf = await loadSeq2Seq(join(FIX, name), { contextLength: 64 });
        try {
          expect(m.kind).toBe('encoder-decoder');
          // The tied head is written as output.weight with d_model ** -0.5 folded in.
          expect({ ...m.config, tiedEmbeddings: hf.config.tiedEmbeddings }).toEqual({ ...hf.config, normEps: m.config.normEps });
          expect(m.config.tiedEmbeddings).toBe(false);
          expect(m.config.normEps).toBeCloseTo(hf.config.normEps, 12);
          expect(m.decoderStartTokenId).toBe(hf.decoderStartTokenId);
          expect(m.eosTokenIds).toEqual(hf.eosTokenIds);
        } finally {
          m.dispose();
          hf.dispose();
        }
      });

      it(`matches PyTorch (${type === 'f32' ? 'f32 tolerance' : type === 'f16' ? `max |diff| <= ${budget}` : `max |diff| <= ${budget} of the largest |logit|`}) ${type === 'f32' ? ', and equals the HF directory' : ''}`, async () => {
        const m = await loadModel(file, { kind: 'encoder-decoder', contextLength: 64 });
        const hf = await loadSeq2Seq(join(FIX, name), { contextLength: 64 });
        try {
          for (const c of cases) {
            const e = await m.encode(c.input);
            if (type === 'f32') expect(excess(e.hidden, c.encoder, TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0);
            e.dispose();
            const got = await stepLogits(m, c);
            const scale = c.logits.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
            const d = maxAbs(got, c.logits);
            console.log(`${name} ${type}: max |diff| to PyTorch ${d.toExponential(2)} (largest |logit| ${scale.toFixed(2)})`);
            if (type === 'f32') expect(excess(got, c.logits, { atol: TOL_MODEL_LOGITS_F32, rtol: TOL_MODEL_LOGITS_F32 })).toBeLessThanOrEqual(0);
            else expect(d / (type === 'q8_0' ? scale : 1)).toBeLessThanOrEqual(budget);
            // F32: the same weights as through the HF loader, so the same logits. (F16 and Q8_0 files
            // also store the token table in that type, which the HF loader keeps in f32.)
            if (type === 'f32') expect(maxAbs(got, await stepLogits(hf, c))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
            if (type !== 'q8_0') {
              const r = await m.generate(c.input, { numBeams: 1, maxTokens: c.greedy.length, ignoreEos: true });
              expect(r.sequences[0]!.ids).toEqual(c.greedy);
            }
          }
        } finally {
          m.dispose();
          hf.dispose();
        }
      });
    });

describe('a T5 GGUF file through LanguageModel (text in, text out)', () => {
  it('generates what the HF directory does, greedy and with beams; ids without text are never chosen', async () => {
    const file = join(work, 't5-gguf-tiny-text.gguf');
    convertHFToGGUF(join(FIX, 't5-gguf-tiny'), file, { type: 'f32' });
    const a = await LanguageModel.load(file);
    const b = await LanguageModel.load(join(FIX, 't5-gguf-tiny'));
    try {
      expect(a.kind).toBe('encoder-decoder');
      for (const text of ['translate English to German: The house is wonderful.', 'Hello world, this is a test.']) {
        expect(a.tokenizer.encode(text)).toEqual(b.tokenizer.encode(text));
        const o = { temperature: 0, maxTokens: 10, ignoreEos: true };
        const ga = await a.generate(text, o);
        expect(ga.ids).toEqual((await b.generate(text, o)).ids);
        expect(ga.text).toBe(a.tokenizer.decode(ga.ids));
        expect(ga.ids.every((id) => id < 304)).toBe(true);
        const beams = { numBeams: 4, numReturnSequences: 2, maxTokens: 6 };
        expect((await a.generate(text, beams)).sequences!.map((x) => x.ids)).toEqual((await b.generate(text, beams)).sequences!.map((x) => x.ids));
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('T5 GGUF files and checkpoints refused, by name', () => {
  /** The t5-gguf-tiny F32 file with metadata values replaced and tensors left out. */
  function edited(out: string, meta: Record<string, GGUFWriteValue>, drop: readonly string[] = []): string {
    const src = join(work, 'edit-src.gguf');
    convertHFToGGUF(join(FIX, 't5-gguf-tiny'), src, { type: 'f32' });
    const g = new GGUFFile(src);
    try {
      const kv = rawMetadata(g).map(([k, v]): [string, GGUFWriteValue] => [k, meta[k] ?? v]);
      const tensors = [...g.tensors.values()].filter((t) => !drop.includes(t.name)).map((t) => ({
        name: t.name, shape: t.shape, ggmlType: t.type, byteLength: t.byteLength, bytes: () => g.file.read(t.byteOffset, t.byteLength),
      }));
      writeGGUF(out, kv, tensors);
    } finally {
      g.dispose();
    }
    return out;
  }

  it("t5encoder (llama.cpp's encoder-only T5) is named as not implemented", async () => {
    const f = edited(join(work, 't5encoder.gguf'), { 'general.architecture': { type: 'string', value: 't5encoder' } });
    await expect(loadSeq2Seq(f)).rejects.toThrow(/t5encoder.*encoder-only T5 is not implemented/);
  });

  it('blocks of which only some are gated', async () => {
    const f = edited(join(work, 'half-gated.gguf'), {}, ['dec.blk.1.ffn_gate.weight']);
    await expect(loadModel(f, { kind: 'encoder-decoder' })).rejects.toThrow(/2 of 5 T5 blocks have ffn_gate|4 of 5 T5 blocks have ffn_gate/);
  });

  it('a missing position bias table, and key and value lengths that differ', async () => {
    await expect(loadModel(edited(join(work, 'no-rel.gguf'), {}, ['enc.blk.0.attn_rel_b.weight']), { kind: 'encoder-decoder' })).rejects.toThrow(/enc\.blk\.0\.attn_rel_b\.weight/);
    await expect(loadModel(edited(join(work, 'kv.gguf'), { 't5.attention.value_length': { type: 'u32', value: 4 } }), { kind: 'encoder-decoder' }))
      .rejects.toThrow(/t5\.attention\.value_length/);
  });

  it("a decoder kind for a T5 file, and the converter's refusal of an FFN llama.cpp cannot run", async () => {
    const f = join(work, 't5-gguf-tiny-f32.gguf');
    await expect(loadModel(f, { kind: 'decoder' })).rejects.toThrow(/encoder-decoder checkpoint \(general\.architecture 't5'\)/);
    const dir = join(work, 'silu');
    mkdirSync(dir);
    for (const n of ['model.safetensors', 'tokenizer.json']) copyFileSync(join(FIX, 't5-gguf-tiny', n), join(dir, n));
    const cfg = JSON.parse(readFileSync(join(FIX, 't5-gguf-tiny', 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, feed_forward_proj: 'gated-silu' }));
    expect(() => convertHFToGGUF(dir, join(work, 'silu.gguf'), { type: 'f32' })).toThrow(/feed_forward_proj.*"gated-silu" has no GGUF form/);
  });
});
