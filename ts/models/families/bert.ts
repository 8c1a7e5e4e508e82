// BERT (HF modeling_bert, eager, absolute positions): its EncoderConfig from config.json, the
// binding of a safetensors checkpoint to canonical names, and the post-LN encoder graph with its
// pooler and heads. Not the loader or the forward API (../encoder.ts), and no tokenizer.

import { GraphBuilder, type ValueRef } from '../../graph/ir.js';
import type { Activation } from '../../backend/ops/linear.js';
import { int, num, refuse } from '../config.js';
import type { Binder, TensorSource } from '../weights.js';

/** The HF classes this loader builds: the bare encoder, or the encoder under one head. */
export type BertArchitecture = 'BertModel' | 'BertForMaskedLM' | 'BertForSequenceClassification' | 'BertForTokenClassification';
export const BERT_ARCHITECTURES: readonly BertArchitecture[] = ['BertModel', 'BertForMaskedLM', 'BertForSequenceClassification', 'BertForTokenClassification'];

/** What the head after the encoder is: none (BertModel), masked LM, or a classifier. */
export type EncoderTask = 'none' | 'maskedLM' | 'sequenceClassification' | 'tokenClassification';

export interface EncoderConfig {
  readonly architecture: 'bert';
  /** The HF class of the checkpoint (config.json `architectures[0]`). */
  readonly hfArchitecture: BertArchitecture;
  readonly task: EncoderTask;
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  /** FFN inner width (intermediate_size). */
  readonly ffn: number;
  /** max_position_embeddings: the longest sequence. */
  readonly maxPositions: number;
  /** type_vocab_size: token type ids are in [0, typeVocabSize). */
  readonly typeVocabSize: number;
  readonly normEps: number;
  /** hidden_act as the linear op names it: 'gelu' (erf), 'gelu_tanh' (gelu_new), 'relu'. */
  readonly activation: Activation;
  /** Classes of a classification head (from id2label, else num_labels, else 2 as HF). */
  readonly numLabels: number;
  readonly id2label?: Readonly<Record<number, string>>;
  readonly label2id?: Readonly<Record<string, number>>;
  readonly problemType?: string;
  readonly padTokenId?: number;
  /** tie_word_embeddings (default true): the MLM decoder is the word embedding table. */
  readonly tiedEmbeddings: boolean;
}

// HF's ACT2FN names that are one of the linear op's activations.
const HIDDEN_ACTS: Readonly<Record<string, Activation>> = { gelu: 'gelu', relu: 'relu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh' };

const TASKS: Readonly<Record<BertArchitecture, EncoderTask>> = {
  BertModel: 'none',
  BertForMaskedLM: 'maskedLM',
  BertForSequenceClassification: 'sequenceClassification',
  BertForTokenClassification: 'tokenClassification',
};

function labelMaps(cfg: Record<string, unknown>): { id2label?: Record<number, string>; label2id?: Record<string, number> } {
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
  return out;
}

/** EncoderConfig from a BERT config.json; a field that changes the computation and is not implemented is a RangeError naming it. */
export function bertConfigFromHF(cfg: Record<string, unknown>): EncoderConfig {
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : ['BertModel'];
  const arch = archs[0] ?? 'BertModel';
  if (!(BERT_ARCHITECTURES as readonly string[]).includes(arch))
    throw new RangeError(`config: bert 'architectures' = ${JSON.stringify(archs)} is not supported; supported: ${BERT_ARCHITECTURES.join(', ')}`);
  const pos = cfg.position_embedding_type ?? 'absolute';
  if (pos !== 'absolute') refuse('bert', 'position_embedding_type', pos, "only 'absolute' learned positions are implemented");
  const act = String(cfg.hidden_act ?? 'gelu');
  const activation = HIDDEN_ACTS[act];
  if (activation === undefined) refuse('bert', 'hidden_act', cfg.hidden_act, `supported: ${Object.keys(HIDDEN_ACTS).join(', ')}`);
  // A decoder or cross-attending BERT is another computation (causal mask, encoder states).
  if (cfg.is_decoder === true) refuse('bert', 'is_decoder', cfg.is_decoder, 'the encoder attends both ways');
  if (cfg.add_cross_attention === true) refuse('bert', 'add_cross_attention', cfg.add_cross_attention, 'no cross-attention in an encoder-only model');
  const hidden = int(cfg, 'hidden_size', 768);
  const heads = int(cfg, 'num_attention_heads', 12);
  if (hidden % heads !== 0) throw new RangeError(`config: 'hidden_size' ${hidden} is not a multiple of 'num_attention_heads' ${heads}`);
  const maps = labelMaps(cfg);
  const numLabels = maps.id2label ? Object.keys(maps.id2label).length : int(cfg, 'num_labels', 2);
  const pad = cfg.pad_token_id;
  const tie = cfg.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') throw new RangeError(`config: 'tie_word_embeddings' must be a boolean, got ${JSON.stringify(tie)}`);
  return {
    architecture: 'bert',
    hfArchitecture: arch as BertArchitecture,
    task: TASKS[arch as BertArchitecture],
    vocabSize: int(cfg, 'vocab_size', 30522),
    hidden,
    layers: int(cfg, 'num_hidden_layers', 12),
    heads,
    headDim: hidden / heads,
    ffn: int(cfg, 'intermediate_size', 3072),
    maxPositions: int(cfg, 'max_position_embeddings', 512),
    typeVocabSize: int(cfg, 'type_vocab_size', 2),
    normEps: num(cfg, 'layer_norm_eps', 1e-12),
    activation,
    tiedEmbeddings: tie,
    numLabels,
    ...maps,
    ...(typeof cfg.problem_type === 'string' ? { problemType: cfg.problem_type } : {}),
    ...(typeof pad === 'number' ? { padTokenId: pad } : {}),
  };
}

/** Heads put the encoder under 'bert.'; a saved BertModel has no prefix. */
export function bertPrefix(src: TensorSource): string {
  return src.has('bert.embeddings.word_embeddings.weight') ? 'bert.' : '';
}

/**
 * Whether the model has a pooler: sequence classification needs one; a BertModel has one when its
 * checkpoint does (HF's add_pooling_layer); masked LM and token classification never read it.
 */
export function bertHasPooler(cfg: EncoderConfig, src: TensorSource): boolean {
  if (cfg.task === 'sequenceClassification') return true;
  return cfg.task === 'none' && src.has(`${bertPrefix(src)}pooler.dense.weight`);
}

/** Binds an HF BERT checkpoint to the canonical names bertGraph reads. */
export function bindBert(b: Binder, cfg: EncoderConfig, pooler: boolean): void {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  const pre = bertPrefix(b.src);
  const e = `${pre}embeddings.`;
  b.table('embed', `${e}word_embeddings.weight`, [V, C]);
  b.table('embed.pos', `${e}position_embeddings.weight`, [cfg.maxPositions, C]);
  b.table('embed.type', `${e}token_type_embeddings.weight`, [cfg.typeVocabSize, C]);
  const ln = (param: string, name: string) => {
    b.f32(`${param}.w`, `${name}.weight`, [C]);
    b.f32(`${param}.b`, `${name}.bias`, [C]);
  };
  const linear = (param: string, name: string, shape: readonly [number, number]) => {
    const w = b.get(`${name}.weight`);
    b.expectShape(`${name}.weight`, w, shape);
    b.linear(param, w);
    b.f32(`${param}.b`, `${name}.bias`, [shape[0]]);
  };
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
  if (pooler) linear('pool', `${pre}pooler.dense`, [C, C]);
  if (cfg.task === 'maskedLM') {
    linear('mlm.dense', 'cls.predictions.transform.dense', [C, C]);
    ln('mlm.norm', 'cls.predictions.transform.LayerNorm');
    // Tied (HF's default), the decoder is the word embedding table whatever the file holds
    // (save_pretrained drops the copy; HF's tie overwrites one that was kept); untied, its own.
    const dec = cfg.tiedEmbeddings ? `${e}word_embeddings.weight` : 'cls.predictions.decoder.weight';
    const w = b.get(dec);
    b.expectShape(dec, w, [V, C]);
    b.linear('mlm.decoder', w);
    b.f32('mlm.decoder.b', b.src.has('cls.predictions.bias') ? 'cls.predictions.bias' : 'cls.predictions.decoder.bias', [V]);
  }
  if (cfg.task === 'sequenceClassification' || cfg.task === 'tokenClassification') linear('head', 'classifier', [cfg.numLabels, C]);
}

/** Every parameter bindBert binds, with its shape: (N, K) linear weights, (rows, C) tables, (C) norms and biases. */
export function bertParameters(cfg: EncoderConfig, pooler: boolean): { name: string; shape: readonly number[] }[] {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  const out: { name: string; shape: readonly number[] }[] = [];
  const lin = (n: string, rows: number, cols: number) => out.push({ name: n, shape: [rows, cols] }, { name: `${n}.b`, shape: [rows] });
  const ln = (n: string) => out.push({ name: `${n}.w`, shape: [C] }, { name: `${n}.b`, shape: [C] });
  out.push({ name: 'embed', shape: [V, C] }, { name: 'embed.pos', shape: [cfg.maxPositions, C] }, { name: 'embed.type', shape: [cfg.typeVocabSize, C] });
  ln('embed.norm');
  for (let i = 0; i < cfg.layers; i++) {
    for (const n of ['q', 'k', 'v', 'o']) lin(`l${i}.${n}`, C, C);
    ln(`l${i}.norm1`);
    lin(`l${i}.up`, F, C);
    lin(`l${i}.down`, C, F);
    ln(`l${i}.norm2`);
  }
  if (pooler) lin('pool', C, C);
  if (cfg.task === 'maskedLM') {
    lin('mlm.dense', C, C);
    ln('mlm.norm');
    lin('mlm.decoder', V, C);
  }
  if (cfg.task === 'sequenceClassification' || cfg.task === 'tokenClassification') lin('head', cfg.numLabels, C);
  return out;
}

/** The named outputs a BERT graph gives: 'hidden' (T, C), 'pooled' (B, C), 'logits' (T, V | T, L | B, L). */
export type EncoderOutputName = 'hidden' | 'pooled' | 'logits';

/**
 * The post-LN encoder: inputs ids (T), types (T), positions (T) i32 and, with a pooler, `first`
 * (B) i32, the row of each segment's first token ([CLS]) (an input no op reads is refused by
 * batching backends, so it exists only when the pooler does). Attention is bidirectional and, as every row-mixing op,
 * runs per segment, so packed sequences never see each other.
 */
export function bertGraph(cfg: EncoderConfig, pooler: boolean): { graph: GraphBuilder; outputs: Partial<Record<EncoderOutputName, ValueRef>> } {
  const g = new GraphBuilder();
  const { hidden: C, heads: H, headDim: D, normEps: eps } = cfg;
  const ids = g.input('ids', 'i32', ['T']);
  const types = g.input('types', 'i32', ['T']);
  const positions = g.input('positions', 'i32', ['T']);
  const ln = (x: ValueRef, p: string, rows: 'T' | 'B' = 'T') => g.op('layerNorm', { x, weight: g.param(`${p}.w`), bias: g.param(`${p}.b`), eps }, [rows, C], p);
  const lin = (x: ValueRef, p: string, n: number, rows: 'T' | 'B' = 'T', activation?: Activation) =>
    g.op('linear', { x, weight: g.param(p), bias: g.param(`${p}.b`), activation }, [rows, n], p);
  // x: (T, C) = word + position + token type, then LayerNorm.
  let x = g.op('embedding', { table: g.param('embed'), ids }, ['T', C], 'embed');
  x = g.op('add', { a: x, b: g.op('embedding', { table: g.param('embed.pos'), ids: positions }, ['T', C], 'embed.pos') }, ['T', C], 'embed.addpos');
  x = g.op('add', { a: x, b: g.op('embedding', { table: g.param('embed.type'), ids: types }, ['T', C], 'embed.type') }, ['T', C], 'embed.addtype');
  x = ln(x, 'embed.norm');
  for (let i = 0; i < cfg.layers; i++) {
    const p = `l${i}`;
    // q, k, v: (T, H, D); the scale is attention's default 1/sqrt(D), as modeling_bert's.
    const [q, k, v] = (['q', 'k', 'v'] as const).map((n) => g.view(lin(x, `${p}.${n}`, C), ['T', H, D]));
    const a = g.op('attention', { q: q!, k: k!, v: v!, causal: false }, ['T', H, D], `${p}.attn`);
    const o = lin(g.view(a, ['T', C]), `${p}.o`, C);
    x = ln(g.op('add', { a: o, b: x }, ['T', C], `${p}.res1`), `${p}.norm1`);
    const u = lin(x, `${p}.up`, cfg.ffn, 'T', cfg.activation);
    x = ln(g.op('add', { a: lin(u, `${p}.down`, C), b: x }, ['T', C], `${p}.res2`), `${p}.norm2`);
  }
  const outputs: Partial<Record<EncoderOutputName, ValueRef>> = { hidden: x };
  if (pooler) {
    // Gathering each segment's first row is an embedding lookup with x as the table.
    const first = g.input('first', 'i32', ['B']);
    const cls = g.op('embedding', { table: x, ids: first }, ['B', C], 'cls');
    outputs.pooled = lin(cls, 'pool', C, 'B', 'tanh');
  }
  if (cfg.task === 'maskedLM') {
    const t = ln(lin(x, 'mlm.dense', C, 'T', cfg.activation), 'mlm.norm');
    outputs.logits = lin(t, 'mlm.decoder', cfg.vocabSize);
  } else if (cfg.task === 'sequenceClassification') {
    outputs.logits = lin(outputs.pooled!, 'head', cfg.numLabels, 'B');
  } else if (cfg.task === 'tokenClassification') {
    outputs.logits = lin(x, 'head', cfg.numLabels);
  }
  return { graph: g, outputs };
}
