// Writes a T5-small-shaped checkpoint directory (6 + 6 layers, d_model 512, 8 heads of 64, FFN 2048,
// vocabulary 32128; v1.1 layout: gated-GELU, untied lm_head; HF's weight names, f32 safetensors)
// with random weights, for benchmarks. Not a test fixture and no tokenizer (benchmarks run on ids).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../test/harness/rng.js';

export const T5_SMALL = { layers: 6, hidden: 512, heads: 8, headDim: 64, ffn: 2048, vocab: 32128, buckets: 32 } as const;

/** Writes config.json and model.safetensors into `dir` (which must exist); returns the parameter count. */
export function writeT5Small(dir: string, seed = 1): number {
  const { layers: L, hidden: C, heads: H, headDim: D, ffn: F, vocab: V, buckets: B } = T5_SMALL;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 't5', architectures: ['T5ForConditionalGeneration'], vocab_size: V, d_model: C, d_kv: D, d_ff: F, num_layers: L,
    num_decoder_layers: L, num_heads: H, relative_attention_num_buckets: B, relative_attention_max_distance: 128, layer_norm_epsilon: 1e-6,
    feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, is_encoder_decoder: true, pad_token_id: 0, eos_token_id: 1, decoder_start_token_id: 0,
  }));
  // name, shape, scale (-1: ones, else uniform in [-scale, scale])
  const tensors: [string, number[], number][] = [['shared.weight', [V, C], 1]];
  const attn = (p: string) => {
    for (const n of ['q', 'k', 'v']) tensors.push([`${p}.${n}.weight`, [H * D, C], C ** -0.5]);
    tensors.push([`${p}.o.weight`, [C, H * D], (H * D) ** -0.5]);
  };
  const mlp = (p: string) => tensors.push([`${p}.wi_0.weight`, [F, C], C ** -0.5], [`${p}.wi_1.weight`, [F, C], C ** -0.5], [`${p}.wo.weight`, [C, F], F ** -0.5]);
  for (const stack of ['encoder', 'decoder']) {
    for (let i = 0; i < L; i++) {
      const b = `${stack}.block.${i}.layer`;
      attn(`${b}.0.SelfAttention`);
      if (i === 0) tensors.push([`${b}.0.SelfAttention.relative_attention_bias.weight`, [B, H], 1]);
      tensors.push([`${b}.0.layer_norm.weight`, [C], -1]);
      if (stack === 'decoder') {
        attn(`${b}.1.EncDecAttention`);
        tensors.push([`${b}.1.layer_norm.weight`, [C], -1]);
      }
      const m = stack === 'decoder' ? 2 : 1;
      mlp(`${b}.${m}.DenseReluDense`);
      tensors.push([`${b}.${m}.layer_norm.weight`, [C], -1]);
    }
    tensors.push([`${stack}.final_layer_norm.weight`, [C], -1]);
  }
  tensors.push(['lm_head.weight', [V, C], C ** -0.5]);
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
    for (let i = 0; i < n; i++) data[k++] = scale === -1 ? 1 : (rand() * 2 - 1) * scale;
  }
  writeFileSync(join(dir, 'model.safetensors'), out);
  return offset / 4;
}
