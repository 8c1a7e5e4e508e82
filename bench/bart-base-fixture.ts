// Writes a BART-base-shaped checkpoint directory (6 + 6 layers, d_model 768, 12 heads, FFN 3072,
// vocabulary 50265, 1024 learned positions; HF's BartForConditionalGeneration names, f32
// safetensors) with random weights, for benchmarks. Not a test fixture and no tokenizer.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../test/harness/rng.js';

export const BART_BASE = { layers: 6, hidden: 768, heads: 12, ffn: 3072, vocab: 50265, positions: 1024 } as const;

/** Writes config.json and model.safetensors into `dir` (which must exist); returns the parameter count. */
export function writeBartBase(dir: string, seed = 1): number {
  const { layers: L, hidden: C, heads: H, ffn: F, vocab: V, positions: P } = BART_BASE;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'bart', architectures: ['BartForConditionalGeneration'], vocab_size: V, d_model: C, encoder_layers: L, decoder_layers: L,
    encoder_attention_heads: H, decoder_attention_heads: H, encoder_ffn_dim: F, decoder_ffn_dim: F, max_position_embeddings: P,
    activation_function: 'gelu', scale_embedding: false, is_encoder_decoder: true, bos_token_id: 0, pad_token_id: 1, eos_token_id: 2,
    decoder_start_token_id: 2, forced_eos_token_id: 2,
  }));
  // name, shape, scale (-1: ones, 0: zeros, else uniform in [-scale, scale])
  const tensors: [string, number[], number][] = [['model.shared.weight', [V, C], 1]];
  const lin = (p: string, n: number, k: number) => tensors.push([`${p}.weight`, [n, k], k ** -0.5], [`${p}.bias`, [n], 0]);
  const ln = (p: string) => tensors.push([`${p}.weight`, [C], -1], [`${p}.bias`, [C], 0]);
  const attn = (p: string) => { for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`${p}.${n}`, C, C); };
  for (const stack of ['encoder', 'decoder']) {
    const m = `model.${stack}`;
    tensors.push([`${m}.embed_positions.weight`, [P + 2, C], 0.1]);
    ln(`${m}.layernorm_embedding`);
    for (let i = 0; i < L; i++) {
      const p = `${m}.layers.${i}`;
      attn(`${p}.self_attn`);
      ln(`${p}.self_attn_layer_norm`);
      if (stack === 'decoder') {
        attn(`${p}.encoder_attn`);
        ln(`${p}.encoder_attn_layer_norm`);
      }
      lin(`${p}.fc1`, F, C);
      lin(`${p}.fc2`, C, F);
      ln(`${p}.final_layer_norm`);
    }
  }
  tensors.push(['final_logits_bias', [1, V], 0]);
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const text = JSON.stringify(header);
  const json = Buffer.from(text.padEnd(Math.ceil((text.length + 8) / 8) * 8 - 8, ' '));
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  const data = new Float32Array(out.buffer, out.byteOffset + 8 + json.length, offset / 4);
  const rand = mulberry32(seed);
  let k = 0;
  for (const [, shape, scale] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < n; i++) data[k++] = scale === -1 ? 1 : scale === 0 ? 0 : (rand() * 2 - 1) * scale;
  }
  writeFileSync(join(dir, 'model.safetensors'), out);
  return offset / 4;
}
