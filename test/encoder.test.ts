// BERT (EncoderModel) against the PyTorch goldens of tools/reference/make_encoders.py: hidden
// states, pooled vectors and head logits on the native, reference and WebGPU backends; a packed
// ragged batch equal to each text alone; and the errors bad inputs and config fields give.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../ts/backend/backend.js';
import { EncoderModel, loadEncoder, type EncoderOutput } from '../ts/models/encoder.js';
import { loadModel } from '../ts/models/model.js';
import { TOL_MODEL_ENCODER_F32, TOL_MODEL_LOGITS_BF16_WEIGHTS, TOL_MODEL_LOGITS_F16_WEIGHTS, type Tolerance } from './harness/tolerance.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');

interface GoldenCase { ids: number[]; tokenTypeIds: number[]; lastHiddenState: number[]; pooled?: number[]; logits?: number[] }
const GOLDENS = JSON.parse(readFileSync(join(FIX, 'encoder-goldens.json'), 'utf8')) as { header: { script: string }; models: Record<string, GoldenCase[]> };
const MODELS = ['bert-tiny', 'bert-tiny-mlm', 'bert-tiny-cls', 'bert-tiny-tok', 'bert-tiny-mlm-untied'] as const;

/** Largest |got - want| beyond the tolerance's allowance (<= 0 passes); NaN when any value is NaN. */
function excess(got: Float32Array | undefined, want: readonly number[], tol: Tolerance): number {
  expect(got, 'output present').toBeDefined();
  expect(got!.length).toBe(want.length);
  let worst = -Infinity;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got![i]! - want[i]!) - (tol.atol + Math.abs(want[i]!) * tol.rtol);
    if (Number.isNaN(d)) return NaN;
    worst = Math.max(worst, d);
  }
  return worst;
}

function expectGolden(o: EncoderOutput, g: GoldenCase): void {
  expect(excess(o.lastHiddenState, g.lastHiddenState, TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0);
  if (g.pooled) expect(excess(o.pooled, g.pooled, TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0);
  else expect(o.pooled).toBeUndefined();
  if (g.logits) expect(excess(o.logits, g.logits, TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0);
  else expect(o.logits).toBeUndefined();
  for (const v of [o.lastHiddenState, o.pooled, o.logits]) if (v) expect(v.every(Number.isFinite)).toBe(true);
}

function goldenSuite(backendName: string, open: () => Promise<Backend | 'native' | 'reference'>): void {
  for (const name of MODELS) {
    describe(`${name} on ${backendName}`, () => {
      let m: EncoderModel;
      beforeAll(async () => {
        const backend = await open();
        m = await loadEncoder(join(FIX, name), { backend });
      });
      afterAll(() => m?.dispose());
      const cases = GOLDENS.models[name]!;
      for (const g of cases)
        it(`one text of ${g.ids.length} tokens matches the golden`, async () => {
          const [o] = await m.forward(g.ids, { tokenTypeIds: g.tokenTypeIds });
          expectGolden(o!, g);
        });
      it(`one packed pass over lengths ${cases.map((c) => c.ids.length).join(', ')} gives each text its golden`, async () => {
        const out = await m.forward(cases.map((c) => c.ids), { tokenTypeIds: cases.map((c) => c.tokenTypeIds) });
        expect(out).toHaveLength(cases.length);
        out.forEach((o, i) => expectGolden(o, cases[i]!));
      });
      it('a packed pass in another order gives each text the same outputs as alone', async () => {
        const order = [2, 0, 1];
        const alone: EncoderOutput[] = [];
        for (const c of cases) alone.push((await m.forward(c.ids, { tokenTypeIds: c.tokenTypeIds }))[0]!);
        const packed = await m.forward(order.map((i) => cases[i]!.ids), { tokenTypeIds: order.map((i) => cases[i]!.tokenTypeIds) });
        packed.forEach((o, k) => {
          const a = alone[order[k]!]!;
          expect(excess(o.lastHiddenState, Array.from(a.lastHiddenState), TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0);
          if (a.logits) expect(excess(o.logits, Array.from(a.logits), TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0);
        });
      });
    });
  }
}

goldenSuite('native', async () => 'native');
goldenSuite('reference', async () => 'reference');
describe.skipIf(!HAS_WEBGPU)('webgpu', () => {
  goldenSuite('webgpu', async () => (await openWebGPU())!);
});

describe('EncoderModel', () => {
  let m: EncoderModel;
  beforeAll(async () => {
    m = await loadEncoder(join(FIX, 'bert-tiny-cls'));
  });
  afterAll(() => m?.dispose());

  it('reads the config: task, labels, problem type, activation', () => {
    expect(m.kind).toBe('encoder');
    expect(m.config.task).toBe('sequenceClassification');
    expect(m.config.numLabels).toBe(3);
    expect(m.config.id2label).toEqual({ 0: 'L0', 1: 'L1', 2: 'L2' });
    expect(m.config.label2id).toEqual({ L0: 0, L1: 1, L2: 2 });
    expect(m.config.problemType).toBe('single_label_classification');
    expect(m.config.activation).toBe('relu');
    expect(m.hasPooler).toBe(true);
  });

  it('packed sequences do not attend to each other: a neighbour changes nothing, a changed token in the same text does', async () => {
    const a = GOLDENS.models['bert-tiny-cls']![1]!.ids;
    const n1 = [5, 6, 7, 8, 9];
    const n2 = [50, 60, 70, 80, 90];
    const [x1] = await m.forward([a, n1]);
    const [x2] = await m.forward([a, n2]);
    expect(Array.from(x2!.lastHiddenState)).toEqual(Array.from(x1!.lastHiddenState));
    // The test can fail: within one text, every token sees every other (bidirectional), so
    // changing its last token moves the first token's state and the pooled [CLS] output.
    const b = [...a.slice(0, -1), (a[a.length - 1]! + 1) % m.config.vocabSize];
    const [y] = await m.forward([b, n1]);
    const d = y!.lastHiddenState.slice(0, m.config.hidden).reduce((s, v, i) => Math.max(s, Math.abs(v - x1!.lastHiddenState[i]!)), 0);
    expect(d).toBeGreaterThan(1e-3);
  });

  it('token types change the outputs', async () => {
    const ids = [3, 4, 5, 6];
    const [z] = await m.forward(ids);
    const [o] = await m.forward(ids, { tokenTypeIds: [0, 0, 1, 1] });
    expect(Array.from(o!.logits!)).not.toEqual(Array.from(z!.logits!));
  });

  it('refuses bad inputs, naming the argument', async () => {
    const V = m.config.vocabSize;
    await expect(m.forward([])).rejects.toThrow(/'batch' is empty/);
    await expect(m.forward([[1, 2], []])).rejects.toThrow(/'batch\[1\]' is empty/);
    await expect(m.forward([1, V])).rejects.toThrow(new RegExp(`'batch\\[1\\]' = ${V} is outside \\[0, ${V}\\)`));
    await expect(m.forward([[1], [2, -1]])).rejects.toThrow(/'batch\[1\]\[1\]' = -1/);
    await expect(m.forward([1, 2.5])).rejects.toThrow(/'batch\[1\]' = 2.5/);
    await expect(m.forward(new Array<number>(65).fill(1))).rejects.toThrow(/65 tokens, more than max_position_embeddings 64/);
    await expect(m.forward([1, 2], { tokenTypeIds: [0] })).rejects.toThrow(/'tokenTypeIds' has 1 ids, 'batch' 2/);
    await expect(m.forward([[1, 2], [3]], { tokenTypeIds: [[0, 1]] })).rejects.toThrow(/'tokenTypeIds' holds 1 sequences, 'batch' 2/);
    await expect(m.forward([1, 2], { tokenTypeIds: [0, 2] })).rejects.toThrow(/'tokenTypeIds\[1\]' = 2 is outside \[0, 2\) \(type_vocab_size\)/);
    await expect(m.forward('abc' as unknown as number[])).rejects.toThrow(TypeError);
    await expect(m.forward([1], { tokenTypeId: [0] } as unknown as { tokenTypeIds: number[] })).rejects.toThrow(/tokenTypeId/);
    await expect(m.forward(Array.from({ length: 17 }, () => [1]))).rejects.toThrow(/17 sequences, more than maxBatch 16/);
    // The model still works after every refusal.
    expect((await m.forward([1, 2, 3]))[0]!.logits).toHaveLength(3);
  });

  it('refuses a second pass while one runs, and any after dispose()', async () => {
    const e = await loadEncoder(join(FIX, 'bert-tiny'));
    const first = e.forward([1, 2, 3]);
    await expect(e.forward([4])).rejects.toThrow(/a forward pass is already running/);
    expect((await first)[0]!.lastHiddenState).toHaveLength(3 * e.config.hidden);
    e.dispose();
    await expect(e.forward([1])).rejects.toThrow(/the model was disposed/);
    e.dispose();
  });

  it('takes typed arrays and one array as a one-item batch', async () => {
    const [a] = await m.forward(Int32Array.from([1, 2, 3]));
    const [b] = await m.forward([[1, 2, 3]]);
    expect(Array.from(a!.logits!)).toEqual(Array.from(b!.logits!));
  });
});

describe('loadModel and BERT config fields', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'attnode-bert-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A copy of a fixture (default bert-tiny) with config fields replaced. */
  function variant(name: string, patch: Record<string, unknown>, from = 'bert-tiny'): string {
    const d = join(dir, name);
    cpSync(join(FIX, from), d, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, ...patch }));
    return d;
  }

  it("loadModel gives an EncoderModel by default, with { kind: 'encoder' } or 'any', and refuses a BERT for a decoder caller", async () => {
    const e = await loadModel(join(FIX, 'bert-tiny-mlm'), { kind: 'encoder', backend: 'reference' });
    expect(e.kind).toBe('encoder');
    expect(e.config.task).toBe('maskedLM');
    e.dispose();
    const any = await loadModel(join(FIX, 'bert-tiny'), { kind: 'any' });
    expect(any.kind).toBe('encoder');
    if (any.kind === 'encoder') expect((await any.forward([1, 2]))[0]!.pooled).toHaveLength(32);
    any.dispose();
    const byDefault = await loadModel(join(FIX, 'bert-tiny'), { backend: 'reference' });
    expect(byDefault.kind).toBe('encoder');
    byDefault.dispose();
    await expect(loadModel(join(FIX, 'bert-tiny'), { kind: 'decoder' })).rejects.toThrow(/encoder checkpoint .*kind/);
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'encoder' })).rejects.toThrow(/not an encoder checkpoint/);
    await expect(loadModel(join(FIX, 'bert-tiny'), { kind: 'encoder', contextLength: 8 })).rejects.toThrow(/'contextLength' is a decoder option/);
    // Taking either kind, an unclaimed model_type is refused with both lists.
    await expect(loadModel(variant('electra', { model_type: 'electra' }))).rejects.toThrow(/model_type 'electra'.*supported: gpt2, llama.*; encoder model_types: bert, roberta, xlm-roberta, distilbert/);
    const d = await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'any' });
    expect(d.kind).toBe('decoder');
    d.dispose();
  });

  it('refuses fields it does not implement, naming field and value', async () => {
    await expect(loadEncoder(variant('rel', { position_embedding_type: 'relative_key' }))).rejects.toThrow(/'position_embedding_type' = "relative_key"/);
    await expect(loadEncoder(variant('act', { hidden_act: 'swish' }))).rejects.toThrow(/'hidden_act' = "swish"/);
    await expect(loadEncoder(variant('dec', { is_decoder: true }))).rejects.toThrow(/'is_decoder' = true/);
    await expect(loadEncoder(variant('arch', { architectures: ['BertForQuestionAnswering'] }))).rejects.toThrow(/'architectures' = \["BertForQuestionAnswering"\]/);
    await expect(loadEncoder(variant('heads', { num_attention_heads: 5 }))).rejects.toThrow(/'hidden_size' 32 is not a multiple of 'num_attention_heads' 5/);
    await expect(loadEncoder(variant('eps', { layer_norm_eps: -1 }))).rejects.toThrow(/'layer_norm_eps'/);
    await expect(loadEncoder(variant('untie', { tie_word_embeddings: false }, 'bert-tiny-mlm'))).rejects.toThrow(/no tensor 'cls\.predictions\.decoder\.weight'/);
    await expect(loadEncoder(variant('tie', { tie_word_embeddings: 'yes' }))).rejects.toThrow(/'tie_word_embeddings' must be a boolean/);
    await expect(loadEncoder(variant('ffn', { intermediate_size: 48 }))).rejects.toThrow(/intermediate\.dense\.weight' has shape \[64, 32\], expected \[48, 32\]/);
  });

  it('honours layer_norm_eps and hidden_act: other values give other outputs', async () => {
    const base = await loadEncoder(join(FIX, 'bert-tiny'));
    const relu = await loadEncoder(variant('relu', { hidden_act: 'relu' }));
    const eps = await loadEncoder(variant('eps-big', { layer_norm_eps: 0.5 }));
    try {
      const ids = [1, 2, 3, 4];
      const [a] = await base.forward(ids);
      const [b] = await relu.forward(ids);
      const [c] = await eps.forward(ids);
      expect(Array.from(b!.lastHiddenState)).not.toEqual(Array.from(a!.lastHiddenState));
      expect(Array.from(c!.lastHiddenState)).not.toEqual(Array.from(a!.lastHiddenState));
    } finally {
      base.dispose();
      relu.dispose();
      eps.dispose();
    }
  });
});

describe('weights converted at load', () => {
  // Measured max |diff| over every output of the four fixtures: f16 0.016 (MLM logits), bf16 0.10.
  for (const [dtype, tol] of [['f16', TOL_MODEL_LOGITS_F16_WEIGHTS], ['bf16', TOL_MODEL_LOGITS_BF16_WEIGHTS]] as const)
    it(`dtype ${dtype} stays within the whole-model budget of the f32 goldens`, async () => {
      for (const name of MODELS) {
        const m = await loadEncoder(join(FIX, name), { dtype });
        try {
          const cases = GOLDENS.models[name]!;
          const out = await m.forward(cases.map((c) => c.ids), { tokenTypeIds: cases.map((c) => c.tokenTypeIds) });
          out.forEach((o, i) => {
            const g = cases[i]!;
            for (const k of ['lastHiddenState', 'pooled', 'logits'] as const) if (g[k]) expect(excess(o[k], g[k]!, { atol: tol, rtol: 0 }), `${name} ${k}`).toBeLessThanOrEqual(0);
          });
        } finally {
          m.dispose();
        }
      }
    });
});

it('goldens say where they come from', () => {
  expect(GOLDENS.header.script).toBe('tools/reference/make_encoders.py');
});
