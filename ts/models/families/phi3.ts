// The Phi-3 family (Hugging Face modeling_phi3): Llama's computation with q, k and v in one fused
// qkv_proj and gate and up in one gate_up_proj, split into Llama's parameters at load (views of
// the mapping, no copy); partial_rotary_factor, LongRoPE (rope_scaling 'longrope' / 'su') and a
// sliding window when set. Config, binder and graph parts; parameters are Llama's (llama.ts).

import { int, refuse, type DecoderConfig } from '../config.js';
import { Binder } from '../weights.js';
import type { ModelFamily } from './family.js';
import { llama, llamaHFConfig } from './llama.js';

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

export const phi3: ModelFamily = {
  ...llama,
  name: 'phi3',
  hf: { modelTypes: ['phi3'], architectures: ['Phi3ForCausalLM'] },
  gguf: [],
  configFromHF,
  configFromGGUF: () => {
    throw new RangeError("gguf: Phi-3 files (general.architecture 'phi3') are not read yet; load the Hugging Face directory");
  },
  bindHF,
  bindGGUF: () => {
    throw new RangeError("gguf: Phi-3 files (general.architecture 'phi3') are not read yet; load the Hugging Face directory");
  },
  graph: {
    ...llama.graph,
    attention: (cfg, positions, layer) => ({ ...llama.graph.attention(cfg, positions, layer), ...(cfg.slidingWindow ? { window: cfg.slidingWindow } : {}) }),
  },
};
