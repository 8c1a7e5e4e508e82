// The Phi-3 family (Hugging Face modeling_phi3): Llama's computation with q, k and v in one fused
// qkv_proj and gate and up in one gate_up_proj, split into Llama's parameters at load (views of
// the mapping, no copy); partial_rotary_factor, LongRoPE (rope_scaling 'longrope' / 'su') and a
// sliding window when set. From Hugging Face directories and llama.cpp's 'phi3' GGUF files (the
// same fused tensors as stored, LongRoPE's factors as tensors). Config, binders and graph parts;
// parameters are Llama's (llama.ts).

import type { GGUFFile } from '../../io/gguf.js';
import { int, refuse, type DecoderConfig } from '../config.js';
import { Binder } from '../weights.js';
import type { ModelFamily } from './family.js';
import { llama, llamaGGUFConfig, llamaHFConfig } from './llama.js';

function configFromHF(cfg: Record<string, unknown>): DecoderConfig {
  const act = cfg.hidden_act ?? 'silu';
  if (act !== 'silu') refuse('Phi-3', 'hidden_act', act, 'the MLP is SwiGLU with silu');
  if (cfg.attention_bias === true) refuse('Phi-3', 'attention_bias', true, 'qkv_proj and o_proj have no bias');
  const prf = cfg.partial_rotary_factor ?? 1;
  if (typeof prf !== 'number' || !(prf > 0 && prf <= 1)) refuse('Phi-3', 'partial_rotary_factor', prf, 'expected a number in (0, 1]');
  // modeling_phi3: rotary_ndims = int(head_dim * partial_rotary_factor).
  const base = llamaHFConfig(cfg, 'Phi-3', (d) => Math.trunc(d * prf));
  const w = cfg.sliding_window;
  return { ...base, architecture: 'phi3', ...(w === null || w === undefined ? {} : { slidingWindow: int(cfg, 'sliding_window') }) };
}

function bindHF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V, heads: H, kvHeads: KV, headDim: D } = cfg;
  const fused = (name: string, rows: number) => {
    const t = b.get(name);
    b.expectShape(name, t, [rows, C]);
    return t;
  };
  b.table('embed', 'model.embed_tokens.weight', [V, C]);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `model.layers.${i}.`;
    const l = `l${i}`;
    b.f32(`${l}.norm1.w`, `${p}input_layernorm.weight`, [C]);
    // qkv_proj: rows [q (H*D) | k (KV*D) | v (KV*D)], (H*D + 2*KV*D, C).
    const qkv = fused(`${p}self_attn.qkv_proj.weight`, (H + 2 * KV) * D);
    b.linear(`${l}.q`, Binder.rows(qkv, 0, H * D));
    b.linear(`${l}.k`, Binder.rows(qkv, H * D, (H + KV) * D));
    b.linear(`${l}.v`, Binder.rows(qkv, (H + KV) * D, (H + 2 * KV) * D));
    const o = b.get(`${p}self_attn.o_proj.weight`);
    b.expectShape(`${p}self_attn.o_proj.weight`, o, [C, H * D]);
    b.linear(`${l}.o`, o);
    b.f32(`${l}.norm2.w`, `${p}post_attention_layernorm.weight`, [C]);
    // gate_up_proj: rows [gate (F) | up (F)], (2F, C); the MLP is down(silu(gate) * up).
    const gu = fused(`${p}mlp.gate_up_proj.weight`, 2 * F);
    b.linear(`${l}.gate`, Binder.rows(gu, 0, F));
    b.linear(`${l}.up`, Binder.rows(gu, F, 2 * F));
    const down = b.get(`${p}mlp.down_proj.weight`);
    b.expectShape(`${p}mlp.down_proj.weight`, down, [C, F]);
    b.linear(`${l}.down`, down);
  }
  b.f32('final.w', 'model.norm.weight', [C]);
  const head = cfg.tiedEmbeddings || !b.src.has('lm_head.weight') ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const u = b.get(head);
  b.expectShape(head, u, [V, C]);
  b.linear('unembed', u);
}

/**
 * llama.cpp's 'phi3' files: Llama's keys under phi3.*, rotate_half layout (NEOX), rope.dimension_count
 * rotated dimensions, attention.sliding_window (0: none). The window is honoured, as Hugging Face
 * does; llama.cpp 0.4.0 turns Phi-3's window off at load ("Phi SWA is currently disabled"). LongRoPE
 * switches to the long factors per pass as Hugging Face does, once a pass's longest position + 1
 * passes rope.scaling.original_context_length; llama.cpp picks them once, by the context size.
 */
function configFromGGUF(g: GGUFFile): DecoderConfig {
  return llamaGGUFConfig(g, 'phi3', false, { partialRotary: true, window: true });
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
    if (b.src.has(`${p}attn_qkv.weight`)) {
      // attn_qkv: rows [q (H*D) | k (KV*D) | v (KV*D)], as Hugging Face's qkv_proj.
      const qkv = b.get(`${p}attn_qkv.weight`);
      b.expectShape(`${p}attn_qkv.weight`, qkv, [(H + 2 * KV) * D, C]);
      b.linear(`${l}.q`, Binder.rows(qkv, 0, H * D));
      b.linear(`${l}.k`, Binder.rows(qkv, H * D, (H + KV) * D));
      b.linear(`${l}.v`, Binder.rows(qkv, (H + KV) * D, (H + 2 * KV) * D));
    } else {
      // llama.cpp also reads Phi-3 files with separate projections.
      lin(`${l}.q`, `${p}attn_q.weight`, H * D, C);
      lin(`${l}.k`, `${p}attn_k.weight`, KV * D, C);
      lin(`${l}.v`, `${p}attn_v.weight`, KV * D, C);
    }
    lin(`${l}.o`, `${p}attn_output.weight`, C, H * D);
    b.f32(`${l}.norm2.w`, `${p}ffn_norm.weight`, [C]);
    // ffn_up: rows [gate (F) | up (F)] (llama.cpp's swiglu halves), as gate_up_proj.
    const gu = b.get(`${p}ffn_up.weight`);
    b.expectShape(`${p}ffn_up.weight`, gu, [2 * F, C]);
    b.linear(`${l}.gate`, Binder.rows(gu, 0, F));
    b.linear(`${l}.up`, Binder.rows(gu, F, 2 * F));
    lin(`${l}.down`, `${p}ffn_down.weight`, C, F);
  }
  b.f32('final.w', 'output_norm.weight', [C]);
  lin('unembed', b.src.has('output.weight') ? 'output.weight' : 'token_embd.weight', V, C);
}

export const phi3: ModelFamily = {
  ...llama,
  name: 'phi3',
  hf: { modelTypes: ['phi3'], architectures: ['Phi3ForCausalLM'] },
  gguf: ['phi3'],
  configFromHF,
  configFromGGUF,
  bindHF,
  bindGGUF,
  // Llama's graph: its attention applies cfg.slidingWindow.
  graph: llama.graph,
};
