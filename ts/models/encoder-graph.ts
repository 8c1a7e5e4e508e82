// The post-LN encoder graph every encoder family shares (BERT, RoBERTa, XLM-RoBERTa, DistilBERT),
// over canonical parameter names, with its pooler and heads; the list of those parameters; and the
// binding helpers the families' binders use. Not a family's config or weight names (families/).

import { GraphBuilder, type ValueRef } from '../graph/ir.js';
import type { Activation } from '../backend/ops/linear.js';
import type { EncoderArchitecture, EncoderConfig } from './families/encoder-config.js';
import type { Binder, TensorSource } from './weights.js';

/** What an encoder family contributes to the table in families/encoders.ts. */
export interface EncoderFamily {
  readonly name: EncoderArchitecture;
  /** The HF classes it builds (config.json `architectures[0]`). */
  readonly architectures: readonly string[];
  /** From a config.json; a field that changes the computation and is not implemented is a RangeError naming it. */
  configFromHF(cfg: Record<string, unknown>): EncoderConfig;
  /** Whether the model has a pooler (a bare model: when its checkpoint does). */
  hasPooler(cfg: EncoderConfig, src: TensorSource): boolean;
  /** Binds an HF safetensors checkpoint to the canonical names of encoderParameters(). */
  bind(b: Binder, cfg: EncoderConfig, pooler: boolean): void;
}

/**
 * The named outputs: 'hidden' (T, C) the last layer; 'pooled' (B, C); 'logits' (T, V | T, L | B, L);
 * with `everyLayer`, 'hidden.0' (the embeddings' output) to 'hidden.N' (T, C) and each layer's
 * 'q.i' and 'k.i' (T, H, D), from which attention probabilities are computed when asked.
 */
export type EncoderOutputName = 'hidden' | 'pooled' | 'logits' | `hidden.${number}` | `q.${number}` | `k.${number}`;

/** Whether the graph reads a `first` input (the row of each segment's first token). */
export function readsFirst(cfg: EncoderConfig, pooler: boolean): boolean {
  return pooler || (cfg.task === 'sequenceClassification' && cfg.sequenceHead !== 'pooler');
}

/**
 * The graph: inputs ids (T), types (T, only with token types), positions (T) i32 and, when
 * readsFirst(), `first` (B) i32 (an input no op reads is refused by batching backends, so each
 * exists only when read). Attention is bidirectional and, as every row-mixing op, runs per
 * segment, so packed sequences never see each other.
 */
export function encoderGraph(cfg: EncoderConfig, pooler: boolean, everyLayer = false): { graph: GraphBuilder; outputs: Partial<Record<EncoderOutputName, ValueRef>> } {
  const g = new GraphBuilder();
  const { hidden: C, heads: H, headDim: D, normEps: eps } = cfg;
  const ids = g.input('ids', 'i32', ['T']);
  const types = cfg.typeVocabSize > 0 ? g.input('types', 'i32', ['T']) : undefined;
  const positions = g.input('positions', 'i32', ['T']);
  const first = readsFirst(cfg, pooler) ? g.input('first', 'i32', ['B']) : undefined;
  const ln = (x: ValueRef, p: string, rows: 'T' | 'B' = 'T') => g.op('layerNorm', { x, weight: g.param(`${p}.w`), bias: g.param(`${p}.b`), eps }, [rows, C], p);
  const lin = (x: ValueRef, p: string, n: number, rows: 'T' | 'B' = 'T', activation?: Activation) =>
    g.op('linear', { x, weight: g.param(p), bias: g.param(`${p}.b`), activation }, [rows, n], p);
  const outputs: Partial<Record<EncoderOutputName, ValueRef>> = {};
  // x: (T, C) = word + position (+ token type), then LayerNorm.
  let x = g.op('embedding', { table: g.param('embed'), ids }, ['T', C], 'embed');
  x = g.op('add', { a: x, b: g.op('embedding', { table: g.param('embed.pos'), ids: positions }, ['T', C], 'embed.pos') }, ['T', C], 'embed.addpos');
  if (types) x = g.op('add', { a: x, b: g.op('embedding', { table: g.param('embed.type'), ids: types }, ['T', C], 'embed.type') }, ['T', C], 'embed.addtype');
  x = ln(x, 'embed.norm');
  if (everyLayer) outputs['hidden.0'] = x;
  for (let i = 0; i < cfg.layers; i++) {
    const p = `l${i}`;
    // q, k, v: (T, H, D); the scale is attention's default 1/sqrt(D), as in every family's code.
    const [q, k, v] = (['q', 'k', 'v'] as const).map((n) => g.view(lin(x, `${p}.${n}`, C), ['T', H, D]));
    if (everyLayer) {
      outputs[`q.${i}`] = q!;
      outputs[`k.${i}`] = k!;
    }
    const a = g.op('attention', { q: q!, k: k!, v: v!, causal: false }, ['T', H, D], `${p}.attn`);
    const o = lin(g.view(a, ['T', C]), `${p}.o`, C);
    x = ln(g.op('add', { a: o, b: x }, ['T', C], `${p}.res1`), `${p}.norm1`);
    const u = lin(x, `${p}.up`, cfg.ffn, 'T', cfg.activation);
    x = ln(g.op('add', { a: lin(u, `${p}.down`, C), b: x }, ['T', C], `${p}.res2`), `${p}.norm2`);
    if (everyLayer) outputs[`hidden.${i + 1}`] = x;
  }
  outputs.hidden = x;
  // Gathering each segment's first row is an embedding lookup with x as the table.
  const cls = first ? g.op('embedding', { table: x, ids: first }, ['B', C], 'cls') : undefined;
  if (pooler) outputs.pooled = lin(cls!, 'pool', C, 'B', 'tanh');
  if (cfg.task === 'maskedLM') {
    const t = ln(lin(x, 'mlm.dense', C, 'T', cfg.mlmActivation), 'mlm.norm');
    outputs.logits = lin(t, 'mlm.decoder', cfg.vocabSize);
  } else if (cfg.task === 'sequenceClassification') {
    const h = cfg.sequenceHead === 'pooler' ? outputs.pooled! : lin(cls!, 'head.dense', C, 'B', cfg.sequenceHead);
    outputs.logits = lin(h, 'head', cfg.numLabels, 'B');
  } else if (cfg.task === 'tokenClassification') {
    outputs.logits = lin(x, 'head', cfg.numLabels);
  }
  return { graph: g, outputs };
}

/** Every parameter a family's binder binds, with its shape: (N, K) linear weights, (rows, C) tables, (C) norms and biases. */
export function encoderParameters(cfg: EncoderConfig, pooler: boolean): { name: string; shape: readonly number[] }[] {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  const out: { name: string; shape: readonly number[] }[] = [];
  const lin = (n: string, rows: number, cols: number) => out.push({ name: n, shape: [rows, cols] }, { name: `${n}.b`, shape: [rows] });
  const ln = (n: string) => out.push({ name: `${n}.w`, shape: [C] }, { name: `${n}.b`, shape: [C] });
  out.push({ name: 'embed', shape: [V, C] }, { name: 'embed.pos', shape: [cfg.maxPositions, C] });
  if (cfg.typeVocabSize > 0) out.push({ name: 'embed.type', shape: [cfg.typeVocabSize, C] });
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
  if (cfg.task === 'sequenceClassification' && cfg.sequenceHead !== 'pooler') lin('head.dense', C, C);
  if (cfg.task === 'sequenceClassification' || cfg.task === 'tokenClassification') lin('head', cfg.numLabels, C);
  return out;
}

/** Binding helpers over HF names: a LayerNorm ('<name>.weight', '<name>.bias') and a linear layer. */
export function encoderBinding(b: Binder, C: number) {
  return {
    ln(param: string, name: string, weight = 'weight', bias = 'bias'): void {
      b.f32(`${param}.w`, `${name}.${weight}`, [C]);
      b.f32(`${param}.b`, `${name}.${bias}`, [C]);
    },
    linear(param: string, name: string, shape: readonly [number, number]): void {
      const w = b.get(`${name}.weight`);
      b.expectShape(`${name}.weight`, w, shape);
      b.linear(param, w);
      b.f32(`${param}.b`, `${name}.bias`, [shape[0]]);
    },
    /** The MLM decoder: the word table when tied (whatever the file holds: HF's tie overwrites a kept copy), else `own`. */
    decoder(cfg: EncoderConfig, wordTable: string, own: string, biases: readonly string[]): void {
      const name = cfg.tiedEmbeddings ? wordTable : own;
      const w = b.get(name);
      b.expectShape(name, w, [cfg.vocabSize, C]);
      b.linear('mlm.decoder', w);
      const bias = biases.find((n) => b.src.has(n)) ?? biases[0]!;
      b.f32('mlm.decoder.b', bias, [cfg.vocabSize]);
    },
  };
}
