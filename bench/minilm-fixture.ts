// Writes a MiniLM-L6-shaped BERT checkpoint directory (6 layers, hidden 384, 12 heads, FFN 1536;
// HF's BertModel weight names, f32 safetensors) with random weights for benchmarks, reusing the
// tiny task fixture's character-level tokenizer and sentence-transformers files. Not a test fixture.

import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../test/harness/rng.js';

const TASK_FIXTURE = join(import.meta.dirname, '..', 'test', 'fixtures', 'encoder-tasks', 'embed-mean');
export const MINILM_SHAPE = { layers: 6, hidden: 384, heads: 12, ffn: 1536, positions: 512 } as const;

/** Writes the checkpoint into `dir` (which must exist); returns its parameter count. */
export function writeMiniLmShaped(dir: string, seed = 1): number {
  const { layers: L, hidden: C, heads, ffn: F, positions: P } = MINILM_SHAPE;
  // The tiny fixture's tokenizer has 105 ids; the vocabulary matches it.
  const V = 105;
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'modules.json', '1_Pooling']) cpSync(join(TASK_FIXTURE, f), join(dir, f), { recursive: true });
  writeFileSync(join(dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: 256, do_lower_case: false }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'bert', architectures: ['BertModel'], vocab_size: V, hidden_size: C, num_hidden_layers: L, num_attention_heads: heads,
    intermediate_size: F, hidden_act: 'gelu', max_position_embeddings: P, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0, position_embedding_type: 'absolute',
  }));
  // name, shape, scale (0: zeros, -1: ones, else uniform in [-scale, scale])
  const tensors: [string, number[], number][] = [
    ['embeddings.word_embeddings.weight', [V, C], 0.05], ['embeddings.position_embeddings.weight', [P, C], 0.02], ['embeddings.token_type_embeddings.weight', [2, C], 0.02],
    ['embeddings.LayerNorm.weight', [C], -1], ['embeddings.LayerNorm.bias', [C], 0],
  ];
  for (let i = 0; i < L; i++) {
    const b = `encoder.layer.${i}.`;
    for (const m of ['query', 'key', 'value']) tensors.push([`${b}attention.self.${m}.weight`, [C, C], 0.05], [`${b}attention.self.${m}.bias`, [C], 0]);
    tensors.push(
      [`${b}attention.output.dense.weight`, [C, C], 0.05], [`${b}attention.output.dense.bias`, [C], 0],
      [`${b}attention.output.LayerNorm.weight`, [C], -1], [`${b}attention.output.LayerNorm.bias`, [C], 0],
      [`${b}intermediate.dense.weight`, [F, C], 0.05], [`${b}intermediate.dense.bias`, [F], 0],
      [`${b}output.dense.weight`, [C, F], 0.03], [`${b}output.dense.bias`, [C], 0],
      [`${b}output.LayerNorm.weight`, [C], -1], [`${b}output.LayerNorm.bias`, [C], 0],
    );
  }
  tensors.push(['pooler.dense.weight', [C, C], 0.05], ['pooler.dense.bias', [C], 0]);
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header).padEnd(Math.ceil((JSON.stringify(header).length + 8) / 8) * 8 - 8, ' '));
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  const data = new Float32Array(out.buffer, out.byteOffset + 8 + json.length, offset / 4);
  const rand = mulberry32(seed);
  let k = 0;
  for (const [, shape, scale] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < n; i++) data[k++] = scale === 0 ? 0 : scale === -1 ? 1 : (rand() * 2 - 1) * scale;
  }
  writeFileSync(join(dir, 'model.safetensors'), out);
  return offset / 4;
}
