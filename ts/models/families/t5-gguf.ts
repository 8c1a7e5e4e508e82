// T5 from a GGUF file as llama.cpp writes and reads it (general.architecture 't5'): its
// Seq2SeqConfig from the t5.* keys and the binding of llama.cpp's tensor names (token_embd,
// enc.blk.N.attn_q, dec.blk.N.cross_attn_o, ...) to the canonical names of t5.ts. Not the HF
// reader (t5.ts), nor the tokenizer (../../tokenizer/gguf.ts), nor the converter.
// Names: llama.cpp's LLM_ARCH_T5 tensor table and LLM_KV_* keys (src/llama-arch.cpp).

import type { GGUFFile } from '../../io/gguf.js';
import { ggufFields, ggufVocab, int, num, refuse } from '../config.js';
import type { Binder } from '../weights.js';
import type { Seq2SeqConfig } from './seq2seq-family.js';

/** GGUF general.architecture values loaded as encoder-decoders. */
export const SEQ2SEQ_GGUF_ARCHITECTURES: readonly string[] = ['t5'];

/**
 * The key attnode's converter writes for T5Config.relative_attention_max_distance. llama.cpp has
 * no such key: it computes buckets with a distance of 128 (llama_relative_position_bucket), the
 * value of every published T5, so a file without the key means 128, as llama.cpp reads it.
 */
export const T5_MAX_DISTANCE_KEY = 'attention.relative_max_distance';
export const T5_LLAMACPP_MAX_DISTANCE = 128;

const KEYS = [
  'context_length', 'embedding_length', 'feed_forward_length', 'block_count', 'decoder_block_count', 'attention.head_count', 'attention.head_count_kv',
  'attention.key_length', 'attention.value_length', 'attention.layer_norm_rms_epsilon', 'attention.layer_norm_epsilon', 'attention.relative_buckets_count',
  'decoder_start_token_id', T5_MAX_DISTANCE_KEY,
];

/** A token id of the tokenizer metadata, or undefined. */
function tokenizerId(g: GGUFFile, key: string): number | undefined {
  const v = g.get(`tokenizer.ggml.${key}`);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RangeError(`gguf: 'tokenizer.ggml.${key}' must be a token id, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Seq2SeqConfig of a GGUF T5. The FFN is gated-GELU (tanh form, T5 v1.1 / flan-t5 / mT5) when
 * the blocks have ffn_gate and ReLU (T5 v1.0) when they do not: the two llama.cpp builds. A file
 * without `output.weight` has a tied head, which HF's T5 multiplies by d_model ** -0.5 before the
 * shared table; attnode does so too (llama.cpp does not, so its logits of such a file are
 * sqrt(d_model) times HF's; attnode's converter writes the scaled head as `output.weight` instead).
 */
export function t5ConfigFromGGUF(g: GGUFFile): Seq2SeqConfig {
  const md = ggufFields(g, KEYS);
  const hidden = int(md, 'embedding_length');
  const heads = int(md, 'attention.head_count');
  if (md['attention.head_count_kv'] !== undefined && md['attention.head_count_kv'] !== heads)
    refuse('t5', 't5.attention.head_count_kv', md['attention.head_count_kv'], `T5 has as many key-value heads as query heads (${heads})`);
  const headDim = int(md, 'attention.key_length', hidden / heads);
  if (int(md, 'attention.value_length', headDim) !== headDim)
    refuse('t5', 't5.attention.value_length', md['attention.value_length'], `it must equal t5.attention.key_length (${headDim})`);
  const encoderLayers = int(md, 'block_count');
  const decoderLayers = int(md, 'decoder_block_count', encoderLayers);
  const buckets = int(md, 'attention.relative_buckets_count', 32);
  if (buckets < 4) refuse('t5', 't5.attention.relative_buckets_count', buckets, 'the bidirectional encoder needs at least 4 buckets');
  const gates = [...Array(encoderLayers).keys()].map((i) => `enc.blk.${i}.ffn_gate.weight`).concat([...Array(decoderLayers).keys()].map((i) => `dec.blk.${i}.ffn_gate.weight`));
  const gated = gates.filter((n) => g.tensors.has(n)).length;
  if (gated !== 0 && gated !== gates.length)
    throw new RangeError(`gguf: ${gated} of ${gates.length} T5 blocks have ffn_gate; attnode needs every block gated (gated-GELU) or none (ReLU)`);
  const pad = tokenizerId(g, 'padding_token_id') ?? 0;
  const eos = tokenizerId(g, 'eos_token_id') ?? 1;
  const start = md.decoder_start_token_id;
  if (start !== undefined && !(typeof start === 'number' && Number.isSafeInteger(start) && start >= 0))
    throw new RangeError(`gguf: 't5.decoder_start_token_id' must be a token id, got ${JSON.stringify(start)}`);
  const eps = md['attention.layer_norm_rms_epsilon'] ?? md['attention.layer_norm_epsilon'];
  return {
    architecture: 't5',
    hfArchitecture: 'T5ForConditionalGeneration',
    vocabSize: ggufVocab(g, md),
    hidden,
    heads,
    headDim,
    ffn: int(md, 'feed_forward_length'),
    encoderLayers,
    decoderLayers,
    normEps: num({ 't5.attention.layer_norm_rms_epsilon': eps }, 't5.attention.layer_norm_rms_epsilon', 1e-6),
    activation: gated > 0 ? 'gelu_tanh' : 'relu',
    gated: gated > 0,
    tiedEmbeddings: !g.tensors.has('output.weight'),
    relativeBuckets: buckets,
    relativeMaxDistance: int(md, T5_MAX_DISTANCE_KEY, T5_LLAMACPP_MAX_DISTANCE),
    decoderStartTokenId: typeof start === 'number' ? start : pad,
    eosTokenIds: [eos],
    padTokenId: pad,
  };
}

/** Binds llama.cpp's T5 tensor names to the canonical names of t5.ts's parameters(). */
export function bindT5GGUF(b: Binder, cfg: Seq2SeqConfig): void {
  const { hidden: C, vocabSize: V, heads: H, headDim: D, ffn: F } = cfg;
  const linear = (param: string, name: string, shape: [number, number]) => {
    const w = b.get(name);
    b.expectShape(name, w, shape);
    b.linear(param, w);
  };
  b.table('enc.embed', 'token_embd.weight', [V, C]);
  b.table('dec.embed', 'token_embd.weight', [V, C]);
  linear('unembed', cfg.tiedEmbeddings ? 'token_embd.weight' : 'output.weight', [V, C]);
  for (const [side, n] of [['enc', cfg.encoderLayers], ['dec', cfg.decoderLayers]] as const) {
    // HF's T5 keeps one table per stack, in its first block; llama.cpp allows one per block.
    b.f32(`${side}.relbias`, `${side}.blk.0.attn_rel_b.weight`, [cfg.relativeBuckets!, H]);
    for (let i = 1; i < n; i++)
      if (b.src.has(`${side}.blk.${i}.attn_rel_b.weight`)) throw new RangeError(`gguf: '${side}.blk.${i}.attn_rel_b.weight': a position bias per block is not supported (T5 shares block 0's)`);
    for (let i = 0; i < n; i++) {
      const t = `${side}.blk.${i}.`;
      const p = `${side}.l${i}`;
      const attention = (param: string, prefix: string) => {
        for (const x of ['q', 'k', 'v'] as const) linear(`${param}.${x}`, `${t}${prefix}_${x}.weight`, [H * D, C]);
        linear(`${param}.o`, `${t}${prefix}_o.weight`, [C, H * D]);
      };
      attention(p, 'attn');
      b.f32(`${p}.attn.norm.w`, `${t}attn_norm.weight`, [C]);
      if (side === 'dec') {
        if (b.src.has(`${t}cross_attn_rel_b.weight`)) throw new RangeError(`gguf: '${t}cross_attn_rel_b.weight': T5's cross-attention has no position bias`);
        attention(`${p}.cross`, 'cross_attn');
        b.f32(`${p}.cross.norm.w`, `${t}cross_attn_norm.weight`, [C]);
      }
      if (cfg.gated) linear(`${p}.mlp.gate`, `${t}ffn_gate.weight`, [F, C]);
      linear(`${p}.mlp.up`, `${t}ffn_up.weight`, [F, C]);
      linear(`${p}.mlp.down`, `${t}ffn_down.weight`, [C, F]);
      b.f32(`${p}.mlp.norm.w`, `${t}ffn_norm.weight`, [C]);
    }
    b.f32(`${side}.final.w`, `${side}.output_norm.weight`, [C]);
  }
}
