// The Qwen2 and Qwen3 families: Llama's computation with Qwen2's bias on the q, k and v
// projections (not o), or Qwen3's per-head RMSNorm of q and k before the rotation (no bias).
// Config, binders (Llama's plus those tensors), graph parts and parameters, for Hugging Face
// directories and llama.cpp GGUF files (general.architecture 'qwen2' / 'qwen3', rotate_half layout).

import type { GGUFFile } from '../../io/gguf.js';
import { int, refuse, type DecoderConfig } from '../config.js';
import type { Binder } from '../weights.js';
import type { ModelFamily, ParamTensor } from './family.js';
import { llama, llamaGGUFConfig } from './llama.js';

/** llama.cpp's Qwen files: Llama's keys under `qwen2.` / `qwen3.`, Q/K rows not permuted (NEOX rotation). */
const qwenGGUF = (architecture: 'qwen2' | 'qwen3') => (g: GGUFFile): DecoderConfig => llamaGGUFConfig(g, architecture, false);

function bindQwen2GGUF(b: Binder, cfg: DecoderConfig): void {
  llama.bindGGUF(b, cfg);
  const { heads: H, kvHeads: KV, headDim: D } = cfg;
  for (let i = 0; i < cfg.layers; i++) {
    b.f32(`l${i}.q.b`, `blk.${i}.attn_q.bias`, [H * D]);
    b.f32(`l${i}.k.b`, `blk.${i}.attn_k.bias`, [KV * D]);
    b.f32(`l${i}.v.b`, `blk.${i}.attn_v.bias`, [KV * D]);
  }
}

function bindQwen3GGUF(b: Binder, cfg: DecoderConfig): void {
  llama.bindGGUF(b, cfg);
  for (let i = 0; i < cfg.layers; i++) {
    b.f32(`l${i}.qnorm.w`, `blk.${i}.attn_q_norm.weight`, [cfg.headDim]);
    b.f32(`l${i}.knorm.w`, `blk.${i}.attn_k_norm.weight`, [cfg.headDim]);
  }
}

/** Llama's fields and refusals, then what Qwen adds: a sliding window is refused, not ignored. */
function qwenConfig(cfg: Record<string, unknown>, architecture: 'qwen2' | 'qwen3'): DecoderConfig {
  const family = architecture === 'qwen2' ? 'Qwen2' : 'Qwen3';
  if (cfg.use_sliding_window === true) refuse(family, 'use_sliding_window', true, 'Qwen sliding-window layers are not implemented');
  if (architecture === 'qwen3' && cfg.attention_bias === true) refuse(family, 'attention_bias', true, 'Qwen3 projections have no bias');
  const base = llama.configFromHF({ ...cfg, attention_bias: false });
  // Qwen3 gives head_dim separately from hidden_size / num_attention_heads.
  return { ...base, architecture, headDim: int(cfg, 'head_dim', base.headDim) };
}

function params(cfg: DecoderConfig, extra: (l: number) => ParamTensor[]): ParamTensor[] {
  const base = llama.parameters(cfg);
  const out: ParamTensor[] = [];
  for (const t of base) {
    out.push(t);
    if (t.layer !== undefined && t.name.endsWith('.v')) out.push(...extra(t.layer));
  }
  return out;
}

function bindQwen2(b: Binder, cfg: DecoderConfig): void {
  llama.bindHF(b, cfg);
  const { heads: H, kvHeads: KV, headDim: D } = cfg;
  for (let i = 0; i < cfg.layers; i++) {
    const p = `model.layers.${i}.self_attn.`;
    b.f32(`l${i}.q.b`, `${p}q_proj.bias`, [H * D]);
    b.f32(`l${i}.k.b`, `${p}k_proj.bias`, [KV * D]);
    b.f32(`l${i}.v.b`, `${p}v_proj.bias`, [KV * D]);
  }
}

function bindQwen3(b: Binder, cfg: DecoderConfig): void {
  llama.bindHF(b, cfg);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `model.layers.${i}.self_attn.`;
    b.f32(`l${i}.qnorm.w`, `${p}q_norm.weight`, [cfg.headDim]);
    b.f32(`l${i}.knorm.w`, `${p}k_norm.weight`, [cfg.headDim]);
  }
}

export const qwen2: ModelFamily = {
  ...llama,
  name: 'qwen2',
  hf: { modelTypes: ['qwen2'], architectures: ['Qwen2ForCausalLM'] },
  gguf: ['qwen2'],
  configFromHF: (cfg) => qwenConfig(cfg, 'qwen2'),
  configFromGGUF: qwenGGUF('qwen2'),
  bindHF: bindQwen2,
  bindGGUF: bindQwen2GGUF,
  graph: { ...llama.graph, attention: (cfg, positions, layer) => ({ ...llama.graph.attention(cfg, positions, layer), qkvBias: true }) },
  parameters: (cfg) =>
    params(cfg, (layer) => [
      { name: `l${layer}.q.b`, shape: [cfg.heads * cfg.headDim], component: 'attention.q', layer },
      { name: `l${layer}.k.b`, shape: [cfg.kvHeads * cfg.headDim], component: 'attention.k', layer },
      { name: `l${layer}.v.b`, shape: [cfg.kvHeads * cfg.headDim], component: 'attention.v', layer },
    ]),
};

export const qwen3: ModelFamily = {
  ...llama,
  name: 'qwen3',
  hf: { modelTypes: ['qwen3'], architectures: ['Qwen3ForCausalLM'] },
  gguf: ['qwen3'],
  configFromHF: (cfg) => qwenConfig(cfg, 'qwen3'),
  configFromGGUF: qwenGGUF('qwen3'),
  bindHF: bindQwen3,
  bindGGUF: bindQwen3GGUF,
  graph: { ...llama.graph, attention: (cfg, positions, layer) => ({ ...llama.graph.attention(cfg, positions, layer), qkNorm: cfg.normEps }) },
  parameters: (cfg) =>
    params(cfg, (layer) => [
      { name: `l${layer}.qnorm.w`, shape: [cfg.headDim], component: 'norms', layer },
      { name: `l${layer}.knorm.w`, shape: [cfg.headDim], component: 'norms', layer },
    ]),
};
