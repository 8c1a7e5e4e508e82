// DistilBERT (HF modeling_distilbert): its EncoderConfig from config.json (dim, n_layers, n_heads,
// hidden_dim, activation; no token types; LayerNorm eps fixed at 1e-12 in its code) and the binding
// of its weight names. Not the graph (../encoder-graph.ts) and no tokenizer (WordPiece, ts/tokenizer).

import { int } from '../config.js';
import { encoderBinding, type EncoderFamily } from '../encoder-graph.js';
import type { TensorSource } from '../weights.js';
import { activationOf, architectureOf, headDimOf, headFields, refuseCommon, type EncoderConfig, type EncoderTask } from './encoder-config.js';

const TASKS: Readonly<Record<string, EncoderTask>> = {
  DistilBertModel: 'none',
  DistilBertForMaskedLM: 'maskedLM',
  DistilBertForSequenceClassification: 'sequenceClassification',
  DistilBertForTokenClassification: 'tokenClassification',
};
const ARCHITECTURES = Object.keys(TASKS);

/** Every LayerNorm of modeling_distilbert is built with eps=1e-12 (no config field sets it). */
const DISTILBERT_NORM_EPS = 1e-12;

function distilbertConfigFromHF(cfg: Record<string, unknown>): EncoderConfig {
  const arch = architectureOf('distilbert', cfg, ARCHITECTURES, 'DistilBertModel');
  refuseCommon('distilbert', cfg);
  // sinusoidal_pos_embds: HF writes the sin/cos table into position_embeddings.weight when it
  // builds the module, so a checkpoint stores it like learned positions; it changes nothing here.
  if (cfg.sinusoidal_pos_embds !== undefined && typeof cfg.sinusoidal_pos_embds !== 'boolean')
    throw new RangeError(`config: 'sinusoidal_pos_embds' must be a boolean, got ${JSON.stringify(cfg.sinusoidal_pos_embds)}`);
  const activation = activationOf('distilbert', cfg, 'activation', 'gelu');
  const hidden = int(cfg, 'dim', 768);
  const heads = int(cfg, 'n_heads', 12);
  const maxPositions = int(cfg, 'max_position_embeddings', 512);
  return {
    architecture: 'distilbert',
    hfArchitecture: arch,
    task: TASKS[arch]!,
    vocabSize: int(cfg, 'vocab_size', 30522),
    hidden,
    layers: int(cfg, 'n_layers', 6),
    heads,
    headDim: headDimOf(hidden, heads, 'dim', 'n_heads'),
    ffn: int(cfg, 'hidden_dim', 3072),
    maxPositions,
    maxSequence: maxPositions,
    positions: 'index',
    typeVocabSize: 0,
    normEps: DISTILBERT_NORM_EPS,
    activation,
    // The MLM head's vocab_transform is followed by config.activation.
    mlmActivation: activation,
    sequenceHead: 'relu',
    ...headFields(cfg),
  };
}

/** Heads put the encoder under 'distilbert.'; a saved DistilBertModel has no prefix. */
function distilbertPrefix(src: TensorSource): string {
  return src.has('distilbert.embeddings.word_embeddings.weight') ? 'distilbert.' : '';
}

export const distilbert: EncoderFamily = {
  name: 'distilbert',
  architectures: ARCHITECTURES,
  configFromHF: distilbertConfigFromHF,
  // DistilBERT has no pooler: its sequence classifier reads the first row through pre_classifier.
  hasPooler: () => false,
  bind(b, cfg) {
    const { hidden: C, ffn: F, vocabSize: V } = cfg;
    const { ln, linear, decoder } = encoderBinding(b, C);
    const pre = distilbertPrefix(b.src);
    const e = `${pre}embeddings.`;
    b.table('embed', `${e}word_embeddings.weight`, [V, C]);
    b.table('embed.pos', `${e}position_embeddings.weight`, [cfg.maxPositions, C]);
    ln('embed.norm', `${e}LayerNorm`);
    for (let i = 0; i < cfg.layers; i++) {
      const p = `${pre}transformer.layer.${i}.`;
      linear(`l${i}.q`, `${p}attention.q_lin`, [C, C]);
      linear(`l${i}.k`, `${p}attention.k_lin`, [C, C]);
      linear(`l${i}.v`, `${p}attention.v_lin`, [C, C]);
      linear(`l${i}.o`, `${p}attention.out_lin`, [C, C]);
      ln(`l${i}.norm1`, `${p}sa_layer_norm`);
      linear(`l${i}.up`, `${p}ffn.lin1`, [F, C]);
      linear(`l${i}.down`, `${p}ffn.lin2`, [C, F]);
      ln(`l${i}.norm2`, `${p}output_layer_norm`);
    }
    if (cfg.task === 'maskedLM') {
      linear('mlm.dense', 'vocab_transform', [C, C]);
      ln('mlm.norm', 'vocab_layer_norm');
      decoder(cfg, `${e}word_embeddings.weight`, 'vocab_projector.weight', ['vocab_projector.bias']);
    }
    if (cfg.task === 'sequenceClassification') {
      linear('head.dense', 'pre_classifier', [C, C]);
      linear('head', 'classifier', [cfg.numLabels, C]);
    }
    if (cfg.task === 'tokenClassification') linear('head', 'classifier', [cfg.numLabels, C]);
  },
};
