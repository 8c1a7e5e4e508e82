// T5 (v1.0: ReLU FFN, tied head rescaled by d_model ** -0.5; v1.1, flan-t5, mT5: gated-GELU,
// untied lm_head) from HF config.json and safetensors names (modeling_t5.py): pre-norm RMS
// LayerNorm without mean or bias, no 1/sqrt(d) score scaling, and a bucketed relative-position
// bias computed from layer 0's table of each stack (bidirectional in the encoder, causal in the
// decoder) and shared by every layer of that stack; cross-attention has none. Its GGUF form is
// t5-gguf.ts. Not the graphs (../seq2seq-graph.ts) nor the model (../seq2seq.ts).

import type { Activation } from '../../backend/ops/linear.js';
import type { GraphBuilder, ValueRef } from '../../graph/ir.js';
import { int, num, refuse } from '../config.js';
import { seq2seqMlp } from '../seq2seq-graph.js';
import type { Binder } from '../weights.js';
import { architectureOf } from './encoder-config.js';
import { SEQ2SEQ_GGUF_ARCHITECTURES, bindT5GGUF, t5ConfigFromGGUF } from './t5-gguf.js';
import type { Seq2SeqConfig, Seq2SeqFamily } from './seq2seq-family.js';

const ARCHITECTURES = ['T5ForConditionalGeneration', 'MT5ForConditionalGeneration'] as const;

// HF's ACT2FN names T5Config's feed_forward_proj may end in, as the linear op names them.
const T5_ACTS: Readonly<Record<string, Activation>> = { relu: 'relu', gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', silu: 'silu' };

/** feed_forward_proj: '<act>' or 'gated-<act>'; 'gated-gelu' means gelu_new, as T5Config says. */
function feedForward(cfg: Record<string, unknown>): { activation: Activation; gated: boolean } {
  const v = cfg.feed_forward_proj ?? 'relu';
  const parts = typeof v === 'string' ? v.split('-') : [];
  const gated = parts.length === 2 && parts[0] === 'gated';
  const name = v === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  const activation = (parts.length === 1 || gated) && name !== undefined ? T5_ACTS[name] : undefined;
  if (activation === undefined)
    refuse('t5', 'feed_forward_proj', v, `supported: ${Object.keys(T5_ACTS).join(', ')} or gated-<one of them>`);
  // Saved configs also carry the fields T5Config derives from it; HF reads those back as given.
  if (cfg.dense_act_fn !== undefined && cfg.dense_act_fn !== name)
    refuse('t5', 'dense_act_fn', cfg.dense_act_fn, `it disagrees with feed_forward_proj ${JSON.stringify(v)} (${name})`);
  if (cfg.is_gated_act !== undefined && cfg.is_gated_act !== gated)
    refuse('t5', 'is_gated_act', cfg.is_gated_act, `it disagrees with feed_forward_proj ${JSON.stringify(v)}`);
  return { activation, gated };
}

/** An id field: a non-negative integer, or `fallback` when absent. */
function tokenId(cfg: Record<string, unknown>, key: string, fallback: number | undefined): number | undefined {
  const v = cfg[key] ?? fallback;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RangeError(`config: '${key}' must be an integer >= 0, got ${JSON.stringify(cfg[key])}`);
  return v;
}

function configFromHF(cfg: Record<string, unknown>): Seq2SeqConfig {
  const hfArchitecture = architectureOf('t5', cfg, ARCHITECTURES, 'T5ForConditionalGeneration');
  if (cfg.is_encoder_decoder === false) refuse('t5', 'is_encoder_decoder', cfg.is_encoder_decoder, 'only the encoder-decoder T5 is implemented');
  if (cfg.is_decoder === true) refuse('t5', 'is_decoder', cfg.is_decoder, 'only the encoder-decoder T5 is implemented');
  const tie = cfg.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') throw new RangeError(`config: 'tie_word_embeddings' must be a boolean, got ${JSON.stringify(tie)}`);
  const buckets = int(cfg, 'relative_attention_num_buckets', 32);
  // The encoder's buckets are split in two directions, each with an exact and a logarithmic part.
  if (buckets < 4) refuse('t5', 'relative_attention_num_buckets', buckets, 'the bidirectional encoder needs at least 4 buckets');
  const layers = int(cfg, 'num_layers', 6);
  const pad = tokenId(cfg, 'pad_token_id', 0);
  const eos = cfg.eos_token_id ?? 1;
  const eosIds = Array.isArray(eos) ? eos : [eos];
  for (const e of eosIds)
    if (typeof e !== 'number' || !Number.isSafeInteger(e) || e < 0) throw new RangeError(`config: 'eos_token_id' must be an id >= 0 or a list of them, got ${JSON.stringify(cfg.eos_token_id)}`);
  return {
    architecture: 't5',
    hfArchitecture,
    vocabSize: int(cfg, 'vocab_size', 32128),
    hidden: int(cfg, 'd_model', 512),
    heads: int(cfg, 'num_heads', 8),
    headDim: int(cfg, 'd_kv', 64),
    ffn: int(cfg, 'd_ff', 2048),
    encoderLayers: layers,
    decoderLayers: int(cfg, 'num_decoder_layers', layers),
    normEps: num(cfg, 'layer_norm_epsilon', 1e-6),
    ...feedForward(cfg),
    tiedEmbeddings: tie,
    relativeBuckets: buckets,
    relativeMaxDistance: int(cfg, 'relative_attention_max_distance', 128),
    decoderStartTokenId: tokenId(cfg, 'decoder_start_token_id', pad ?? 0)!,
    eosTokenIds: eosIds as number[],
    ...(pad === undefined ? {} : { padTokenId: pad }),
  };
}

/** HF names of one stack's attention: `<prefix>.q.weight` ... under SelfAttention or EncDecAttention. */
function bindAttention(b: Binder, cfg: Seq2SeqConfig, param: string, hf: string): void {
  const { hidden: C, heads: H, headDim: D } = cfg;
  for (const n of ['q', 'k', 'v', 'o'] as const) {
    const name = `${hf}.${n}.weight`;
    const w = b.get(name);
    b.expectShape(name, w, n === 'o' ? [C, H * D] : [H * D, C]);
    b.linear(`${param}.${n}`, w);
  }
}

function bindMlp(b: Binder, cfg: Seq2SeqConfig, param: string, hf: string): void {
  const { hidden: C, ffn: F } = cfg;
  const lin = (p: string, name: string, shape: [number, number]) => {
    const w = b.get(`${hf}.${name}.weight`);
    b.expectShape(`${hf}.${name}.weight`, w, shape);
    b.linear(`${param}.${p}`, w);
  };
  // Gated: act(wi_0(x)) * wi_1(x), so wi_0 is the gate.
  if (cfg.gated) {
    lin('gate', 'wi_0', [F, C]);
    lin('up', 'wi_1', [F, C]);
  } else lin('up', 'wi', [F, C]);
  lin('down', 'wo', [C, F]);
}

function bindHF(b: Binder, cfg: Seq2SeqConfig): void {
  const { hidden: C, vocabSize: V, heads: H } = cfg;
  // save_pretrained keeps one of the tied copies: shared.weight, or a stack's embed_tokens.
  const table = ['shared.weight', 'encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'].find((n) => b.src.has(n)) ?? 'shared.weight';
  b.table('enc.embed', table, [V, C]);
  b.table('dec.embed', table, [V, C]);
  const head = cfg.tiedEmbeddings ? table : 'lm_head.weight';
  const hw = b.get(head);
  b.expectShape(head, hw, [V, C]);
  b.linear('unembed', hw);
  for (const [side, stack, n] of [['enc', 'encoder', cfg.encoderLayers], ['dec', 'decoder', cfg.decoderLayers]] as const) {
    b.f32(`${side}.relbias`, `${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, [cfg.relativeBuckets!, H]);
    for (let i = 0; i < n; i++) {
      const hf = `${stack}.block.${i}.layer`;
      const p = `${side}.l${i}`;
      bindAttention(b, cfg, p, `${hf}.0.SelfAttention`);
      b.f32(`${p}.attn.norm.w`, `${hf}.0.layer_norm.weight`, [C]);
      const mlp = side === 'enc' ? 1 : 2;
      if (side === 'dec') {
        bindAttention(b, cfg, `${p}.cross`, `${hf}.1.EncDecAttention`);
        b.f32(`${p}.cross.norm.w`, `${hf}.1.layer_norm.weight`, [C]);
      }
      bindMlp(b, cfg, `${p}.mlp`, `${hf}.${mlp}.DenseReluDense`);
      b.f32(`${p}.mlp.norm.w`, `${hf}.${mlp}.layer_norm.weight`, [C]);
    }
    b.f32(`${side}.final.w`, `${stack}.final_layer_norm.weight`, [C]);
  }
}

function parameters(cfg: Seq2SeqConfig): { name: string; shape: readonly number[] }[] {
  const { hidden: C, vocabSize: V, heads: H, headDim: D, ffn: F } = cfg;
  const out: { name: string; shape: readonly number[] }[] = [
    { name: 'enc.embed', shape: [V, C] }, { name: 'dec.embed', shape: [V, C] }, { name: 'unembed', shape: [V, C] },
  ];
  const attn = (p: string) => {
    for (const n of ['q', 'k', 'v']) out.push({ name: `${p}.${n}`, shape: [H * D, C] });
    out.push({ name: `${p}.o`, shape: [C, H * D] });
  };
  const mlp = (p: string) => {
    if (cfg.gated) out.push({ name: `${p}.gate`, shape: [F, C] });
    out.push({ name: `${p}.up`, shape: [F, C] }, { name: `${p}.down`, shape: [C, F] }, { name: `${p}.norm.w`, shape: [C] });
  };
  for (const [side, n] of [['enc', cfg.encoderLayers], ['dec', cfg.decoderLayers]] as const) {
    out.push({ name: `${side}.relbias`, shape: [cfg.relativeBuckets!, H] }, { name: `${side}.final.w`, shape: [C] });
    for (let i = 0; i < n; i++) {
      const p = `${side}.l${i}`;
      attn(p);
      out.push({ name: `${p}.attn.norm.w`, shape: [C] });
      if (side === 'dec') {
        attn(`${p}.cross`);
        out.push({ name: `${p}.cross.norm.w`, shape: [C] });
      }
      mlp(`${p}.mlp`);
    }
  }
  return out;
}

export const t5: Seq2SeqFamily = {
  name: 't5',
  hf: { modelTypes: ['t5', 'mt5'], architectures: [...ARCHITECTURES] },
  configFromHF,
  bindHF,
  gguf: { architectures: SEQ2SEQ_GGUF_ARCHITECTURES, configFromGGUF: t5ConfigFromGGUF, bindGGUF: bindT5GGUF },
  parameters,
  graph: {
    readsPositions: false,
    normPlacement: 'pre',
    finalNorm: true,
    norm: (g: GraphBuilder, cfg: Seq2SeqConfig, x: ValueRef, p: string, rows: 'T' | 'B') =>
      g.op('rmsNorm', { x, weight: g.param(`${p}.w`), eps: cfg.normEps }, [rows, cfg.hidden], p),
    embed: (g, cfg, side, ids) => g.op('embedding', { table: g.param(`${side}.embed`), ids }, ['T', cfg.hidden], `${side}.embed`),
    // T5 folds the 1/sqrt(d) into its initialization: scores are plain dot products.
    attention: (cfg, kind) => ({
      scale: 1,
      bias: false,
      ...(kind === 'cross'
        ? {}
        : { positionBias: { table: kind === 'encoder' ? 'enc.relbias' : 'dec.relbias', maxDistance: cfg.relativeMaxDistance!, bidirectional: kind === 'encoder' } }),
    }),
    mlp: seq2seqMlp,
    head: (g, cfg, x) => {
      // The tied head reads the shared table, after rescaling by d_model ** -0.5 (modeling_t5).
      const h = cfg.tiedEmbeddings ? g.op('scale', { x, s: cfg.hidden ** -0.5 }, ['B', cfg.hidden], 'head.scale') : x;
      return g.op('linear', { x: h, weight: g.param('unembed') }, ['B', cfg.vocabSize], 'logits');
    },
  },
};
