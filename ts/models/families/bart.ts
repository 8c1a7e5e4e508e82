// BART, mBART and Marian (opus-mt) from HF config.json and safetensors names (modeling_bart.py,
// modeling_mbart.py, modeling_marian.py): biased projections and MLP, LayerNorm with bias,
// post-norm blocks (mBART: pre-norm with a final layer_norm per stack), token embeddings times
// sqrt(d_model) under scale_embedding, learned positions read from row 2 on (BART's offset) or
// Marian's sinusoidal table (sin in the first half of the columns, cos in the second),
// layernorm_embedding (BART, mBART), a head tied to the shared table plus final_logits_bias;
// Marian with separate vocabularies: each stack its own table, the head over decoder_vocab_size.
// Not the graphs (../seq2seq-graph.ts) nor the model (../seq2seq.ts).

import type { Activation } from '../../backend/ops/linear.js';
import type { GraphBuilder, ValueRef } from '../../graph/ir.js';
import { int, refuse } from '../config.js';
import type { Binder } from '../weights.js';
import { architectureOf } from './encoder-config.js';
import { decoderVocabSize, type Seq2SeqArchitecture, type Seq2SeqConfig, type Seq2SeqFamily, type Seq2SeqParts, type Seq2SeqSide } from './seq2seq-family.js';

type Kind = 'bart' | 'mbart' | 'marian';

const ARCHITECTURES: Readonly<Record<Kind, readonly string[]>> = {
  bart: ['BartForConditionalGeneration'],
  mbart: ['MBartForConditionalGeneration'],
  marian: ['MarianMTModel'],
};

// HF's ACT2FN names of activation_function, as the linear op names them.
const ACTS: Readonly<Record<string, Activation>> = { gelu: 'gelu', relu: 'relu', swish: 'silu', silu: 'silu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', tanh: 'tanh' };

// nn.LayerNorm's default: no config field sets it for these models.
const LAYER_NORM_EPS = 1e-5;
// BartLearnedPositionalEmbedding: position p reads row p + 2 of embed_positions.
const BART_POSITION_OFFSET = 2;

function tokenId(cfg: Record<string, unknown>, key: string): number | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RangeError(`config: '${key}' must be an integer >= 0, got ${JSON.stringify(v)}`);
  return v;
}

function flag(cfg: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'boolean') throw new RangeError(`config: '${key}' must be a boolean, got ${JSON.stringify(cfg[key])}`);
  return v;
}

/** The same number under two keys (encoder_* and decoder_*): one value, or a refusal naming the second. */
function same(kind: Kind, cfg: Record<string, unknown>, enc: string, dec: string, fallback: number): number {
  const a = int(cfg, enc, fallback);
  const b = int(cfg, dec, fallback);
  if (a !== b) refuse(kind, dec, b, `only ${enc} = ${dec} is implemented (${enc} is ${a})`);
  return a;
}

function configFromHF(kind: Kind, cfg: Record<string, unknown>): Seq2SeqConfig {
  const hfArchitecture = architectureOf(kind, cfg, ARCHITECTURES[kind], ARCHITECTURES[kind][0]!);
  if (cfg.is_encoder_decoder === false) refuse(kind, 'is_encoder_decoder', cfg.is_encoder_decoder, 'only the encoder-decoder model is implemented');
  const actName = cfg.activation_function ?? 'gelu';
  const activation = typeof actName === 'string' ? ACTS[actName] : undefined;
  if (activation === undefined) refuse(kind, 'activation_function', actName, `supported: ${Object.keys(ACTS).join(', ')}`);
  // Fields of older or other variants that change the computation.
  if (cfg.add_final_layer_norm === true && kind !== 'mbart') refuse(kind, 'add_final_layer_norm', true, 'a final layer_norm is mBART\'s, not this model\'s');
  if (cfg.normalize_before === true && kind !== 'mbart') refuse(kind, 'normalize_before', true, 'pre-norm blocks are mBART\'s');
  if (kind === 'marian') {
    if (flag(cfg, 'static_position_embeddings', true) !== true) refuse(kind, 'static_position_embeddings', false, 'Marian\'s positions are sinusoidal');
    if (flag(cfg, 'normalize_embedding', false)) refuse(kind, 'normalize_embedding', true, 'no layernorm_embedding in Marian');
    if (flag(cfg, 'add_bias_logits', false)) refuse(kind, 'add_bias_logits', true, 'only final_logits_bias is implemented');
  }
  const vocabSize = int(cfg, 'vocab_size', 50265);
  // Marian with separate vocabularies (share_encoder_decoder_embeddings false): the decoder's own
  // table and head of decoder_vocab_size rows (MarianConfig: vocab_size when unset). Shared, one
  // table serves both stacks, and a different decoder_vocab_size would contradict it.
  const separate = kind === 'marian' && !flag(cfg, 'share_encoder_decoder_embeddings', true);
  const given = cfg.decoder_vocab_size;
  if (given !== undefined && given !== null) {
    if (kind !== 'marian' && given !== vocabSize) refuse(kind, 'decoder_vocab_size', given, `a decoder vocabulary of its own is Marian's; vocab_size is ${vocabSize}`);
    if (kind === 'marian' && !separate && given !== vocabSize)
      refuse(kind, 'decoder_vocab_size', given, `with share_encoder_decoder_embeddings true the target vocabulary is the shared one (vocab_size ${vocabSize})`);
  }
  const decoderVocabSize = separate && given !== undefined && given !== null ? int(cfg, 'decoder_vocab_size', vocabSize) : vocabSize;
  const hidden = int(cfg, 'd_model', 1024);
  const heads = same(kind, cfg, 'encoder_attention_heads', 'decoder_attention_heads', 16);
  if (hidden % heads !== 0) refuse(kind, 'encoder_attention_heads', heads, `d_model ${hidden} is not a multiple of it`);
  if (kind === 'marian' && hidden % 2 !== 0) refuse(kind, 'd_model', hidden, 'the sinusoidal table needs an even width');
  const eos = cfg.eos_token_id ?? (kind === 'marian' ? 0 : 2);
  const eosIds = Array.isArray(eos) ? eos : [eos];
  for (const e of eosIds)
    if (typeof e !== 'number' || !Number.isSafeInteger(e) || e < 0) throw new RangeError(`config: 'eos_token_id' must be an id >= 0 or a list of them, got ${JSON.stringify(cfg.eos_token_id)}`);
  const pad = tokenId(cfg, 'pad_token_id');
  const start = tokenId(cfg, 'decoder_start_token_id') ?? (kind === 'marian' ? pad : (eosIds[0] as number));
  if (start === undefined) throw new RangeError(`config: ${kind} needs 'decoder_start_token_id' (or 'pad_token_id')`);
  const forcedBos = tokenId(cfg, 'forced_bos_token_id');
  const forcedEos = tokenId(cfg, 'forced_eos_token_id');
  const tie = flag(cfg, 'tie_word_embeddings', true);
  return {
    architecture: kind as Seq2SeqArchitecture,
    hfArchitecture,
    vocabSize,
    ...(separate ? { decoderVocabSize } : {}),
    hidden,
    heads,
    headDim: hidden / heads,
    ffn: same(kind, cfg, 'encoder_ffn_dim', 'decoder_ffn_dim', 4096),
    encoderLayers: int(cfg, 'encoder_layers', 12),
    decoderLayers: int(cfg, 'decoder_layers', 12),
    normEps: LAYER_NORM_EPS,
    activation: activation!,
    gated: false,
    tiedEmbeddings: tie,
    maxPositions: int(cfg, 'max_position_embeddings', 1024),
    decoderStartTokenId: start,
    eosTokenIds: eosIds as number[],
    scaleEmbedding: flag(cfg, 'scale_embedding', false),
    ...(pad === undefined ? {} : { padTokenId: pad }),
    ...(forcedBos === undefined ? {} : { forcedBosTokenId: forcedBos }),
    ...(forcedEos === undefined ? {} : { forcedEosTokenId: forcedEos }),
  };
}

/**
 * Marian's table (MarianSinusoidalPositionalEmbedding): row p, column j < C/2 holds
 * sin(p / 10000^(2j/C)), column C/2 + j holds cos of the same angle.  -> (P, C) f32
 */
export function marianPositions(positions: number, C: number): Float32Array {
  const out = new Float32Array(positions * C);
  const half = C / 2;
  for (let p = 0; p < positions; p++)
    for (let j = 0; j < half; j++) {
      const angle = p / 10000 ** ((2 * j) / C);
      out[p * C + j] = Math.sin(angle);
      out[p * C + half + j] = Math.cos(angle);
    }
  return out;
}

function bindHF(kind: Kind, b: Binder, cfg: Seq2SeqConfig): void {
  const { hidden: C, vocabSize: V, ffn: F } = cfg;
  const Vd = decoderVocabSize(cfg);
  const P = cfg.maxPositions!;
  let decTable: string;
  if (cfg.decoderVocabSize !== undefined) {
    // Separate vocabularies (MarianModel without share_encoder_decoder_embeddings): each stack
    // has its own embed_tokens; a tied head is the decoder's (MarianMTModel.tie_weights).
    b.table('enc.embed', 'model.encoder.embed_tokens.weight', [V, C]);
    decTable = 'model.decoder.embed_tokens.weight';
    b.table('dec.embed', decTable, [Vd, C]);
  } else {
    // save_pretrained keeps one of the tied copies: model.shared.weight, or a stack's embed_tokens.
    decTable = ['model.shared.weight', 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight'].find((n) => b.src.has(n)) ?? 'model.shared.weight';
    b.table('enc.embed', decTable, [V, C]);
    b.table('dec.embed', decTable, [V, C]);
  }
  const head = cfg.tiedEmbeddings ? decTable : 'lm_head.weight';
  const hw = b.get(head);
  b.expectShape(head, hw, [Vd, C]);
  b.linear('unembed', hw);
  // A buffer that older files lack: HF starts it at zeros.
  const bias = b.src.has('final_logits_bias') ? b.get('final_logits_bias') : undefined;
  if (bias) b.expectShape('final_logits_bias', bias, [1, Vd]);
  b.constant('logits.bias', bias ? bias.load().toFloat32() : new Float32Array(Vd));
  const ln = (param: string, hf: string) => {
    b.f32(`${param}.w`, `${hf}.weight`, [C]);
    b.f32(`${param}.b`, `${hf}.bias`, [C]);
  };
  const lin = (param: string, hf: string, shape: [number, number]) => {
    const w = b.get(`${hf}.weight`);
    b.expectShape(`${hf}.weight`, w, shape);
    b.linear(param, w);
    b.f32(`${param}.b`, `${hf}.bias`, [shape[0]]);
  };
  const attn = (param: string, hf: string) => {
    for (const [n, h] of [['q', 'q_proj'], ['k', 'k_proj'], ['v', 'v_proj'], ['o', 'out_proj']] as const) lin(`${param}.${n}`, `${hf}.${h}`, [C, C]);
  };
  for (const [side, stack, n] of [['enc', 'encoder', cfg.encoderLayers], ['dec', 'decoder', cfg.decoderLayers]] as const) {
    const m = `model.${stack}`;
    if (kind === 'marian') b.constant(`${side}.pos`, marianPositions(P, C), [P, C]);
    else {
      b.table(`${side}.pos`, `${m}.embed_positions.weight`, [P + BART_POSITION_OFFSET, C], [BART_POSITION_OFFSET, P + BART_POSITION_OFFSET]);
      ln(`${side}.embnorm`, `${m}.layernorm_embedding`);
    }
    if (kind === 'mbart') ln(`${side}.final`, `${m}.layer_norm`);
    for (let i = 0; i < n; i++) {
      const hf = `${m}.layers.${i}`;
      const p = `${side}.l${i}`;
      attn(p, `${hf}.self_attn`);
      ln(`${p}.attn.norm`, `${hf}.self_attn_layer_norm`);
      if (side === 'dec') {
        attn(`${p}.cross`, `${hf}.encoder_attn`);
        ln(`${p}.cross.norm`, `${hf}.encoder_attn_layer_norm`);
      }
      lin(`${p}.mlp.up`, `${hf}.fc1`, [F, C]);
      lin(`${p}.mlp.down`, `${hf}.fc2`, [C, F]);
      ln(`${p}.mlp.norm`, `${hf}.final_layer_norm`);
    }
  }
}

function parameters(kind: Kind, cfg: Seq2SeqConfig): { name: string; shape: readonly number[] }[] {
  const { hidden: C, vocabSize: V, ffn: F } = cfg;
  const Vd = decoderVocabSize(cfg);
  const P = cfg.maxPositions!;
  const out: { name: string; shape: readonly number[] }[] = [
    { name: 'enc.embed', shape: [V, C] }, { name: 'dec.embed', shape: [Vd, C] }, { name: 'unembed', shape: [Vd, C] }, { name: 'logits.bias', shape: [Vd] },
  ];
  const ln = (p: string) => out.push({ name: `${p}.w`, shape: [C] }, { name: `${p}.b`, shape: [C] });
  const lin = (p: string, shape: [number, number]) => out.push({ name: p, shape }, { name: `${p}.b`, shape: [shape[0]] });
  const attn = (p: string) => { for (const n of ['q', 'k', 'v', 'o']) lin(`${p}.${n}`, [C, C]); };
  for (const [side, n] of [['enc', cfg.encoderLayers], ['dec', cfg.decoderLayers]] as const) {
    out.push({ name: `${side}.pos`, shape: [P, C] });
    if (kind !== 'marian') ln(`${side}.embnorm`);
    if (kind === 'mbart') ln(`${side}.final`);
    for (let i = 0; i < n; i++) {
      const p = `${side}.l${i}`;
      attn(p);
      ln(`${p}.attn.norm`);
      if (side === 'dec') {
        attn(`${p}.cross`);
        ln(`${p}.cross.norm`);
      }
      lin(`${p}.mlp.up`, [F, C]);
      lin(`${p}.mlp.down`, [C, F]);
      ln(`${p}.mlp.norm`);
    }
  }
  return out;
}

function parts(kind: Kind): Seq2SeqParts {
  const layerNorm = (g: GraphBuilder, cfg: Seq2SeqConfig, x: ValueRef, p: string, rows: 'T' | 'B'): ValueRef =>
    g.op('layerNorm', { x, weight: g.param(`${p}.w`), bias: g.param(`${p}.b`), eps: cfg.normEps }, [rows, cfg.hidden], p);
  return {
    readsPositions: true,
    normPlacement: kind === 'mbart' ? 'pre' : 'post',
    finalNorm: kind === 'mbart',
    norm: layerNorm,
    embed: (g: GraphBuilder, cfg: Seq2SeqConfig, side: Seq2SeqSide, ids: ValueRef, positions: ValueRef | undefined) => {
      const C = cfg.hidden;
      let x = g.op('embedding', { table: g.param(`${side}.embed`), ids }, ['T', C], `${side}.embed`);
      if (cfg.scaleEmbedding) x = g.op('scale', { x, s: Math.sqrt(C) }, ['T', C], `${side}.embed.scale`);
      const pos = g.op('embedding', { table: g.param(`${side}.pos`), ids: positions! }, ['T', C], `${side}.pos`);
      x = g.op('add', { a: x, b: pos }, ['T', C], `${side}.embed.addpos`);
      return kind === 'marian' ? x : layerNorm(g, cfg, x, `${side}.embnorm`, 'T');
    },
    // Plain 1/sqrt(D) scaling (HF scales q after its bias, which is the same product).
    attention: () => ({ bias: true }),
    mlp: (g: GraphBuilder, cfg: Seq2SeqConfig, p: string, h: ValueRef) => {
      const u = g.op('linear', { x: h, weight: g.param(`${p}.up`), bias: g.param(`${p}.up.b`), activation: cfg.activation }, ['T', cfg.ffn], `${p}.up`);
      return g.op('linear', { x: u, weight: g.param(`${p}.down`), bias: g.param(`${p}.down.b`) }, ['T', cfg.hidden], `${p}.down`);
    },
    head: (g: GraphBuilder, cfg: Seq2SeqConfig, x: ValueRef) =>
      g.op('linear', { x, weight: g.param('unembed'), bias: g.param('logits.bias') }, ['B', decoderVocabSize(cfg)], 'logits'),
  };
}

function family(kind: Kind, modelTypes: readonly string[]): Seq2SeqFamily {
  return {
    name: kind,
    hf: { modelTypes, architectures: ARCHITECTURES[kind] },
    configFromHF: (cfg) => configFromHF(kind, cfg),
    bindHF: (b, cfg) => bindHF(kind, b, cfg),
    parameters: (cfg) => parameters(kind, cfg),
    graph: parts(kind),
  };
}

export const bart = family('bart', ['bart']);
export const mbart = family('mbart', ['mbart']);
export const marian = family('marian', ['marian']);
