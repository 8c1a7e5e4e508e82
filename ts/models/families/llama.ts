// The Llama family: RMSNorm, rotary embeddings (Hugging Face rotate_half; GGUF files rotate
// interleaved pairs because llama.cpp's converter permutes Q/K rows), SwiGLU, grouped-query
// attention, untied unembedding unless tie_word_embeddings. Config, binders, graph parts and
// parameter list; not the shared blocks (../blocks.ts) nor the family table (index.ts).

import type { GGUFFile } from '../../io/gguf.js';
import { mlpSwiGLU } from '../blocks.js';
import { checkHeads, ggufFields, ggufTokenIds, ggufVocab, hfTokenIds, int, num, refuse, type DecoderConfig } from '../config.js';
import { ropeScalingFromGGUF, ropeScalingFromHF } from '../rope.js';
import type { Binder } from '../weights.js';
import type { ModelFamily, ParamTensor } from './family.js';

function check(c: DecoderConfig): DecoderConfig {
  if (c.headDim % 2 !== 0) throw new RangeError(`config: rotary embeddings need an even head size, got ${c.headDim}`);
  const rd = c.rotaryDim ?? c.headDim;
  if (rd % 2 !== 0 || rd < 2 || rd > c.headDim) throw new RangeError(`config: rotary embeddings need an even number of rotated dimensions in [2, ${c.headDim}], got ${rd}`);
  return checkHeads(c);
}

/** config.json fields of LlamaConfig that change the computation; refused unless at the value implemented. */
function refuseUnimplemented(cfg: Record<string, unknown>): void {
  if (cfg.attention_bias === true) refuse('Llama', 'attention_bias', true, 'Q/K/V/O projections have no bias');
  if (cfg.mlp_bias === true) refuse('Llama', 'mlp_bias', true, 'gate/up/down projections have no bias');
  const act = cfg.hidden_act ?? 'silu';
  if (act !== 'silu') refuse('Llama', 'hidden_act', act, 'the MLP is SwiGLU with silu');
}

/**
 * The fields Llama and its relatives share, read from a config.json; `rotated` gives the rotary
 * dimensions from the head size (Phi-3's partial_rotary_factor), and `family` names the errors.
 */
export function llamaHFConfig(cfg: Record<string, unknown>, family: string, rotated: (headDim: number) => number = (d) => d): DecoderConfig {
  const hidden = int(cfg, 'hidden_size');
  const heads = int(cfg, 'num_attention_heads');
  const headDim = int(cfg, 'head_dim', hidden / heads);
  const rotaryDim = rotated(headDim);
  const ropeTheta = num(cfg, 'rope_theta', 10000);
  const ropeScaling = ropeScalingFromHF(cfg, family, ropeTheta, rotaryDim);
  const maxPos = int(cfg, 'max_position_embeddings');
  return check({
    architecture: 'llama', vocabSize: int(cfg, 'vocab_size'), hidden, layers: int(cfg, 'num_hidden_layers'), heads,
    kvHeads: int(cfg, 'num_key_value_heads', heads), headDim, ffn: int(cfg, 'intermediate_size'),
    // Dynamic NTK exists to run past max_position_embeddings: up to factor times it.
    maxPositions: ropeScaling?.dynamic ? Math.floor(maxPos * ropeScaling.dynamic.factor) : maxPos,
    normEps: num(cfg, 'rms_norm_eps', 1e-6), ropeTheta, ropeInterleaved: false, tiedEmbeddings: cfg.tie_word_embeddings === true,
    ...(rotaryDim !== headDim ? { rotaryDim } : {}), ...(ropeScaling ? { ropeScaling } : {}), ...hfTokenIds(cfg),
  });
}

function configFromHF(cfg: Record<string, unknown>): DecoderConfig {
  refuseUnimplemented(cfg);
  // modeling_llama rotates whole heads; a partial_rotary_factor would not fit its rotation.
  const prf = cfg.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1) refuse('Llama', 'partial_rotary_factor', prf, 'Llama rotates whole heads');
  return llamaHFConfig(cfg, 'Llama');
}

const GGUF_KEYS = [
  'context_length', 'embedding_length', 'feed_forward_length', 'block_count', 'attention.head_count', 'attention.head_count_kv',
  'attention.layer_norm_rms_epsilon', 'attention.key_length', 'attention.value_length', 'rope.freq_base', 'rope.dimension_count',
  'rope.scaling.type', 'rope.scaling.factor', 'rope.scale_linear', 'rope.scaling.original_context_length', 'rope.scaling.attn_factor',
  'rope.scaling.yarn_beta_fast', 'rope.scaling.yarn_beta_slow', 'rope.scaling.yarn_ext_factor', 'rope.scaling.yarn_attn_factor',
  'rope.scaling.yarn_log_multiplier', 'expert_count', 'vocab_size', 'attention.sliding_window',
];

/** GGUF metadata (llama.cpp's llama.* keys) that changes the computation and is not implemented. */
function refuseUnimplementedGGUF(md: Record<string, unknown>, headDim: number, arch: string, partialRotary: boolean): void {
  const F = ggufFamily(arch);
  const experts = md.expert_count;
  if (typeof experts === 'number' && experts > 0) refuse(F, `${arch}.expert_count`, experts, 'mixture-of-experts MLPs are not implemented');
  const rot = md['rope.dimension_count'];
  if (!partialRotary && rot !== undefined && rot !== headDim) refuse(F, `${arch}.rope.dimension_count`, rot, `partial rotary embeddings are not implemented; the head size is ${headDim}`);
  const vl = md['attention.value_length'];
  if (vl !== undefined && vl !== headDim) refuse(F, `${arch}.attention.value_length`, vl, `values must have the key size ${headDim}`);
}

const ggufFamily = (arch: string) => `${arch === 'llama' ? 'Llama' : arch} GGUF`;

/** A small f32 tensor's values (rope factors), when the file has it. */
function ggufValues(g: GGUFFile, name: string): Float32Array | undefined {
  return g.tensors.has(name) ? g.tensor(name).load().toFloat32() : undefined;
}

/** What a llama.cpp relative's reader may take beyond Llama's keys. */
export interface LlamaGGUFOptions {
  /** rope.dimension_count below the head size (Phi-3's partial rotary). */
  readonly partialRotary?: boolean;
  /** attention.sliding_window on another architecture than 'llama'; 0 means none (Phi-3). */
  readonly window?: boolean;
}

/**
 * The fields Llama and its llama.cpp relatives (qwen2, qwen3, phi3) share, from `${arch}.*` metadata;
 * `interleaved` says whether the file's Q/K rows were permuted for interleaved rotation (llama.cpp's
 * 'llama' converter does; NEOX-style architectures keep rotate_half's layout). Rope scaling comes
 * from rope.scaling.* keys and the rope_freqs / rope_factors_* tensors (rope.ts).
 */
export function llamaGGUFConfig(g: GGUFFile, architecture: DecoderConfig['architecture'], interleaved: boolean, opts: LlamaGGUFOptions = {}): DecoderConfig {
  const md = ggufFields(g, GGUF_KEYS);
  const hidden = int(md, 'embedding_length');
  const heads = int(md, 'attention.head_count');
  // The head size is attention.key_length when given; older files only carry rope.dimension_count.
  const headDim = int(md, 'attention.key_length', opts.partialRotary ? hidden / heads : ((md['rope.dimension_count'] as number | undefined) ?? hidden / heads));
  const arch = String(g.get('general.architecture'));
  refuseUnimplementedGGUF(md, headDim, arch, opts.partialRotary === true);
  const rotaryDim = int(md, 'rope.dimension_count', headDim);
  const ropeTheta = num(md, 'rope.freq_base', 10000);
  const maxPositions = int(md, 'context_length');
  const ropeScaling = ropeScalingFromGGUF({
    md, family: ggufFamily(arch), arch, theta: ropeTheta, rd: rotaryDim, contextLength: maxPositions,
    freqFactors: ggufValues(g, 'rope_freqs.weight'), shortFactors: ggufValues(g, 'rope_factors_short.weight'), longFactors: ggufValues(g, 'rope_factors_long.weight'),
  });
  // Mistral files say 'llama' and may carry their window (attnode convert writes it; llama.cpp's
  // llama graph ignores the key, which is why such files differ from llama.cpp past the window).
  // A window on another architecture is refused unless its reader takes it, as Qwen's
  // sliding-window layers are from config.json.
  const window = md['attention.sliding_window'];
  if (window !== undefined && arch !== 'llama' && !opts.window) refuse(`${arch} GGUF`, `${arch}.attention.sliding_window`, window, 'sliding-window layers are not implemented for this architecture');
  const hasWindow = window !== undefined && !(opts.window && window === 0);
  return check({
    ...(hasWindow ? { slidingWindow: int(md, 'attention.sliding_window') } : {}),
    architecture, vocabSize: ggufVocab(g, md), hidden, layers: int(md, 'block_count'), heads,
    kvHeads: int(md, 'attention.head_count_kv', heads), headDim, ffn: int(md, 'feed_forward_length'), maxPositions,
    normEps: num(md, 'attention.layer_norm_rms_epsilon', 1e-6), ropeTheta, ropeInterleaved: interleaved,
    tiedEmbeddings: !g.tensors.has('output.weight'), ...(rotaryDim !== headDim ? { rotaryDim } : {}), ...(ropeScaling ? { ropeScaling } : {}), ...ggufTokenIds(g),
  });
}

function configFromGGUF(g: GGUFFile): DecoderConfig {
  return llamaGGUFConfig(g, 'llama', true);
}

/** Every parameter of the graph: C = hidden, F = ffn, V = vocab, H/KV heads of size D. */
function parameters(cfg: DecoderConfig): ParamTensor[] {
  const { hidden: C, ffn: F, vocabSize: V, heads: H, kvHeads: KV, headDim: D } = cfg;
  const out: ParamTensor[] = [{ name: 'embed', shape: [V, C], component: 'embedding' }]; // (V, C)
  for (let layer = 0; layer < cfg.layers; layer++) {
    const l = `l${layer}`;
    const add = (name: string, shape: number[], component: ParamTensor['component']) => out.push({ name: `${l}.${name}`, shape, component, layer });
    add('norm1.w', [C], 'norms');
    add('q', [H * D, C], 'attention.q'); // (H*D, C)
    add('k', [KV * D, C], 'attention.k'); // (KV*D, C)
    add('v', [KV * D, C], 'attention.v'); // (KV*D, C)
    add('o', [C, H * D], 'attention.o'); // (C, H*D)
    add('norm2.w', [C], 'norms');
    add('gate', [F, C], 'mlp.gate'); // (F, C)
    add('up', [F, C], 'mlp.up'); // (F, C)
    add('down', [C, F], 'mlp.down'); // (C, F)
  }
  out.push({ name: 'final.w', shape: [C], component: 'final.norm' });
  out.push({ name: 'unembed', shape: [V, C], component: 'unembedding', ...(cfg.tiedEmbeddings ? { tiedTo: 'embed' } : {}) });
  return out;
}

function bindHF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V, heads: H, kvHeads: KV, headDim: D } = cfg;
  const lin = (param: string, name: string, n: number, k: number) => {
    const t = b.get(name);
    b.expectShape(name, t, [n, k]);
    b.linear(param, t);
  };
  b.table('embed', 'model.embed_tokens.weight', [V, C]);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `model.layers.${i}.`;
    const l = `l${i}`;
    b.f32(`${l}.norm1.w`, `${p}input_layernorm.weight`, [C]);
    lin(`${l}.q`, `${p}self_attn.q_proj.weight`, H * D, C);
    lin(`${l}.k`, `${p}self_attn.k_proj.weight`, KV * D, C);
    lin(`${l}.v`, `${p}self_attn.v_proj.weight`, KV * D, C);
    lin(`${l}.o`, `${p}self_attn.o_proj.weight`, C, H * D);
    b.f32(`${l}.norm2.w`, `${p}post_attention_layernorm.weight`, [C]);
    lin(`${l}.gate`, `${p}mlp.gate_proj.weight`, F, C);
    lin(`${l}.up`, `${p}mlp.up_proj.weight`, F, C);
    lin(`${l}.down`, `${p}mlp.down_proj.weight`, C, F);
  }
  b.f32('final.w', 'model.norm.weight', [C]);
  lin('unembed', cfg.tiedEmbeddings || !b.src.has('lm_head.weight') ? 'model.embed_tokens.weight' : 'lm_head.weight', V, C);
}

function bindGGUF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V, heads: H, kvHeads: KV, headDim: D } = cfg;
  const lin = (param: string, name: string, n: number, k: number) => {
    const t = b.get(name);
    b.expectShape(name, t, [n, k]);
    b.linear(param, t);
  };
  b.table('embed', 'token_embd.weight', [V, C]);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `blk.${i}.`;
    const l = `l${i}`;
    b.f32(`${l}.norm1.w`, `${p}attn_norm.weight`, [C]);
    lin(`${l}.q`, `${p}attn_q.weight`, H * D, C);
    lin(`${l}.k`, `${p}attn_k.weight`, KV * D, C);
    lin(`${l}.v`, `${p}attn_v.weight`, KV * D, C);
    lin(`${l}.o`, `${p}attn_output.weight`, C, H * D);
    b.f32(`${l}.norm2.w`, `${p}ffn_norm.weight`, [C]);
    lin(`${l}.gate`, `${p}ffn_gate.weight`, F, C);
    lin(`${l}.up`, `${p}ffn_up.weight`, F, C);
    lin(`${l}.down`, `${p}ffn_down.weight`, C, F);
  }
  b.f32('final.w', 'output_norm.weight', [C]);
  lin('unembed', b.src.has('output.weight') ? 'output.weight' : 'token_embd.weight', V, C);
}

export const llama: ModelFamily = {
  name: 'llama',
  hf: { modelTypes: ['llama'], architectures: ['LlamaForCausalLM'] },
  gguf: ['llama'],
  configFromHF,
  configFromGGUF,
  bindHF,
  bindGGUF,
  graph: {
    norm: 'rmsNorm',
    attention: (cfg, positions) => ({
      bias: false,
      rope: { positions, theta: cfg.ropeTheta, interleaved: cfg.ropeInterleaved, rotaryDim: cfg.rotaryDim, scaling: cfg.ropeScaling },
      // Set by Mistral and Phi-3 configs and by a llama GGUF file's llama.attention.sliding_window.
      ...(cfg.slidingWindow ? { window: cfg.slidingWindow } : {}),
    }),
    mlp: mlpSwiGLU,
  },
  parameters,
};
