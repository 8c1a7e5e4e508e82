// Graph blocks shared by the decoder families: norms, attention with a KV cache, GELU and SwiGLU
// MLPs, the pre-norm stack and the unembedding of the last position. Parameter names are
// canonical ('l0.q', 'final.w'). Not per family: families/*.ts choose the parts and bind weights.

import { GraphBuilder, type KVDType, type ValueRef } from '../graph/ir.js';
import type { DecoderConfig } from './config.js';
import { ropeArgs, type RopeScaling } from './rope.js';

export type NormKind = 'layerNorm' | 'rmsNorm';

/** x: (T, C) -> (T, C); params `${p}.w` (and `${p}.b` for LayerNorm). */
export function norm(g: GraphBuilder, kind: NormKind, x: ValueRef, p: string, eps: number, rows: 'T' | 'B' = 'T', c = 0): ValueRef {
  const shape = [rows, c] as const;
  return kind === 'layerNorm'
    ? g.op('layerNorm', { x, weight: g.param(`${p}.w`), bias: g.param(`${p}.b`), eps }, [...shape], p)
    : g.op('rmsNorm', { x, weight: g.param(`${p}.w`), eps }, [...shape], p);
}

export interface AttentionOptions {
  /** Bias on the q, k, v and o projections (GPT-2). */
  bias: boolean;
  /** Bias on q, k and v only, not o (Qwen2): params `${p}.q.b`, `${p}.k.b`, `${p}.v.b`. */
  qkvBias?: boolean;
  /**
   * RMSNorm of each head of q and k over its D values, before the rotation (Qwen3), with this
   * epsilon: params `${p}.qnorm.w`, `${p}.knorm.w` (D).
   */
  qkNorm?: number;
  /** Rotary embeddings on q and k (Llama); positions: (T) i32. */
  rope?: { positions: ValueRef; theta: number; interleaved: boolean; rotaryDim?: number; scaling?: RopeScaling };
  /** Sliding window: each position attends to the last `window` positions (Mistral). */
  window?: number;
  /** Score scale (Gemma's query_pre_attn_scalar^-0.5); default 1/sqrt(D). */
  scale?: number;
  /** Attention logit soft-capping (Gemma 2): tanh(s / softcap) * softcap before the mask. */
  softcap?: number;
}

/**
 * Self-attention of layer `i` over h: (T, C) -> (T, C). K and V rows for the new tokens go
 * into the layer's cache (Tmax, Hkv, D); attention reads rows [0, P+T) of it, per segment.
 */
export function attention(g: GraphBuilder, cfg: DecoderConfig, i: number, h: ValueRef, o: AttentionOptions): ValueRef {
  const { heads: H, kvHeads: KV, headDim: D, hidden: C } = cfg;
  const p = `l${i}`;
  const b = (n: string) => (o.bias || (o.qkvBias && n !== 'o') ? g.param(`${p}.${n}.b`) : undefined);
  let q = g.view(g.op('linear', { x: h, weight: g.param(`${p}.q`), bias: b('q') }, ['T', H * D], `${p}.q`), ['T', H, D]);
  // Per-head norms (T, heads, D) -> (T, heads, D) over each head's D values.
  const headNorm = (x: ValueRef, which: 'q' | 'k', heads: number) =>
    g.op('rmsNorm', { x, weight: g.param(`${p}.${which}norm.w`), eps: o.qkNorm }, ['T', heads, D], `${p}.${which}norm`);
  if (o.qkNorm !== undefined) q = headNorm(q, 'q', H);
  // K and V are computed for all of the pass's rows at once, then cast into each segment's cache
  // (to f32 a copy); Llama's rotation of K writes an f32 cache directly.
  const k = g.op('linear', { x: h, weight: g.param(`${p}.k`), bias: b('k') }, ['T', KV * D], `${p}.k`);
  const v = g.op('linear', { x: h, weight: g.param(`${p}.v`), bias: b('v') }, ['T', KV * D], `${p}.v`);
  if (o.rope) {
    const r = { positions: o.rope.positions, theta: o.rope.theta, interleaved: o.rope.interleaved, rotaryDim: o.rope.rotaryDim, ...ropeArgs(o.rope.scaling) };
    q = g.op('rope', { x: q, ...r }, ['T', H, D], `${p}.q.rope`);
    const kh = o.qkNorm !== undefined ? headNorm(g.view(k, ['T', KV, D]), 'k', KV) : g.view(k, ['T', KV, D]);
    // A rotation that depends on the pass's longest position (dynamic NTK, LongRoPE) must see the
    // segment's rows whole: writes into the cache are cut at page ends, so it goes through a value.
    const byLength = o.rope.scaling?.dynamic !== undefined || o.rope.scaling?.invFreqLong !== undefined;
    if (g.kvDtype === 'f32' && !byLength) g.opInto('rope', { x: kh, ...r }, g.cache(i, 'k', 'new', ['T', KV, D]));
    else {
      const kr = g.op('rope', { x: kh, ...r }, ['T', KV, D], `${p}.k.rope`);
      g.opInto('cast', { x: kr, dtype: g.kvDtype }, g.cache(i, 'k', 'new', ['T', KV, D]));
    }
  } else {
    g.opInto('cast', { x: k, dtype: g.kvDtype }, g.cache(i, 'k', 'new', ['T', KV * D]));
  }
  g.opInto('cast', { x: v, dtype: g.kvDtype }, g.cache(i, 'v', 'new', ['T', KV * D]));
  const a = g.op('attention', { q, k: g.cache(i, 'k', 'all', ['S', KV, D]), v: g.cache(i, 'v', 'all', ['S', KV, D]), causal: true, window: o.window, scale: o.scale, softcap: o.softcap }, ['T', H, D], `${p}.attn`);
  return g.op('linear', { x: g.view(a, ['T', H * D]), weight: g.param(`${p}.o`), bias: b('o') }, ['T', C], `${p}.o`);
}

/** GPT-2 MLP: down(gelu_tanh(up(h))), with biases. */
export function mlpGelu(g: GraphBuilder, cfg: DecoderConfig, i: number, h: ValueRef): ValueRef {
  const p = `l${i}`;
  const u = g.op('linear', { x: h, weight: g.param(`${p}.up`), bias: g.param(`${p}.up.b`), activation: 'gelu_tanh' }, ['T', cfg.ffn], `${p}.up`);
  return g.op('linear', { x: u, weight: g.param(`${p}.down`), bias: g.param(`${p}.down.b`) }, ['T', cfg.hidden], `${p}.down`);
}

/** Gated MLP: down(act(gate(h)) * up(h)), no biases; silu is Llama's SwiGLU, gelu_tanh Gemma's GeGLU. */
function mlpGated(activation: 'silu' | 'gelu_tanh') {
  return (g: GraphBuilder, cfg: DecoderConfig, i: number, h: ValueRef): ValueRef => {
    const p = `l${i}`;
    const gate = g.op('linear', { x: h, weight: g.param(`${p}.gate`), activation }, ['T', cfg.ffn], `${p}.gate`);
    const up = g.op('linear', { x: h, weight: g.param(`${p}.up`) }, ['T', cfg.ffn], `${p}.up`);
    const m = g.op('mul', { a: gate, b: up }, ['T', cfg.ffn], `${p}.glu`);
    return g.op('linear', { x: m, weight: g.param(`${p}.down`) }, ['T', cfg.hidden], `${p}.down`);
  };
}

/** Llama MLP: down(silu(gate(h)) * up(h)), no biases. */
export const mlpSwiGLU = mlpGated('silu');
/** Gemma MLP: down(gelu_tanh(gate(h)) * up(h)), no biases. */
export const mlpGeGLU = mlpGated('gelu_tanh');

/** The family-specific parts of the decoder stack (families/*.ts give them). */
export interface DecoderParts {
  /** Norm of every block and the final one. */
  readonly norm: NormKind;
  /** x: (T, C) token embeddings -> (T, C) with learned positions added; absent for rotary families. */
  addPositions?(g: GraphBuilder, cfg: DecoderConfig, x: ValueRef, positions: ValueRef): ValueRef;
  /** Attention options of layer `layer` (Gemma alternates local and global ones); positions: (T) i32. */
  attention(cfg: DecoderConfig, positions: ValueRef, layer: number): AttentionOptions;
  /** h: (T, C) -> (T, C). */
  mlp(g: GraphBuilder, cfg: DecoderConfig, i: number, h: ValueRef): ValueRef;
  /** Token embeddings times this (Gemma: sqrt(hidden) rounded to f32, as HF's normalizer). */
  embedScale?(cfg: DecoderConfig): number;
  /**
   * Norms after attention and after the MLP too, before each residual add (Gemma 2 and 3):
   * params `l{i}.postAttn.w` and `l{i}.postMlp.w`.
   */
  readonly postNorms?: boolean;
  /** Final logit soft-capping (Gemma 2): logits become tanh(logits / c) * c. */
  finalSoftcap?(cfg: DecoderConfig): number | undefined;
}

/**
 * What a decoder graph can give: 'lastLogits' (B, V), the logits of each segment's last
 * position (generation); 'logits' (T, V), of every position (scoring, perplexity); 'hidden'
 * (T, C), the final-normed hidden state of every position (as HF's last_hidden_state).
 * Each is planned only when asked for: 'logits' holds T x V floats.
 */
export type DecoderOutput = 'lastLogits' | 'logits' | 'hidden';
export const DECODER_OUTPUTS: readonly DecoderOutput[] = ['lastLogits', 'logits', 'hidden'];

/**
 * The pre-norm decoder stack every family shares, with the named `outputs` asked for (default:
 * the last position's logits). Inputs: ids (T), positions (T), and `last` (B), the row of each
 * segment's last token. The family's parts choose norms, positions, attention options and the MLP.
 */
export function decoderStack(
  cfg: DecoderConfig, parts: DecoderParts, kvDtype: KVDType = 'f32', outputs: readonly DecoderOutput[] = ['lastLogits'],
): GraphBuilder & { result: ValueRef; outputs: Partial<Record<DecoderOutput, ValueRef>> } {
  const g = new GraphBuilder(kvDtype);
  const C = cfg.hidden;
  const ids = g.input('ids', 'i32', ['T']);
  const positions = g.input('positions', 'i32', ['T']);
  const lastRows = g.input('last', 'i32', ['B']);
  const kind = parts.norm;
  let x = g.op('embedding', { table: g.param('embed'), ids }, ['T', C], 'embed');
  if (parts.addPositions) x = parts.addPositions(g, cfg, x, positions);
  const scale = parts.embedScale?.(cfg);
  if (scale !== undefined) x = g.op('scale', { x, s: scale }, ['T', C], 'embed.scale');
  const post = (v: ValueRef, p: string) => (parts.postNorms ? norm(g, kind, v, p, cfg.normEps, 'T', C) : v);
  for (let i = 0; i < cfg.layers; i++) {
    const a = attention(g, cfg, i, norm(g, kind, x, `l${i}.norm1`, cfg.normEps, 'T', C), parts.attention(cfg, positions, i));
    x = g.op('add', { a: x, b: post(a, `l${i}.postAttn`) }, ['T', C], `l${i}.res1`);
    const h = norm(g, kind, x, `l${i}.norm2`, cfg.normEps, 'T', C);
    x = g.op('add', { a: x, b: post(parts.mlp(g, cfg, i, h), `l${i}.postMlp`) }, ['T', C], `l${i}.res2`);
  }
  // Final soft-capping: tanh((h / c) W) * c, the 1/c folded into the rows before the unembedding.
  const cap = parts.finalSoftcap?.(cfg);
  const unembed = (h: ValueRef, rows: 'B' | 'T', name: string): ValueRef => {
    if (cap === undefined) return g.op('linear', { x: h, weight: g.param('unembed') }, [rows, cfg.vocabSize], name);
    const hs = g.op('scale', { x: h, s: 1 / cap }, [rows, C], `${name}.softcap.in`);
    const t = g.op('linear', { x: hs, weight: g.param('unembed'), activation: 'tanh' }, [rows, cfg.vocabSize], `${name}.tanh`);
    return g.op('scale', { x: t, s: cap }, [rows, cfg.vocabSize], name);
  };
  const out: Partial<Record<DecoderOutput, ValueRef>> = {};
  for (const o of outputs) {
    if (o === 'lastLogits') {
      // Gathering the last rows is an embedding lookup with x as the table; the norm is per row,
      // so it runs on the B gathered rows only.
      const last = norm(g, kind, g.op('embedding', { table: x, ids: lastRows }, ['B', C], 'last'), 'final', cfg.normEps, 'B', C);
      out.lastLogits = unembed(last, 'B', 'logits');
    }
  }
  if (outputs.includes('hidden') || outputs.includes('logits')) {
    const hidden = norm(g, kind, x, 'final', cfg.normEps, 'T', C);
    if (outputs.includes('hidden')) out.hidden = hidden;
    if (outputs.includes('logits')) out.logits = unembed(hidden, 'T', 'logits.all');
  }
  // The graph's outputs in the order asked for.
  const ordered: Partial<Record<DecoderOutput, ValueRef>> = Object.fromEntries(outputs.map((o) => [o, out[o]!]));
  return Object.assign(g, { result: out[outputs[0]!]!, outputs: ordered });
}
