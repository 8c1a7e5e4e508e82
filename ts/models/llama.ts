// Llama: RMSNorm, rotary embeddings (Hugging Face rotate_half; GGUF files rotate interleaved
// pairs because llama.cpp's converter permutes Q/K rows), SwiGLU, grouped-query attention,
// untied unembedding unless tie_word_embeddings.

import { Binder } from './weights.js';
import type { DecoderConfig } from './config.js';

export function bindLlamaHF(b: Binder, cfg: DecoderConfig): void {
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

export function bindLlamaGGUF(b: Binder, cfg: DecoderConfig): void {
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
