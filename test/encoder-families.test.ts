// RoBERTa, XLM-RoBERTa and DistilBERT (EncoderModel) against the PyTorch goldens of
// tools/reference/make_encoders.py: every layer's hidden states and attention probabilities,
// pooled vectors and head logits, one text alone and one packed ragged batch against HF's padded
// batch; positions after the padding id; config fields honoured or refused; the fixtures' tokenizers.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../ts/backend/backend.js';
import { ENCODER_POSITIONS, EncoderModel, loadEncoder, type EncoderOutput } from '../ts/models/encoder.js';
import { tokenizerFromJSON } from '../ts/tokenizer/index.js';
import { TOL_MODEL_ENCODER_F32, TOL_MODEL_ENCODER_Q8_0_OF_SCALE, type Tolerance } from './harness/tolerance.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');

interface GoldenCase {
  ids: number[];
  tokenTypeIds: number[];
  lastHiddenState: number[];
  pooled?: number[];
  logits?: number[];
  hiddenStates?: number[][];
  attentions?: number[][];
}
const GOLDENS = JSON.parse(readFileSync(join(FIX, 'encoder-goldens.json'), 'utf8')) as {
  models: Record<string, GoldenCase[]>;
  batches: Record<string, GoldenCase[]>;
};
export const FAMILY_FIXTURES = [
  'roberta-tiny', 'roberta-tiny-mlm', 'roberta-tiny-cls', 'roberta-tiny-tok', 'xlmr-tiny', 'xlmr-tiny-mlm',
  'distilbert-tiny', 'distilbert-tiny-mlm', 'distilbert-tiny-cls', 'distilbert-tiny-tok',
] as const;

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

function expectGolden(o: EncoderOutput, g: GoldenCase, tol: Tolerance = TOL_MODEL_ENCODER_F32): void {
  expect(excess(o.lastHiddenState, g.lastHiddenState, tol), 'lastHiddenState').toBeLessThanOrEqual(0);
  if (g.pooled) expect(excess(o.pooled, g.pooled, tol), 'pooled').toBeLessThanOrEqual(0);
  else expect(o.pooled).toBeUndefined();
  if (g.logits) expect(excess(o.logits, g.logits, tol), 'logits').toBeLessThanOrEqual(0);
  else expect(o.logits).toBeUndefined();
}

function goldenSuite(backendName: string, open: () => Promise<Backend | 'native' | 'reference'>): void {
  for (const name of FAMILY_FIXTURES) {
    describe(`${name} on ${backendName}`, () => {
      let m: EncoderModel;
      beforeAll(async () => {
        m = await loadEncoder(join(FIX, name), { backend: await open() });
      });
      afterAll(() => m?.dispose());
      const cases = GOLDENS.models[name]!;
      for (const g of cases)
        it(`one text of ${g.ids.length} tokens matches the golden${g.hiddenStates ? ', every layer and attention included' : ''}`, async () => {
          const [o] = await m.forward(g.ids, { outputHiddenStates: true, outputAttentions: true });
          expectGolden(o!, g);
          expect(o!.hiddenStates).toHaveLength(m.config.layers + 1);
          expect(o!.attentions).toHaveLength(m.config.layers);
          // The last hidden state is the last layer's, as in HF's tuple.
          expect(Array.from(o!.hiddenStates!.at(-1)!)).toEqual(Array.from(o!.lastHiddenState));
          if (g.hiddenStates) g.hiddenStates.forEach((h, i) => expect(excess(o!.hiddenStates![i], h, TOL_MODEL_ENCODER_F32), `hiddenStates[${i}]`).toBeLessThanOrEqual(0));
          if (g.attentions) g.attentions.forEach((a, i) => expect(excess(o!.attentions![i], a, TOL_MODEL_ENCODER_F32), `attentions[${i}]`).toBeLessThanOrEqual(0));
          // The plain pass gives the same outputs without the extras.
          const [p] = await m.forward(g.ids);
          expect(p!.hiddenStates).toBeUndefined();
          expect(p!.attentions).toBeUndefined();
          expectGolden(p!, g);
        });
      const batch = GOLDENS.batches[name]!;
      it(`one packed pass over lengths ${batch.map((c) => c.ids.length).join(', ')} equals HF's padded batch`, async () => {
        const out = await m.forward(batch.map((c) => c.ids));
        expect(out).toHaveLength(batch.length);
        out.forEach((o, i) => expectGolden(o, batch[i]!));
      });
    });
  }
}

goldenSuite('native', async () => 'native');
goldenSuite('reference', async () => 'reference');
describe.skipIf(!HAS_WEBGPU)('webgpu', () => {
  goldenSuite('webgpu', async () => (await openWebGPU())!);
});

describe('config of each family', () => {
  const cfgOf = async (name: string) => {
    const m = await loadEncoder(join(FIX, name), { backend: 'reference' });
    const c = { ...m.config, hasPooler: m.hasPooler };
    m.dispose();
    return c;
  };

  it('reads RoBERTa: positions after the padding id, one token type, multi-label problem type, labels', async () => {
    const c = await cfgOf('roberta-tiny-cls');
    expect(c).toMatchObject({ architecture: 'roberta', hfArchitecture: 'RobertaForSequenceClassification', task: 'sequenceClassification', positions: 'afterPadding', padTokenId: 1 });
    expect(c).toMatchObject({ typeVocabSize: 1, maxPositions: 50, maxSequence: 48, sequenceHead: 'tanh', activation: 'relu', normEps: 1e-5, numLabels: 3, hasPooler: false });
    expect(c.problemType).toBe('multi_label_classification');
    expect(c.id2label).toEqual({ 0: 'L0', 1: 'L1', 2: 'L2' });
    expect(c.label2id).toEqual({ L0: 0, L1: 1, L2: 2 });
    expect(await cfgOf('roberta-tiny')).toMatchObject({ task: 'none', hasPooler: true });
    // RobertaLMHead's gelu is erf gelu whatever hidden_act says.
    expect(await cfgOf('roberta-tiny-mlm')).toMatchObject({ activation: 'gelu_tanh', mlmActivation: 'gelu', normEps: 1e-12, tiedEmbeddings: true });
  });

  it('reads XLM-RoBERTa, with the encoder under roberta. in a bare model file', async () => {
    expect(await cfgOf('xlmr-tiny')).toMatchObject({ architecture: 'xlm-roberta', hfArchitecture: 'XLMRobertaModel', hasPooler: true });
    expect(await cfgOf('xlmr-tiny-mlm')).toMatchObject({ architecture: 'xlm-roberta', task: 'maskedLM', vocabSize: 51 });
  });

  it('reads DistilBERT: dim, n_layers, n_heads, hidden_dim, activation; no token types; eps 1e-12', async () => {
    expect(await cfgOf('distilbert-tiny-cls')).toMatchObject({
      architecture: 'distilbert', hidden: 32, layers: 2, heads: 4, ffn: 64, activation: 'relu', typeVocabSize: 0, normEps: 1e-12, sequenceHead: 'relu', numLabels: 3, hasPooler: false,
    });
    expect(await cfgOf('distilbert-tiny-tok')).toMatchObject({ activation: 'gelu_tanh', task: 'tokenClassification', numLabels: 4 });
  });
});

describe('positions and token types', () => {
  let rob: EncoderModel;
  let dis: EncoderModel;
  beforeAll(async () => {
    rob = await loadEncoder(join(FIX, 'roberta-tiny'));
    dis = await loadEncoder(join(FIX, 'distilbert-tiny'));
  });
  afterAll(() => {
    rob?.dispose();
    dis?.dispose();
  });

  it("numbers positions as HF's create_position_ids_from_input_ids: pads at padding_idx, the others after it, skipping pads", () => {
    const pos = (scheme: 'index' | 'afterPadding', ids: number[], pad: number) => {
      const out = new Int32Array(ids.length);
      ENCODER_POSITIONS[scheme](Int32Array.from(ids), pad, out);
      return Array.from(out);
    };
    expect(pos('afterPadding', [0, 5, 1, 7, 1, 2], 1)).toEqual([2, 3, 1, 4, 1, 5]);
    expect(pos('afterPadding', [1, 1, 4], 1)).toEqual([1, 1, 2]);
    expect(pos('afterPadding', [3, 0, 4], 0)).toEqual([1, 0, 2]);
    expect(pos('index', [0, 5, 1, 7], 1)).toEqual([0, 1, 2, 3]);
    // The goldens hold a RoBERTa-family text with the padding id inside it.
    for (const name of ['roberta-tiny', 'xlmr-tiny-mlm']) expect(GOLDENS.models[name]!.some((c) => c.ids.slice(1).includes(1)), name).toBe(true);
  });

  it('refuses a RoBERTa text longer than the positions after the padding id allow', async () => {
    await expect(rob.forward(new Array<number>(49).fill(5))).rejects.toThrow(/49 tokens, more than the 48 that max_position_embeddings 50 leaves after pad_token_id 1/);
    expect((await rob.forward(new Array<number>(48).fill(5)))[0]!.lastHiddenState).toHaveLength(48 * 32);
  });

  it('RoBERTa takes token type 0 only (type_vocab_size 1); DistilBERT has none', async () => {
    await expect(rob.forward([5, 6], { tokenTypeIds: [0, 1] })).rejects.toThrow(/'tokenTypeIds\[1\]' = 1 is outside \[0, 1\) \(type_vocab_size\)/);
    await expect(dis.forward([5, 6], { tokenTypeIds: [0, 1] })).rejects.toThrow(/'tokenTypeIds\[1\]' = 1 is outside \[0, 1\) \(distilbert has no token types\)/);
    const [z] = await dis.forward([5, 6], { tokenTypeIds: [0, 0] });
    const [n] = await dis.forward([5, 6]);
    expect(Array.from(z!.lastHiddenState)).toEqual(Array.from(n!.lastHiddenState));
  });

  it('refuses extras that are not booleans', async () => {
    await expect(rob.forward([5], { outputHiddenStates: 1 as unknown as boolean })).rejects.toThrow(/'outputHiddenStates' must be a boolean/);
    await expect(rob.forward([5], { outputAttentions: 'yes' as unknown as boolean })).rejects.toThrow(/'outputAttentions' must be a boolean/);
  });

  it('attention rows are probability distributions, and packed texts keep their own', async () => {
    const [a, b] = await rob.forward([[5, 6, 7], [8, 9]], { outputAttentions: true });
    const [alone] = await rob.forward([8, 9], { outputAttentions: true });
    for (const o of [a!, b!]) {
      const t = o.lastHiddenState.length / rob.config.hidden;
      for (const p of o.attentions!) {
        expect(p).toHaveLength(rob.config.heads * t * t);
        for (let r = 0; r < rob.config.heads * t; r++) expect(p.slice(r * t, (r + 1) * t).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      }
    }
    b!.attentions!.forEach((p, i) => expect(excess(p, Array.from(alone!.attentions![i]!), TOL_MODEL_ENCODER_F32)).toBeLessThanOrEqual(0));
  });
});

describe('config fields', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'attnode-encfam-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function variant(from: string, name: string, patch: Record<string, unknown>): string {
    const d = join(dir, name);
    cpSync(join(FIX, from), d, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, ...patch }));
    return d;
  }

  it('refuses what it does not implement, naming field and value', async () => {
    for (const from of ['roberta-tiny', 'xlmr-tiny', 'distilbert-tiny'])
      await expect(loadEncoder(variant(from, `${from}-rel`, { position_embedding_type: 'relative_key_query' }))).rejects.toThrow(/'position_embedding_type' = "relative_key_query"/);
    await expect(loadEncoder(variant('roberta-tiny', 'r-act', { hidden_act: 'swish' }))).rejects.toThrow(/roberta 'hidden_act' = "swish"/);
    await expect(loadEncoder(variant('distilbert-tiny', 'd-act', { activation: 'swish' }))).rejects.toThrow(/distilbert 'activation' = "swish"/);
    await expect(loadEncoder(variant('xlmr-tiny', 'x-dec', { is_decoder: true }))).rejects.toThrow(/'is_decoder' = true/);
    await expect(loadEncoder(variant('roberta-tiny', 'r-arch', { architectures: ['RobertaForQuestionAnswering'] }))).rejects.toThrow(/'architectures' = \["RobertaForQuestionAnswering"\]/);
    await expect(loadEncoder(variant('distilbert-tiny', 'd-arch', { architectures: ['DistilBertForMultipleChoice'] }))).rejects.toThrow(/'architectures' = \["DistilBertForMultipleChoice"\]/);
    await expect(loadEncoder(variant('roberta-tiny-cls', 'r-pt', { problem_type: 'ranking' }))).rejects.toThrow(/'problem_type' = "ranking"/);
    await expect(loadEncoder(variant('roberta-tiny', 'r-pad', { pad_token_id: 49 }))).rejects.toThrow(/'max_position_embeddings' 50 leaves no position after 'pad_token_id' 49/);
    await expect(loadEncoder(variant('distilbert-tiny', 'd-heads', { n_heads: 5 }))).rejects.toThrow(/'dim' 32 is not a multiple of 'n_heads' 5/);
    await expect(loadEncoder(variant('distilbert-tiny', 'd-sin', { sinusoidal_pos_embds: 'yes' }))).rejects.toThrow(/'sinusoidal_pos_embds' must be a boolean/);
    await expect(loadEncoder(variant('roberta-tiny-mlm', 'r-untie', { tie_word_embeddings: false }))).rejects.toThrow(/no tensor 'lm_head\.decoder\.weight'/);
  });

  it('honours layer_norm_eps, hidden_act, activation and pad_token_id: other values give other outputs', async () => {
    const pairs: [string, Record<string, unknown>][] = [
      ['roberta-tiny', { layer_norm_eps: 0.5 }],
      ['roberta-tiny', { hidden_act: 'relu' }],
      ['xlmr-tiny', { pad_token_id: 0 }],
      ['distilbert-tiny', { activation: 'relu' }],
    ];
    for (const [from, patch] of pairs) {
      const base = await loadEncoder(join(FIX, from));
      const other = await loadEncoder(variant(from, `${from}-${Object.keys(patch)[0]}`, patch));
      try {
        const ids = [3, 4, 5, 6];
        const [a] = await base.forward(ids);
        const [b] = await other.forward(ids);
        expect(Array.from(b!.lastHiddenState), `${from} ${JSON.stringify(patch)}`).not.toEqual(Array.from(a!.lastHiddenState));
      } finally {
        base.dispose();
        other.dispose();
      }
    }
  });
});

describe("the fixtures' tokenizers", () => {
  for (const [name, want] of [['roberta-tiny-mlm', [0, 2]], ['xlmr-tiny-mlm', [0, 2]]] as const)
    it(`${name}: tokenizer.json loads, wraps a text in <s> ... </s>, and its ids run through the model`, async () => {
      const tok = tokenizerFromJSON(readFileSync(join(FIX, name, 'tokenizer.json'), 'utf8'));
      const ids = tok.encode('the quick brown fox jumps over the lazy dog');
      expect([ids[0], ids.at(-1)]).toEqual(want);
      expect(ids.length).toBeGreaterThan(4);
      const m = await loadEncoder(join(FIX, name), { backend: 'reference' });
      try {
        expect(ids.every((i) => i < m.config.vocabSize)).toBe(true);
        const [o] = await m.forward(ids);
        expect(o!.logits).toHaveLength(ids.length * m.config.vocabSize);
      } finally {
        m.dispose();
      }
    });
});

describe('int8 weights', () => {
  const ALL = [...Object.keys(GOLDENS.models)];
  const backends: [string, () => Promise<Backend | 'native'>, boolean][] = [
    ['native', async () => 'native', true],
    ['webgpu', async () => (await openWebGPU())!, HAS_WEBGPU],
  ];
  for (const [be, open, present] of backends)
    it.skipIf(!present)(`dtype q8_0 on ${be} stays within TOL_MODEL_ENCODER_Q8_0_OF_SCALE of the f32 goldens on every encoder fixture`, async () => {
      const backend = await open();
      let worst = -Infinity;
      for (const name of ALL) {
        const m = await loadEncoder(join(FIX, name), { dtype: 'q8_0', backend });
        try {
          const cases = GOLDENS.models[name]!;
          const out = await m.forward(cases.map((c) => c.ids), { tokenTypeIds: cases.map((c) => c.tokenTypeIds) });
          out.forEach((o, i) => {
            const g = cases[i]!;
            for (const k of ['lastHiddenState', 'pooled', 'logits'] as const)
              if (g[k]) {
                const scale = g[k]!.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
                const e = excess(o[k], g[k]!, { atol: 0, rtol: 0 }) / scale;
                worst = Math.max(worst, e);
                expect(e, `${name} ${k}: max |diff| / max |golden|`).toBeLessThanOrEqual(TOL_MODEL_ENCODER_Q8_0_OF_SCALE);
              }
          });
        } finally {
          m.dispose();
        }
      }
      // Quantization does move the outputs (the weights were converted), by less than the budget.
      expect(worst).toBeGreaterThan(TOL_MODEL_ENCODER_Q8_0_OF_SCALE / 10);
    }, 300_000);
});
