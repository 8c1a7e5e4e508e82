// GPT-2: learned positions, LayerNorm, GELU (tanh), fused QKV, tied unembedding. Binds Hugging
// Face checkpoints (Conv1D weights stored [in, out]) and llama.cpp GGUF files ([out, in]).

import { Binder } from './weights.js';
import type { DecoderConfig } from './config.js';

/** Hugging Face names, with or without the 'transformer.' prefix of GPT2LMHeadModel. */
export function bindGpt2HF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  const pre = b.src.has('transformer.wte.weight') ? 'transformer.' : '';
  b.table('embed', `${pre}wte.weight`, [V, C]);
  b.table('positions', `${pre}wpe.weight`, [cfg.maxPositions, C]);
  // Conv1D: y = x W + b with W (in, out); the backend packs it as (out, in) by strides.
  for (let i = 0; i < cfg.layers; i++) {
    const p = `${pre}h.${i}.`;
    const l = `l${i}`;
    b.f32(`${l}.norm1.w`, `${p}ln_1.weight`, [C]);
    b.f32(`${l}.norm1.b`, `${p}ln_1.bias`, [C]);
    const qkvBias = b.get(`${p}attn.c_attn.bias`).load().to('f32');
    b.expectShape(`${p}attn.c_attn.bias`, qkvBias, [3 * C]);
    (['q', 'k', 'v'] as const).forEach((n, j) => {
      b.conv1d(`${l}.${n}`, `${p}attn.c_attn.weight`, [C, 3 * C], [j * C, (j + 1) * C]);
      b.params.set(`${l}.${n}.b`, qkvBias.slice(0, j * C, (j + 1) * C).contiguous());
    });
    b.conv1d(`${l}.o`, `${p}attn.c_proj.weight`, [C, C]);
    b.f32(`${l}.o.b`, `${p}attn.c_proj.bias`, [C]);
    b.f32(`${l}.norm2.w`, `${p}ln_2.weight`, [C]);
    b.f32(`${l}.norm2.b`, `${p}ln_2.bias`, [C]);
    b.conv1d(`${l}.up`, `${p}mlp.c_fc.weight`, [C, F]);
    b.f32(`${l}.up.b`, `${p}mlp.c_fc.bias`, [F]);
    b.conv1d(`${l}.down`, `${p}mlp.c_proj.weight`, [F, C]);
    b.f32(`${l}.down.b`, `${p}mlp.c_proj.bias`, [C]);
  }
  b.f32('final.w', `${pre}ln_f.weight`, [C]);
  b.f32('final.b', `${pre}ln_f.bias`, [C]);
  b.linear('unembed', b.get(`${pre}wte.weight`));
}

/** llama.cpp's GPT-2 GGUF names: blk.N.attn_qkv (3C, C), token_embd, position_embd, output_norm. */
export function bindGpt2GGUF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  b.table('embed', 'token_embd.weight', [V, C]);
  b.table('positions', 'position_embd.weight', [cfg.maxPositions, C]);
  const lin = (param: string, name: string, n: number, k: number) => {
    const t = b.get(name);
    b.expectShape(name, t, [n, k]);
    b.linear(param, t);
  };
  for (let i = 0; i < cfg.layers; i++) {
    const p = `blk.${i}.`;
    const l = `l${i}`;
    b.f32(`${l}.norm1.w`, `${p}attn_norm.weight`, [C]);
    b.f32(`${l}.norm1.b`, `${p}attn_norm.bias`, [C]);
    const qkv = b.get(`${p}attn_qkv.weight`);
    b.expectShape(`${p}attn_qkv.weight`, qkv, [3 * C, C]);
    const qkvBias = b.get(`${p}attn_qkv.bias`).load().to('f32');
    (['q', 'k', 'v'] as const).forEach((n, j) => {
      b.linear(`${l}.${n}`, Binder.rows(qkv, j * C, (j + 1) * C));
      b.params.set(`${l}.${n}.b`, qkvBias.slice(0, j * C, (j + 1) * C).contiguous());
    });
    lin(`${l}.o`, `${p}attn_output.weight`, C, C);
    b.f32(`${l}.o.b`, `${p}attn_output.bias`, [C]);
    b.f32(`${l}.norm2.w`, `${p}ffn_norm.weight`, [C]);
    b.f32(`${l}.norm2.b`, `${p}ffn_norm.bias`, [C]);
    lin(`${l}.up`, `${p}ffn_up.weight`, F, C);
    b.f32(`${l}.up.b`, `${p}ffn_up.bias`, [F]);
    lin(`${l}.down`, `${p}ffn_down.weight`, C, F);
    b.f32(`${l}.down.b`, `${p}ffn_down.bias`, [C]);
  }
  b.f32('final.w', 'output_norm.weight', [C]);
  b.f32('final.b', 'output_norm.bias', [C]);
  b.linear('unembed', b.get(b.src.has('output.weight') ? 'output.weight' : 'token_embd.weight'));
}
