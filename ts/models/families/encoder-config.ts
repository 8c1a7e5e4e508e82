// EncoderConfig, what every encoder-only family (BERT, RoBERTa, XLM-RoBERTa, DistilBERT) reads
// from its config.json into one shape, and the readers they share (labels, activations, refusals).
// Not a family (bert.ts, roberta.ts, distilbert.ts) and not the graph (../encoder-graph.ts).

import type { Activation } from '../../backend/ops/linear.js';
import { int, refuse } from '../config.js';

/** The encoder families, by the config.json model_type that names them. */
export type EncoderArchitecture = 'bert' | 'roberta' | 'xlm-roberta' | 'distilbert';

/** What the head after the encoder is: none (the bare model), masked LM, or a classifier. */
export type EncoderTask = 'none' | 'maskedLM' | 'sequenceClassification' | 'tokenClassification';

/** How token positions are numbered: 0, 1, 2, ... (BERT), or after the padding id, skipping pads (RoBERTa). */
export type EncoderPositions = 'index' | 'afterPadding';

/**
 * How a sequence classifier reads the first row: 'pooler' (BERT: the pooler's tanh(dense) is the
 * `pooled` output, then the classifier), 'tanh' (RoBERTa: classifier.dense, tanh, out_proj; no
 * pooler) or 'relu' (DistilBERT: pre_classifier, ReLU, classifier).
 */
export type SequenceHead = 'pooler' | 'tanh' | 'relu';

export interface EncoderConfig {
  readonly architecture: EncoderArchitecture;
  /** The HF class of the checkpoint (config.json `architectures[0]`), e.g. 'RobertaForMaskedLM'. */
  readonly hfArchitecture: string;
  readonly task: EncoderTask;
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  /** FFN inner width (intermediate_size; DistilBERT's hidden_dim). */
  readonly ffn: number;
  /** max_position_embeddings: rows of the position table. */
  readonly maxPositions: number;
  /** The longest sequence: maxPositions, less padding_idx + 1 when positions start after the padding id. */
  readonly maxSequence: number;
  readonly positions: EncoderPositions;
  /** type_vocab_size: token type ids are in [0, typeVocabSize); 0 when the model has no token types (DistilBERT). */
  readonly typeVocabSize: number;
  /** Epsilon of every LayerNorm (layer_norm_eps; DistilBERT's are 1e-12 in its code). */
  readonly normEps: number;
  /** hidden_act (DistilBERT: activation) as the linear op names it: 'gelu' (erf), 'gelu_tanh' (gelu_new), 'relu'. */
  readonly activation: Activation;
  /** The masked-LM transform's activation: hidden_act for BERT and DistilBERT, always erf gelu for RoBERTa. */
  readonly mlmActivation: Activation;
  readonly sequenceHead: SequenceHead;
  /** Classes of a classification head (from id2label, else num_labels, else 2 as HF). */
  readonly numLabels: number;
  readonly id2label?: Readonly<Record<number, string>>;
  readonly label2id?: Readonly<Record<string, number>>;
  /**
   * problem_type: 'single_label_classification' (softmax over the labels),
   * 'multi_label_classification' (a sigmoid per label) or 'regression'; absent when unset.
   */
  readonly problemType?: ProblemType;
  readonly padTokenId?: number;
  /** tie_word_embeddings (default true): the MLM decoder is the word embedding table. */
  readonly tiedEmbeddings: boolean;
  /** How the file says to pool token states into one vector (GGUF `<arch>.pooling_type`); absent from HF directories. */
  readonly pooling?: EncoderPooling;
}

/** llama.cpp's pooling types (LLAMA_POOLING_TYPE_*), by their GGUF number. */
export type EncoderPooling = 'none' | 'mean' | 'cls' | 'last' | 'rank';

export type ProblemType = 'single_label_classification' | 'multi_label_classification' | 'regression';
const PROBLEM_TYPES: readonly ProblemType[] = ['single_label_classification', 'multi_label_classification', 'regression'];

// HF's ACT2FN names that are one of the linear op's activations.
export const HIDDEN_ACTS: Readonly<Record<string, Activation>> = { gelu: 'gelu', relu: 'relu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh' };

/** The activation a config field names; any other value is refused, naming the field. */
export function activationOf(family: string, cfg: Record<string, unknown>, key: string, fallback: string): Activation {
  const v = cfg[key] ?? fallback;
  const a = typeof v === 'string' ? HIDDEN_ACTS[v] : undefined;
  if (a === undefined) refuse(family, key, cfg[key], `supported: ${Object.keys(HIDDEN_ACTS).join(', ')}`);
  return a;
}

/** The HF class a config.json names (architectures[0], default `fallback`), one of `supported`. */
export function architectureOf<A extends string>(family: string, cfg: Record<string, unknown>, supported: readonly A[], fallback: A): A {
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [fallback];
  const arch = archs[0] ?? fallback;
  if (!(supported as readonly string[]).includes(arch))
    throw new RangeError(`config: ${family} 'architectures' = ${JSON.stringify(archs)} is not supported; supported: ${supported.join(', ')}`);
  return arch as A;
}

/** Fields every family refuses alike: other position schemes, decoder use, cross-attention. */
export function refuseCommon(family: string, cfg: Record<string, unknown>): void {
  const pos = cfg.position_embedding_type ?? 'absolute';
  if (pos !== 'absolute') refuse(family, 'position_embedding_type', pos, "only 'absolute' learned positions are implemented");
  // A decoder or cross-attending encoder is another computation (causal mask, encoder states).
  if (cfg.is_decoder === true) refuse(family, 'is_decoder', cfg.is_decoder, 'the encoder attends both ways');
  if (cfg.add_cross_attention === true) refuse(family, 'add_cross_attention', cfg.add_cross_attention, 'no cross-attention in an encoder-only model');
}

/** hidden / heads, refused when they do not divide. */
export function headDimOf(hidden: number, heads: number, hiddenKey: string, headsKey: string): number {
  if (hidden % heads !== 0) throw new RangeError(`config: '${hiddenKey}' ${hidden} is not a multiple of '${headsKey}' ${heads}`);
  return hidden / heads;
}

/** The label fields: id2label / label2id maps, numLabels, problem_type and tie_word_embeddings. */
export function headFields(cfg: Record<string, unknown>): Pick<EncoderConfig, 'numLabels' | 'id2label' | 'label2id' | 'problemType' | 'tiedEmbeddings' | 'padTokenId'> {
  const out: { id2label?: Record<number, string>; label2id?: Record<string, number> } = {};
  if (cfg.id2label !== undefined) {
    if (typeof cfg.id2label !== 'object' || cfg.id2label === null) throw new RangeError(`config: 'id2label' must be an object, got ${JSON.stringify(cfg.id2label)}`);
    const m: Record<number, string> = {};
    for (const [k, v] of Object.entries(cfg.id2label)) {
      const id = Number(k);
      if (!Number.isInteger(id) || id < 0 || typeof v !== 'string') throw new RangeError(`config: 'id2label' entry ${JSON.stringify(k)}: ${JSON.stringify(v)} must map an id >= 0 to a string`);
      m[id] = v;
    }
    out.id2label = m;
  }
  if (cfg.label2id !== undefined) {
    if (typeof cfg.label2id !== 'object' || cfg.label2id === null) throw new RangeError(`config: 'label2id' must be an object, got ${JSON.stringify(cfg.label2id)}`);
    const m: Record<string, number> = {};
    for (const [k, v] of Object.entries(cfg.label2id)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`config: 'label2id' entry ${JSON.stringify(k)}: ${JSON.stringify(v)} must be an integer >= 0`);
      m[k] = v;
    }
    out.label2id = m;
  }
  const numLabels = out.id2label ? Object.keys(out.id2label).length : int(cfg, 'num_labels', 2);
  const pt = cfg.problem_type;
  if (pt !== undefined && pt !== null && !(PROBLEM_TYPES as readonly unknown[]).includes(pt))
    throw new RangeError(`config: 'problem_type' = ${JSON.stringify(pt)} is not one of ${PROBLEM_TYPES.join(', ')}`);
  const tie = cfg.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') throw new RangeError(`config: 'tie_word_embeddings' must be a boolean, got ${JSON.stringify(tie)}`);
  const pad = cfg.pad_token_id;
  return {
    numLabels,
    ...out,
    ...(typeof pt === 'string' ? { problemType: pt as ProblemType } : {}),
    tiedEmbeddings: tie,
    ...(typeof pad === 'number' ? { padTokenId: pad } : {}),
  };
}
