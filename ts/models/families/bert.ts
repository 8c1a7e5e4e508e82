// BERT (HF modeling_bert, eager, absolute positions): its EncoderConfig from config.json and the
// binding of a safetensors checkpoint to the canonical names of the shared encoder graph
// (../encoder-graph.ts). Not the loader or the forward API (../encoder.ts), and no tokenizer.

import { int, num } from '../config.js';
import { encoderBinding, type EncoderFamily } from '../encoder-graph.js';
import type { Binder, TensorSource } from '../weights.js';
import { activationOf, architectureOf, headDimOf, headFields, refuseCommon, type EncoderConfig, type EncoderTask } from './encoder-config.js';

/** The HF classes this loader builds: the bare encoder, or the encoder under one head. */
export type BertArchitecture = 'BertModel' | 'BertForMaskedLM' | 'BertForSequenceClassification' | 'BertForTokenClassification';
export const BERT_ARCHITECTURES: readonly BertArchitecture[] = ['BertModel', 'BertForMaskedLM', 'BertForSequenceClassification', 'BertForTokenClassification'];

const TASKS: Readonly<Record<BertArchitecture, EncoderTask>> = {
  BertModel: 'none',
  BertForMaskedLM: 'maskedLM',
  BertForSequenceClassification: 'sequenceClassification',
  BertForTokenClassification: 'tokenClassification',
};

/** EncoderConfig from a BERT config.json; a field that changes the computation and is not implemented is a RangeError naming it. */
export function bertConfigFromHF(cfg: Record<string, unknown>): EncoderConfig {
  const arch = architectureOf('bert', cfg, BERT_ARCHITECTURES, 'BertModel');
  refuseCommon('bert', cfg);
  const activation = activationOf('bert', cfg, 'hidden_act', 'gelu');
  const hidden = int(cfg, 'hidden_size', 768);
  const heads = int(cfg, 'num_attention_heads', 12);
  const maxPositions = int(cfg, 'max_position_embeddings', 512);
  return {
    architecture: 'bert',
    hfArchitecture: arch,
    task: TASKS[arch],
    vocabSize: int(cfg, 'vocab_size', 30522),
    hidden,
    layers: int(cfg, 'num_hidden_layers', 12),
    heads,
    headDim: headDimOf(hidden, heads, 'hidden_size', 'num_attention_heads'),
    ffn: int(cfg, 'intermediate_size', 3072),
    maxPositions,
    maxSequence: maxPositions,
    positions: 'index',
    typeVocabSize: int(cfg, 'type_vocab_size', 2),
    normEps: num(cfg, 'layer_norm_eps', 1e-12),
    activation,
    // BertPredictionHeadTransform applies config.hidden_act.
    mlmActivation: activation,
    sequenceHead: 'pooler',
    ...headFields(cfg),
  };
}

/** Heads put the encoder under 'bert.'; a saved BertModel has no prefix. */
export function bertPrefix(src: TensorSource): string {
  return src.has('bert.embeddings.word_embeddings.weight') ? 'bert.' : '';
}

/**
 * The encoder layers as modeling_bert names them, under `pre` (shared by RoBERTa, whose layers are
 * BERT's): q, k, v, o, the two LayerNorms and the FFN of every layer, and the embeddings.
 */
export function bindBertEncoder(b: Binder, cfg: EncoderConfig, pre: string): void {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  const { ln, linear } = encoderBinding(b, C);
  const e = `${pre}embeddings.`;
  b.table('embed', `${e}word_embeddings.weight`, [V, C]);
  b.table('embed.pos', `${e}position_embeddings.weight`, [cfg.maxPositions, C]);
  b.table('embed.type', `${e}token_type_embeddings.weight`, [cfg.typeVocabSize, C]);
  ln('embed.norm', `${e}LayerNorm`);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `${pre}encoder.layer.${i}.`;
    linear(`l${i}.q`, `${p}attention.self.query`, [C, C]);
    linear(`l${i}.k`, `${p}attention.self.key`, [C, C]);
    linear(`l${i}.v`, `${p}attention.self.value`, [C, C]);
    linear(`l${i}.o`, `${p}attention.output.dense`, [C, C]);
    ln(`l${i}.norm1`, `${p}attention.output.LayerNorm`);
    linear(`l${i}.up`, `${p}intermediate.dense`, [F, C]);
    linear(`l${i}.down`, `${p}output.dense`, [C, F]);
    ln(`l${i}.norm2`, `${p}output.LayerNorm`);
  }
}

export const bert: EncoderFamily = {
  name: 'bert',
  architectures: BERT_ARCHITECTURES,
  configFromHF: bertConfigFromHF,
  // Sequence classification reads the pooler; a BertModel has one when its checkpoint does (HF's
  // add_pooling_layer); masked LM and token classification are built without it.
  hasPooler(cfg, src) {
    if (cfg.task === 'sequenceClassification') return true;
    return cfg.task === 'none' && src.has(`${bertPrefix(src)}pooler.dense.weight`);
  },
  bind(b, cfg, pooler) {
    const pre = bertPrefix(b.src);
    bindBertEncoder(b, cfg, pre);
    const { ln, linear, decoder } = encoderBinding(b, cfg.hidden);
    const C = cfg.hidden;
    if (pooler) linear('pool', `${pre}pooler.dense`, [C, C]);
    if (cfg.task === 'maskedLM') {
      linear('mlm.dense', 'cls.predictions.transform.dense', [C, C]);
      ln('mlm.norm', 'cls.predictions.transform.LayerNorm');
      decoder(cfg, `${pre}embeddings.word_embeddings.weight`, 'cls.predictions.decoder.weight', ['cls.predictions.bias', 'cls.predictions.decoder.bias']);
    }
    if (cfg.task === 'sequenceClassification' || cfg.task === 'tokenClassification') linear('head', 'classifier', [cfg.numLabels, C]);
  },
};
