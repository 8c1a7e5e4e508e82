// Loading GGUF files whose tensors are legacy and k-quant blocks, mixed per tensor as llama.cpp's
// Q4_K_M mixes them (Q6_K token table and output, Q4_K attention and FFN, Q6_K ffn_down), and
// loadModel's `dtype` falling back per tensor where rows do not hold whole blocks. The model is a
// random Llama wide enough for 256-blocks (hidden 256, FFN 512), written here in GGUF's layout;
// its f32 twin holds exactly the dequantized weights, so the reference backend must agree with
// it to f32 rounding and the native integer kernels to an activation-quantization budget.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { GGUFFile } from '../ts/io/gguf.js';
import { loadModel } from '../ts/models/model.js';
import { WEIGHT_FORMATS, type WeightDType } from '../ts/tensor/formats.js';
import { ggufBytes, type GgufKV, type GgufTensor } from './helpers/checkpoint-writers.js';
import { MODEL_FIXTURES, cosine, maxDiff } from './helpers/decoding.js';
import { normals } from './harness/rng.js';
import { TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';

/** Native kernels quantize activations (per 32 or per 256) where the f32 twin does not. */
const MIN_COSINE_KQUANT_NATIVE = 0.999;
/**
 * Last-position logits of the trained tiny Llama (hidden 64) with weights requantized at load,
 * against f32, by the format used. Measured here: q8_0 0.9998, q5_0 0.993, q4_0 0.976, iq4_nl 0.991; a model
 * this narrow has few values per output to average rounding errors over.
 */
const MIN_COSINE_FALLBACK: Readonly<Partial<Record<WeightDType, number>>> = { q8_0: 0.999, q5_0: 0.985, q4_0: 0.96, iq4_nl: 0.98 };
/**
 * Last-position logits of llama-k256 (trained, hidden 256, sharp logits) with every linear weight
 * requantized at load, against f32. Measured here: iq4_xs 0.972, iq4_nl 0.965 (q4_k 0.959 and
 * q4_0 0.954 on the same model: the codebook's levels beat 4 evenly spaced bits).
 */
const MIN_COSINE_IQ4_K256 = 0.95;

const dir = mkdtempSync(join(tmpdir(), 'attnode-kquant-models-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const H = 256, FFN = 512, HEADS = 4, KV = 2, LAYERS = 2, VOCAB = 256;
const HD = H / HEADS;
// Q4_K_M-like: token table and output Q6_K, V and ffn_down Q6_K, the rest Q4_K; layer 1 mixes
// in the other formats so every one is loaded as a model tensor.
const MIX: Record<string, WeightDType> = {
  token_embd: 'q6_k', output: 'q6_k',
  'blk.0.attn_q': 'q4_k', 'blk.0.attn_k': 'q4_k', 'blk.0.attn_v': 'q6_k', 'blk.0.attn_output': 'q4_k',
  'blk.0.ffn_gate': 'q4_k', 'blk.0.ffn_up': 'q4_k', 'blk.0.ffn_down': 'q6_k',
  'blk.1.attn_q': 'q5_k', 'blk.1.attn_k': 'q3_k', 'blk.1.attn_v': 'q2_k', 'blk.1.attn_output': 'q4_0',
  'blk.1.ffn_gate': 'q4_1', 'blk.1.ffn_up': 'q5_0', 'blk.1.ffn_down': 'q5_1',
};

function tensors(): Record<string, [number[], Float32Array]> {
  const t: Record<string, [number[], Float32Array]> = {};
  let seed = 100;
  const mat = (name: string, n: number, k: number) => (t[name] = [[n, k], normals(n * k, seed++, 1 / Math.sqrt(k))]);
  const ones = (name: string, n: number) => (t[name] = [[n], Float32Array.from(normals(n, seed++, 0.1), (v) => 1 + v)]);
  t.token_embd = [[VOCAB, H], normals(VOCAB * H, seed++, 1)];
  for (let l = 0; l < LAYERS; l++) {
    ones(`blk.${l}.attn_norm`, H);
    mat(`blk.${l}.attn_q`, H, H);
    mat(`blk.${l}.attn_k`, KV * HD, H);
    mat(`blk.${l}.attn_v`, KV * HD, H);
    mat(`blk.${l}.attn_output`, H, H);
    ones(`blk.${l}.ffn_norm`, H);
    mat(`blk.${l}.ffn_gate`, FFN, H);
    mat(`blk.${l}.ffn_up`, FFN, H);
    mat(`blk.${l}.ffn_down`, H, FFN);
  }
  ones('output_norm', H);
  mat('output', VOCAB, H);
  return t;
}

function metadata(): Record<string, GgufKV> {
  const U32 = 4, F32 = 6, BOOL = 7, STR = 8, ARR = 9;
  return {
    'general.architecture': [STR, 'llama'],
    'general.name': [STR, 'llama-wide-kquant'],
    'llama.context_length': [U32, 64],
    'llama.embedding_length': [U32, H],
    'llama.feed_forward_length': [U32, FFN],
    'llama.block_count': [U32, LAYERS],
    'llama.attention.head_count': [U32, HEADS],
    'llama.attention.head_count_kv': [U32, KV],
    'llama.rope.freq_base': [F32, 10000],
    'llama.rope.dimension_count': [U32, HD],
    'llama.attention.layer_norm_rms_epsilon': [F32, 1e-5],
    'llama.vocab_size': [U32, VOCAB],
    'tokenizer.ggml.model': [STR, 'llama'],
    'tokenizer.ggml.tokens': [ARR, [STR, Array.from({ length: VOCAB }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`)]],
    'tokenizer.ggml.scores': [ARR, [F32, new Array<number>(VOCAB).fill(0)]],
    'tokenizer.ggml.bos_token_id': [U32, 1],
    'tokenizer.ggml.add_bos_token': [BOOL, true],
  };
}

/** Writes the mixed file and its f32 twin (the mixed file's weights, dequantized). */
function writeModels(): { mixed: string; twin: string } {
  const src = tensors();
  const mixed: Record<string, GgufTensor> = {};
  const twin: Record<string, GgufTensor> = {};
  for (const [name, [shape, values]] of Object.entries(src)) {
    const dtype = MIX[name];
    if (!dtype) {
      mixed[`${name}.weight`] = twin[`${name}.weight`] = { shape, type: 0, bytes: new Uint8Array(values.buffer) };
      continue;
    }
    const f = WEIGHT_FORMATS[dtype];
    const q = f.quantize(values);
    mixed[`${name}.weight`] = { shape, type: f.ggufType, bytes: q };
    twin[`${name}.weight`] = { shape, type: 0, bytes: new Uint8Array(f.dequantize(q).buffer) };
  }
  const paths = { mixed: join(dir, 'model-mixed.gguf'), twin: join(dir, 'model-twin-f32.gguf') };
  writeFileSync(paths.mixed, ggufBytes(metadata(), mixed));
  writeFileSync(paths.twin, ggufBytes(metadata(), twin));
  return paths;
}

const PROMPTS = [[1, 17, 200, 33, 5], [1, 250, 3, 3, 99, 140, 7, 61, 12]];

describe('a GGUF with k-quant and legacy tensors mixed per tensor', () => {
  const paths = writeModels();

  it('lists every tensor with its ggml type and block-derived byte size', () => {
    const g = new GGUFFile(paths.mixed);
    try {
      expect(g.tensors.get('token_embd.weight')!.typeName).toBe('Q6_K');
      expect(g.tensors.get('blk.0.attn_q.weight')!.typeName).toBe('Q4_K');
      expect(g.tensors.get('blk.0.ffn_down.weight')!.byteLength).toBe((H * FFN / 256) * 210);
      expect(g.tensor('blk.1.attn_output.weight').dtype).toBe('q4_0');
    } finally {
      g.dispose();
    }
  });

  it('loads as stored on the reference backend and matches its dequantized f32 twin', async () => {
    const m = await loadModel(paths.mixed, { kind: 'decoder', backend: new ReferenceBackend() });
    const t = await loadModel(paths.twin, { kind: 'decoder', backend: new ReferenceBackend() });
    try {
      expect(m.weightDTypes().get('l0.q')).toBe('q4_k');
      for (const p of PROMPTS) expect(maxDiff(await m.forward(p), await t.forward(p))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    } finally {
      m.dispose();
      t.dispose();
    }
  });

  it('loads as stored on the native backend (integer kernels, q6_k token table read per row) close to the twin', async () => {
    const m = await loadModel(paths.mixed, { kind: 'decoder', backend: new NativeBackend() });
    const t = await loadModel(paths.twin, { kind: 'decoder', backend: new NativeBackend() });
    try {
      const dt = m.weightDTypes();
      expect([dt.get('l0.q'), dt.get('l0.v'), dt.get('l1.q'), dt.get('l1.o')]).toEqual(['q4_k', 'q6_k', 'q5_k', 'q4_0']);
      expect(m.weightFallbacks.size).toBe(0);
      for (const p of PROMPTS) expect(cosine(await m.forward(p), await t.forward(p))).toBeGreaterThanOrEqual(MIN_COSINE_KQUANT_NATIVE);
    } finally {
      m.dispose();
      t.dispose();
    }
  });

  it('refuses a truncated tensor and a row that is not whole blocks, naming the tensor and the rule', () => {
    const q = WEIGHT_FORMATS.q4_k.quantize(normals(2 * 256, 1));
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, ggufBytes({}, { w: { shape: [2, 256], type: 12, bytes: q.subarray(0, 200) } }).subarray(0, 300));
    expect(() => new GGUFFile(bad)).toThrow(/tensor 'w' \(Q4_K, \[2, 256\]\) needs bytes \[\d+, \d+\) but the file has/);
    writeFileSync(bad, ggufBytes({}, { w: { shape: [2, 128], type: 14, bytes: new Uint8Array(210) } }));
    expect(() => new GGUFFile(bad)).toThrow(/tensor 'w' is Q6_K but its row length 128 is not a multiple of 256/);
  });
});

describe("loadModel's dtype with rows that do not hold whole blocks", () => {
  // llama-tiny-trained: hidden 64, FFN 128, so no row holds a 256-block and k-quants fall back.
  const path = join(MODEL_FIXTURES, 'llama-tiny-trained');

  it.each([['q4_k', 'q5_0'], ['q6_k', 'q8_0'], ['q2_k', 'q4_0'], ['iq4_xs', 'iq4_nl']] as const)('%s falls back to %s per tensor, reported, and still runs', async (dtype, used) => {
    const m = await loadModel(path, { kind: 'decoder', dtype, backend: new NativeBackend() });
    const f = await loadModel(path, { kind: 'decoder', backend: new NativeBackend() });
    try {
      const fb = m.weightFallbacks;
      expect(fb.get('l0.q')).toEqual({ requested: dtype, used, k: 64 });
      expect(fb.get('l0.down')).toEqual({ requested: dtype, used, k: 128 });
      for (const [name, t] of m.weightDTypes()) expect([name, t]).toEqual([name, fb.get(name)!.used]);
      const c = cosine(await m.forward(PROMPTS[0]!), await f.forward(PROMPTS[0]!));
      console.log(`${dtype} -> ${used}: cosine to f32 ${c.toFixed(5)}`);
      expect(c).toBeGreaterThanOrEqual(MIN_COSINE_FALLBACK[used]!);
    } finally {
      m.dispose();
      f.dispose();
    }
  });

  it('keeps formats that fit and reports nothing', async () => {
    const m = await loadModel(path, { kind: 'decoder', dtype: 'q4_0', backend: new NativeBackend() });
    try {
      expect(m.weightFallbacks.size).toBe(0);
      expect(new Set(m.weightDTypes().values())).toEqual(new Set(['q4_0']));
    } finally {
      m.dispose();
    }
  });
});

describe("loadModel's dtype iq4_xs / iq4_nl on rows of whole super-blocks", () => {
  // llama-k256: hidden 256, FFN 512, so every linear weight holds whole IQ4_XS super-blocks.
  const path = join(MODEL_FIXTURES, 'llama-k256');

  it.each(['iq4_xs', 'iq4_nl'] as const)('%s: every linear weight in it, none falling back, logits near f32', async (dtype) => {
    const m = await loadModel(path, { kind: 'decoder', dtype, backend: new NativeBackend() });
    const f = await loadModel(path, { kind: 'decoder', backend: new NativeBackend() });
    try {
      expect(m.weightFallbacks.size).toBe(0);
      expect(new Set(m.weightDTypes().values())).toEqual(new Set([dtype]));
      const c = cosine(await m.forward(PROMPTS[0]!), await f.forward(PROMPTS[0]!));
      console.log(`${dtype} at load on llama-k256: cosine to f32 ${c.toFixed(5)}`);
      expect(c).toBeGreaterThanOrEqual(MIN_COSINE_IQ4_K256);
    } finally {
      m.dispose();
      f.dispose();
    }
  });
});

