// A GPT-2 decoder over any Backend, loaded from GGUF (F32/F16/Q8_0 tensors), with a per-request
// KV cache. Not the general model zoo: the models line's graph-built gpt2 supersedes it.

import type { Backend, Weight } from '../backend/backend.js';
import { Tensor } from '../tensor/tensor.js';
import { dequantizeQ8_0 } from '../tensor/q8.js';
import { f16ToF32 } from '../tensor/half.js';
import type { CausalLM, KVCache } from './generate.js';
import type { GGUFFile, GGUFTensorInfo } from './gguf.js';

export interface Gpt2Config {
  vocabSize: number;
  contextLength: number;
  embedding: number;
  layers: number;
  heads: number;
  ffn: number;
  eps: number;
}

/** Weight dtypes the linear layers may be packed as on the backend. */
export const GPT2_DTYPES = ['f32'] as const;
export type Gpt2DType = (typeof GPT2_DTYPES)[number];

interface Layer {
  ln1w: Tensor; ln1b: Tensor; // (C) f32
  qkv: Weight; qkvb: Tensor; // (3C, C), (3C)
  proj: Weight; projb: Tensor; // (C, C), (C)
  ln2w: Tensor; ln2b: Tensor; // (C)
  up: Weight; upb: Tensor; // (F, C), (F)
  down: Weight; downb: Tensor; // (C, F), (C)
}

class Gpt2Cache implements KVCache {
  length = 0;
  k: Float32Array[] | undefined; // per layer: (contextLength, C) f32
  v: Float32Array[] | undefined; // per layer: (contextLength, C) f32
  constructor(readonly owner: Gpt2Model, layers: number, rows: number) {
    this.k = Array.from({ length: layers }, () => new Float32Array(rows));
    this.v = Array.from({ length: layers }, () => new Float32Array(rows));
  }
  get disposed(): boolean {
    return this.k === undefined;
  }
  dispose(): void {
    this.k = undefined;
    this.v = undefined;
  }
}

function metaNumber(f: GGUFFile, key: string): number {
  const v = f.metadata.get(key);
  if (typeof v !== 'number' && typeof v !== 'bigint') throw new RangeError(`GGUF metadata '${key}' is missing or not a number`);
  return Number(v);
}

function tensorF32(f: GGUFFile, name: string, shape: number[]): Float32Array {
  const t: GGUFTensorInfo | undefined = f.tensors.get(name);
  if (!t) throw new RangeError(`GGUF tensor '${name}' is missing`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    throw new RangeError(`GGUF tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  const bytes = f.data.subarray(t.offset, t.offset + t.bytes);
  if (t.type === 8) return dequantizeQ8_0(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (t.type === 0) for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  else for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
  return out;
}

export class Gpt2Model implements CausalLM {
  readonly config: Gpt2Config;
  readonly eosTokenIds: readonly number[];
  private layers: Layer[] = [];
  private wte: Float32Array; // (V, C) f32, rows looked up per token
  private wpe: Float32Array; // (contextLength, C) f32
  private lnfw: Tensor;
  private lnfb: Tensor;
  private unembed: Weight; // tied to wte: (V, C)
  private disposedFlag = false;
  private readonly weights: Weight[] = [];

  constructor(private readonly backend: Backend, f: GGUFFile, eosTokenIds?: readonly number[]) {
    const arch = f.metadata.get('general.architecture');
    if (arch !== 'gpt2') throw new RangeError(`GGUF general.architecture is '${String(arch)}', expected 'gpt2'`);
    const C = metaNumber(f, 'gpt2.embedding_length');
    const heads = metaNumber(f, 'gpt2.attention.head_count');
    const tok = f.tensors.get('token_embd.weight');
    if (!tok || tok.shape.length !== 2) throw new RangeError("GGUF tensor 'token_embd.weight' is missing or not 2-D");
    this.config = {
      vocabSize: tok.shape[0]!,
      contextLength: metaNumber(f, 'gpt2.context_length'),
      embedding: C,
      layers: metaNumber(f, 'gpt2.block_count'),
      heads,
      ffn: metaNumber(f, 'gpt2.feed_forward_length'),
      eps: f.metadata.has('gpt2.attention.layer_norm_epsilon') ? metaNumber(f, 'gpt2.attention.layer_norm_epsilon') : 1e-5,
    };
    const { vocabSize: V, contextLength: N, layers: L, ffn: F } = this.config;
    if (C % heads !== 0) throw new RangeError(`GGUF gpt2.embedding_length ${C} is not divisible by head_count ${heads}`);
    const eos = f.metadata.get('tokenizer.ggml.eos_token_id');
    this.eosTokenIds = eosTokenIds ?? (eos === undefined ? [] : [Number(eos)]);
    const vec = (name: string, n: number): Tensor => Tensor.fromArray('f32', [n], tensorF32(f, name, [n]));
    const mat = (name: string, rows: number, cols: number): Weight => {
      const w = backend.packWeight(Tensor.fromArray('f32', [rows, cols], tensorF32(f, name, [rows, cols])));
      this.weights.push(w);
      return w;
    };
    try {
      this.wte = tensorF32(f, 'token_embd.weight', [V, C]);
      this.wpe = tensorF32(f, 'position_embd.weight', [N, C]);
      for (let i = 0; i < L; i++) {
        const b = `blk.${i}.`;
        this.layers.push({
          ln1w: vec(b + 'attn_norm.weight', C), ln1b: vec(b + 'attn_norm.bias', C),
          qkv: mat(b + 'attn_qkv.weight', 3 * C, C), qkvb: vec(b + 'attn_qkv.bias', 3 * C),
          proj: mat(b + 'attn_output.weight', C, C), projb: vec(b + 'attn_output.bias', C),
          ln2w: vec(b + 'ffn_norm.weight', C), ln2b: vec(b + 'ffn_norm.bias', C),
          up: mat(b + 'ffn_up.weight', F, C), upb: vec(b + 'ffn_up.bias', F),
          down: mat(b + 'ffn_down.weight', C, F), downb: vec(b + 'ffn_down.bias', C),
        });
      }
      this.lnfw = vec('output_norm.weight', C);
      this.lnfb = vec('output_norm.bias', C);
      // GPT-2 ties the unembedding to the token embedding unless the file has its own output matrix.
      this.unembed = f.tensors.has('output.weight') ? mat('output.weight', V, C) : this.pack(this.wte, V, C);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private pack(values: Float32Array, rows: number, cols: number): Weight {
    const w = this.backend.packWeight(Tensor.fromArray('f32', [rows, cols], values));
    this.weights.push(w);
    return w;
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }
  get contextLength(): number {
    return this.config.contextLength;
  }
  get disposed(): boolean {
    return this.disposedFlag;
  }
  /** Bytes of packed weights the backend holds for this model. */
  get weightBytes(): number {
    return this.weights.reduce((s, w) => s + (w.disposed ? 0 : w.bytes), 0);
  }

  newCache(): KVCache {
    if (this.disposedFlag) throw new Error('Gpt2Model: the model was disposed');
    return new Gpt2Cache(this, this.config.layers, this.config.contextLength * this.config.embedding);
  }

  async forward(ids: Int32Array, cache: KVCache): Promise<Float32Array> {
    if (this.disposedFlag) throw new Error('Gpt2Model: the model was disposed');
    if (!(cache instanceof Gpt2Cache) || cache.owner !== this) throw new TypeError("forward: 'cache' must come from this model's newCache()");
    if (cache.disposed) throw new TypeError("forward: 'cache' was disposed");
    if (!(ids instanceof Int32Array) || ids.length === 0) throw new TypeError("forward: 'ids' must be a non-empty Int32Array");
    const { vocabSize: V, contextLength: N, embedding: C, eps } = this.config;
    const T = ids.length;
    const p0 = cache.length;
    if (p0 + T > N) throw new RangeError(`forward: ${p0} cached + ${T} new positions exceed the context length ${N}`);
    for (const id of ids) if (id < 0 || id >= V) throw new RangeError(`forward: 'ids' must be in [0, ${V}), got ${id}`);
    const be = this.backend;
    // x: (T, C) f32, the residual stream
    const x = new Float32Array(T * C);
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) x[t * C + c] = this.wte[ids[t]! * C + c]! + this.wpe[(p0 + t) * C + c]!;
    const X = Tensor.fromArray('f32', [T, C], x);
    for (let l = 0; l < this.layers.length; l++) {
      const L = this.layers[l]!;
      const h = await be.run('layerNorm', { x: X, weight: L.ln1w, bias: L.ln1b, eps });
      const qkv = await be.run('linear', { x: h, weight: L.qkv, bias: L.qkvb }); // (T, 3C)
      const att = this.attend(qkv.data as Float32Array, cache, l, p0, T); // (T, C)
      const o = await be.run('linear', { x: Tensor.fromArray('f32', [T, C], att), weight: L.proj, bias: L.projb });
      addInto(x, o.data as Float32Array);
      const h2 = await be.run('layerNorm', { x: X, weight: L.ln2w, bias: L.ln2b, eps });
      const u = await be.run('linear', { x: h2, weight: L.up, bias: L.upb, activation: 'gelu_tanh' });
      const d = await be.run('linear', { x: u, weight: L.down, bias: L.downb });
      addInto(x, d.data as Float32Array);
      if (cache.disposed) throw new Error('forward: the cache was disposed during the pass');
    }
    cache.length = p0 + T;
    const last = Tensor.fromArray('f32', [1, C], x.slice((T - 1) * C, T * C));
    const hf = await be.run('layerNorm', { x: last, weight: this.lnfw, bias: this.lnfb, eps });
    const logits = await be.run('linear', { x: hf, weight: this.unembed }); // (1, V)
    return logits.data as Float32Array;
  }

  /**
   * Causal multi-head attention of T new positions over the cache (plain loops; the model is
   * small and the attention op family will replace this).
   * qkv: (T, 3C) f32 -> (T, C) f32
   */
  private attend(qkv: Float32Array, cache: Gpt2Cache, layer: number, p0: number, T: number): Float32Array {
    const { embedding: C, heads: H } = this.config;
    const D = C / H;
    const K = cache.k![layer]!;
    const Vc = cache.v![layer]!;
    for (let t = 0; t < T; t++) {
      K.set(qkv.subarray(t * 3 * C + C, t * 3 * C + 2 * C), (p0 + t) * C);
      Vc.set(qkv.subarray(t * 3 * C + 2 * C, t * 3 * C + 3 * C), (p0 + t) * C);
    }
    const out = new Float32Array(T * C);
    const scale = 1 / Math.sqrt(D);
    const s = new Float64Array(p0 + T);
    for (let t = 0; t < T; t++) {
      const n = p0 + t + 1; // positions visible to this query
      for (let h = 0; h < H; h++) {
        const qo = t * 3 * C + h * D;
        let max = -Infinity;
        for (let j = 0; j < n; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qkv[qo + d]! * K[j * C + h * D + d]!;
          s[j] = dot * scale;
          if (s[j]! > max) max = s[j]!;
        }
        let sum = 0;
        for (let j = 0; j < n; j++) {
          s[j] = Math.exp(s[j]! - max);
          sum += s[j]!;
        }
        const oo = t * C + h * D;
        for (let j = 0; j < n; j++) {
          const w = s[j]! / sum;
          for (let d = 0; d < D; d++) out[oo + d] = out[oo + d]! + w * Vc[j * C + h * D + d]!;
        }
      }
    }
    return out;
  }

  /** Frees the backend's copies of the weights now (native memory), not at garbage collection. */
  dispose(): void {
    this.disposedFlag = true;
    for (const w of this.weights) if (!w.disposed) w.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function addInto(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + y[i]!;
}
