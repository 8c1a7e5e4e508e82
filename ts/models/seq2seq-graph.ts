// The two graphs of an encoder-decoder, over shared canonical parameter names, with the family's
// parts (families/seq2seq-family.ts) choosing norms, embeddings, attention details, MLP and head.
// The encoder graph also projects its output into every decoder layer's cross-attention K/V, into
// each sequence's static state part, once per sequence; the decoder graph reads those rows at every
// step. Not a family (families/t5.ts) and not the model (seq2seq.ts).

import { GraphBuilder, type KVDType, type ValueRef } from '../graph/ir.js';
import type { Seq2SeqAttention, Seq2SeqConfig, Seq2SeqParts } from './families/seq2seq-family.js';

/** A linear layer `p` (N out), with `p.b` when the family's attention has biases. */
function linear(g: GraphBuilder, x: ValueRef, p: string, n: number, bias: boolean, rows: 'T' | 'B' = 'T'): ValueRef {
  return g.op('linear', { x, weight: g.param(p), bias: bias ? g.param(`${p}.b`) : undefined }, [rows, n], p);
}

/** The attention op's arguments a family's parts add (scale, generated position bias). */
function attentionArgs(g: GraphBuilder, parts: Seq2SeqParts, cfg: Seq2SeqConfig, kind: Seq2SeqAttention) {
  const a = parts.attention(cfg, kind);
  const pb = a.positionBias;
  return {
    bias: a.bias,
    args: {
      scale: a.scale,
      ...(pb ? { positionBias: 't5' as const, biasTable: g.param(pb.table), maxDistance: pb.maxDistance, bidirectional: pb.bidirectional } : {}),
    },
  };
}

/** One residual sub-block: pre-norm x + f(norm(x)) or post-norm norm(x + f(x)), norm param `${p}.norm`. */
function residual(g: GraphBuilder, parts: Seq2SeqParts, cfg: Seq2SeqConfig, x: ValueRef, p: string, f: (h: ValueRef) => ValueRef): ValueRef {
  const C = cfg.hidden;
  if (parts.normPlacement === 'pre') return g.op('add', { a: x, b: f(parts.norm(g, cfg, x, `${p}.norm`, 'T')) }, ['T', C], `${p}.res`);
  return parts.norm(g, cfg, g.op('add', { a: x, b: f(x) }, ['T', C], `${p}.res`), `${p}.norm`, 'T');
}

/**
 * The encoder graph: inputs ids (T) i32 (and positions (T) when the family reads them); output
 * 'hidden' (T, C), the encoder's last hidden state; and, into the static part of each segment's
 * state, every decoder layer's cross K and V rows (T, H * D). Attention is bidirectional, per segment.
 */
export function seq2seqEncoderGraph(cfg: Seq2SeqConfig, parts: Seq2SeqParts, kvDtype: KVDType = 'f32'): { graph: GraphBuilder; hidden: ValueRef } {
  const g = new GraphBuilder(kvDtype);
  const { hidden: C, heads: H, headDim: D } = cfg;
  const ids = g.input('ids', 'i32', ['T']);
  const positions = parts.readsPositions ? g.input('positions', 'i32', ['T']) : undefined;
  let x = parts.embed(g, cfg, 'enc', ids, positions);
  const self = attentionArgs(g, parts, cfg, 'encoder');
  for (let i = 0; i < cfg.encoderLayers; i++) {
    const p = `enc.l${i}`;
    x = residual(g, parts, cfg, x, `${p}.attn`, (h) => {
      // q, k, v: (T, H, D)
      const [q, k, v] = (['q', 'k', 'v'] as const).map((n) => g.view(linear(g, h, `${p}.${n}`, H * D, self.bias), ['T', H, D]));
      const a = g.op('attention', { q: q!, k: k!, v: v!, causal: false, ...self.args }, ['T', H, D], `${p}.attn`);
      return linear(g, g.view(a, ['T', H * D]), `${p}.o`, C, self.bias);
    });
    x = residual(g, parts, cfg, x, `${p}.mlp`, (h) => parts.mlp(g, cfg, `${p}.mlp`, h));
  }
  if (parts.finalNorm) x = parts.norm(g, cfg, x, 'enc.final', 'T');
  // Cross K/V of every decoder layer, computed once here: (T, H * D) into the static part.
  const cross = parts.attention(cfg, 'cross');
  for (let i = 0; i < cfg.decoderLayers; i++)
    for (const which of ['k', 'v'] as const) {
      const kv = linear(g, x, `dec.l${i}.cross.${which}`, H * D, cross.bias);
      g.opInto('cast', { x: kv, dtype: kvDtype }, g.cache(i, which, 'new', ['T', H * D], 'static'));
    }
  return { graph: g, hidden: x };
}

/**
 * The decoder graph: inputs ids (T) i32, positions (T) when the family reads them, and last (B),
 * the row of each segment's last token; output 'lastLogits' (B, V). Each layer: causal
 * self-attention over the self part (its new K/V rows appended), cross-attention over the static
 * part's rows [0, E), the MLP.
 */
export function seq2seqDecoderGraph(cfg: Seq2SeqConfig, parts: Seq2SeqParts, kvDtype: KVDType = 'f32'): { graph: GraphBuilder; logits: ValueRef } {
  const g = new GraphBuilder(kvDtype);
  const { hidden: C, heads: H, headDim: D } = cfg;
  const ids = g.input('ids', 'i32', ['T']);
  const positions = parts.readsPositions ? g.input('positions', 'i32', ['T']) : undefined;
  const lastRows = g.input('last', 'i32', ['B']);
  let x = parts.embed(g, cfg, 'dec', ids, positions);
  const self = attentionArgs(g, parts, cfg, 'decoder');
  const cross = attentionArgs(g, parts, cfg, 'cross');
  for (let i = 0; i < cfg.decoderLayers; i++) {
    const p = `dec.l${i}`;
    x = residual(g, parts, cfg, x, `${p}.attn`, (h) => {
      const q = g.view(linear(g, h, `${p}.q`, H * D, self.bias), ['T', H, D]);
      for (const which of ['k', 'v'] as const)
        g.opInto('cast', { x: linear(g, h, `${p}.${which}`, H * D, self.bias), dtype: kvDtype }, g.cache(i, which, 'new', ['T', H * D]));
      const a = g.op('attention', { q, k: g.cache(i, 'k', 'all', ['S', H, D]), v: g.cache(i, 'v', 'all', ['S', H, D]), causal: true, ...self.args }, ['T', H, D], `${p}.attn`);
      return linear(g, g.view(a, ['T', H * D]), `${p}.o`, C, self.bias);
    });
    x = residual(g, parts, cfg, x, `${p}.cross`, (h) => {
      const q = g.view(linear(g, h, `${p}.cross.q`, H * D, cross.bias), ['T', H, D]);
      const k = g.cache(i, 'k', 'all', ['E', H, D], 'static');
      const v = g.cache(i, 'v', 'all', ['E', H, D], 'static');
      const a = g.op('attention', { q, k, v, causal: false, ...cross.args }, ['T', H, D], `${p}.cross`);
      return linear(g, g.view(a, ['T', H * D]), `${p}.cross.o`, C, cross.bias);
    });
    x = residual(g, parts, cfg, x, `${p}.mlp`, (h) => parts.mlp(g, cfg, `${p}.mlp`, h));
  }
  // Gathering the last rows is an embedding lookup with x as the table; norms are per row.
  let last = g.op('embedding', { table: x, ids: lastRows }, ['B', C], 'last');
  if (parts.finalNorm) last = parts.norm(g, cfg, last, 'dec.final', 'B');
  return { graph: g, logits: parts.head(g, cfg, last) };
}

/** The MLP both T5 variants use: down(act(gate(h)) * up(h)) when gated, else down(act(up(h))); no biases. */
export function seq2seqMlp(g: GraphBuilder, cfg: Seq2SeqConfig, p: string, h: ValueRef): ValueRef {
  const F = cfg.ffn;
  if (!cfg.gated) {
    const u = g.op('linear', { x: h, weight: g.param(`${p}.up`), activation: cfg.activation }, ['T', F], `${p}.up`);
    return g.op('linear', { x: u, weight: g.param(`${p}.down`) }, ['T', cfg.hidden], `${p}.down`);
  }
  const gate = g.op('linear', { x: h, weight: g.param(`${p}.gate`), activation: cfg.activation }, ['T', F], `${p}.gate`);
  const up = g.op('linear', { x: h, weight: g.param(`${p}.up`) }, ['T', F], `${p}.up`);
  const m = g.op('mul', { a: gate, b: up }, ['T', F], `${p}.glu`);
  return g.op('linear', { x: m, weight: g.param(`${p}.down`) }, ['T', cfg.hidden], `${p}.down`);
}
