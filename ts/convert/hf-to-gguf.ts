// `attnode convert`: a Hugging Face checkpoint directory (config.json, safetensors, tokenizer.json,
// tokenizer_config.json) -> a GGUF file with llama.cpp's architecture names, tensor names and
// metadata keys, for the decoder families gpt2, llama, mistral, qwen2, qwen3 and phi3, and the
// encoder-decoder T5 (t5.ts). Not a loader.
// Names and keys: llama.cpp's convert_hf_to_gguf.py and gguf-py constants (LLM_KV_*, LLM_TENSOR_*).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfig, type HFConfig } from '../io/config.js';
import { writeGGUF, type GGUFWriteValue } from '../io/gguf-write.js';
import { SafetensorsCheckpoint } from '../io/safetensors.js';
import { WEIGHT_FORMATS, isWeightDType } from '../tensor/formats.js';
import { fileTypeOf, mixOf, planTypes } from './mixes.js';
import { tensorsToGGUF, type SourceTensor } from './write-tensors.js';
import { tokenizerMetadata } from './tokenizer-meta.js';
import { t5ConvertConfig, t5Metadata, t5Tensors, t5VocabFromSentencePiece, t5VocabFromTokenizerJSON } from './t5.js';

type KV = Array<[string, GGUFWriteValue]>;
/** How a Hugging Face tensor becomes a llama.cpp one. */
type Transform = 'none' | 'transpose' | 'permuteHeads' | 'permuteKvHeads' | 'scale';
interface Mapping { gguf: string; hf: string; transform: Transform; optional?: boolean; /** the factor of 'scale' */ scale?: number }
interface ConvertFamily {
  /** general.architecture */
  readonly arch: string;
  metadata(cfg: HFConfig): KV;
  tensors(cfg: HFConfig, layers: number, has: (name: string) => boolean): Mapping[];
  /** Blocks and heads for the mix rules, when config.json names them otherwise than num_hidden_layers / num_attention_heads. */
  dims?(cfg: HFConfig): { layers: number; heads: number; kvHeads: number };
  /** The tokenizer.ggml.* entries, when the family's vocabulary is not tokenizer-meta.ts's. */
  vocabulary?(dir: string, cfg: HFConfig): KV;
  /** Tensors the converter makes from config.json (Phi-3's LongRoPE factors), written first. */
  generated?(cfg: HFConfig): SourceTensor[];
}

function int(cfg: HFConfig, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new RangeError(`config.json ${key}: expected a positive integer, got ${JSON.stringify(v)}`);
  return v;
}
function float(cfg: HFConfig, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`config.json ${key}: expected a number, got ${JSON.stringify(v)}`);
  return v;
}
const u32 = (value: number): GGUFWriteValue => ({ type: 'u32', value });
const f32 = (value: number): GGUFWriteValue => ({ type: 'f32', value });

/** Llama-like keys: llama, mistral, qwen2, qwen3 (their rope, GQA, norm eps and window). */
function llamaLikeMetadata(arch: string, cfg: HFConfig): KV {
  const C = int(cfg, 'hidden_size');
  const H = int(cfg, 'num_attention_heads');
  const D = int(cfg, 'head_dim', C / H);
  const scaling = llamaScaling(arch, cfg);
  const kv: KV = [
    [`${arch}.context_length`, u32(int(cfg, 'max_position_embeddings'))],
    [`${arch}.embedding_length`, u32(C)],
    [`${arch}.feed_forward_length`, u32(int(cfg, 'intermediate_size'))],
    [`${arch}.block_count`, u32(int(cfg, 'num_hidden_layers'))],
    [`${arch}.attention.head_count`, u32(H)],
    [`${arch}.attention.head_count_kv`, u32(int(cfg, 'num_key_value_heads', H))],
    [`${arch}.rope.freq_base`, f32(float(cfg, 'rope_theta', 10000))],
    [`${arch}.rope.dimension_count`, u32(D)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(float(cfg, 'rms_norm_eps'))],
    [`${arch}.vocab_size`, u32(int(cfg, 'vocab_size'))],
  ];
  if (D !== C / H) kv.push([`${arch}.attention.key_length`, u32(D)], [`${arch}.attention.value_length`, u32(D)]);
  // Linear and YaRN as llama.cpp's rope.scaling.* keys; Llama 3's as the rope_freqs tensor (llamaFreqFactors).
  if (scaling?.kind === 'linear') kv.push([`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' }], [`${arch}.rope.scaling.factor`, f32(float(scaling.s, 'factor'))]);
  if (scaling?.kind === 'yarn') {
    kv.push([`${arch}.rope.scaling.type`, { type: 'string', value: 'yarn' }], [`${arch}.rope.scaling.factor`, f32(float(scaling.s, 'factor'))],
      [`${arch}.rope.scaling.original_context_length`, u32(int(scaling.s, 'original_max_position_embeddings', int(cfg, 'max_position_embeddings')))]);
    if (scaling.s.beta_fast !== undefined) kv.push([`${arch}.rope.scaling.yarn_beta_fast`, f32(float(scaling.s, 'beta_fast'))]);
    if (scaling.s.beta_slow !== undefined) kv.push([`${arch}.rope.scaling.yarn_beta_slow`, f32(float(scaling.s, 'beta_slow'))]);
  }
  // Mistral's window (Qwen's only when use_sliding_window is on), under llama.cpp's key name.
  const window = cfg.sliding_window;
  if (typeof window === 'number' && (cfg.model_type === 'mistral' || cfg.use_sliding_window === true)) kv.push([`${arch}.attention.sliding_window`, u32(window)]);
  return kv;
}

/**
 * A Llama config's rope_scaling as llama.cpp's converter takes it: linear, yarn or llama3 (Llama
 * and Mistral files only); dynamic NTK has no GGUF form and other architectures' scalings are not
 * converted, both refused.
 */
function llamaScaling(arch: string, cfg: HFConfig): { kind: 'linear' | 'yarn' | 'llama3'; s: HFConfig } | undefined {
  const s = cfg.rope_scaling as HFConfig | null | undefined;
  if (!s) return undefined;
  const kind = s.rope_type ?? s.type;
  if (kind === 'default') return undefined;
  if (arch === 'llama' && (kind === 'linear' || kind === 'yarn' || kind === 'llama3')) return { kind, s };
  throw new RangeError(`config.json rope_scaling: ${JSON.stringify(s)} is not converted (llama and mistral: linear, yarn, llama3; others unscaled)`);
}

/**
 * Llama 3's smoothing as per-pair divisors of the frequency (llama.cpp's rope_freqs tensor, which
 * its converter computes from rope_scaling): the factor for long waves, 1 for short ones, and the
 * smooth blend between.
 */
function llamaFreqFactors(cfg: HFConfig): SourceTensor[] {
  const sc = llamaScaling('llama', cfg);
  if (sc?.kind !== 'llama3') return [];
  const D = int(cfg, 'head_dim', int(cfg, 'hidden_size') / int(cfg, 'num_attention_heads'));
  const base = float(cfg, 'rope_theta', 10000);
  const factor = float(sc.s, 'factor');
  const lo = float(sc.s, 'low_freq_factor');
  const hi = float(sc.s, 'high_freq_factor');
  const old = int(sc.s, 'original_max_position_embeddings');
  const values = Array.from({ length: D / 2 }, (_, i) => {
    const wave = (2 * Math.PI) / Math.fround(1 / Math.fround(base ** Math.fround((2 * i) / D)));
    if (wave < old / hi) return 1;
    if (wave > old / lo) return factor;
    const smooth = (old / wave - lo) / (hi - lo);
    return 1 / ((1 - smooth) / factor + smooth);
  });
  return [{ name: 'rope_freqs.weight', shape: [D / 2], read: () => Float32Array.from(values) }];
}

/**
 * Phi-3 as convert_hf_to_gguf.py's Phi3MiniModel writes it: the rotated dimensions, the window
 * (0 when none), the original context, and for LongRoPE the attention factor from the two lengths
 * (the factors themselves are tensors, phi3Factors).
 */
function phi3Metadata(cfg: HFConfig): KV {
  const C = int(cfg, 'hidden_size');
  const H = int(cfg, 'num_attention_heads');
  const prf = float(cfg, 'partial_rotary_factor', 1);
  const top = int(cfg, 'max_position_embeddings');
  const orig = int(cfg, 'original_max_position_embeddings', top);
  const window = cfg.sliding_window;
  const kv: KV = [
    ['phi3.context_length', u32(top)],
    ['phi3.rope.scaling.original_context_length', u32(orig)],
    ['phi3.embedding_length', u32(C)],
    ['phi3.feed_forward_length', u32(int(cfg, 'intermediate_size'))],
    ['phi3.block_count', u32(int(cfg, 'num_hidden_layers'))],
    ['phi3.attention.head_count', u32(H)],
    ['phi3.attention.head_count_kv', u32(int(cfg, 'num_key_value_heads', H))],
    ['phi3.attention.layer_norm_rms_epsilon', f32(float(cfg, 'rms_norm_eps'))],
    ['phi3.rope.dimension_count', u32(Math.trunc((C / H) * prf))],
    ['phi3.rope.freq_base', f32(float(cfg, 'rope_theta', 10000))],
    ['phi3.attention.sliding_window', u32(typeof window === 'number' ? window : 0)],
  ];
  if (phi3Scaling(cfg)) {
    const scale = top / orig;
    kv.push(['phi3.rope.scaling.attn_factor', f32(scale > 1 ? Math.sqrt(1 + Math.log(scale) / Math.log(orig)) : 1)]);
  }
  return kv;
}

/** Phi-3's rope_scaling: undefined, or LongRoPE ('longrope', or its old name 'su'); others are refused. */
function phi3Scaling(cfg: HFConfig): { short_factor: unknown; long_factor: unknown } | undefined {
  const s = cfg.rope_scaling as Record<string, unknown> | null | undefined;
  if (!s) return undefined;
  const t = s.rope_type ?? s.type;
  if (t !== 'longrope' && t !== 'su') throw new RangeError(`config.json rope_scaling: ${JSON.stringify(s)} is not converted for Phi-3 (only LongRoPE)`);
  return { short_factor: s.short_factor, long_factor: s.long_factor };
}

function phi3Factors(cfg: HFConfig): SourceTensor[] {
  const s = phi3Scaling(cfg);
  if (!s) return [];
  const rd = Math.trunc((int(cfg, 'hidden_size') / int(cfg, 'num_attention_heads')) * float(cfg, 'partial_rotary_factor', 1));
  return (['long', 'short'] as const).map((k) => {
    const v = s[`${k}_factor`];
    if (!Array.isArray(v) || v.length !== rd / 2 || v.some((x) => typeof x !== 'number'))
      throw new RangeError(`config.json rope_scaling.${k}_factor: expected ${rd / 2} numbers (one per rotated pair)`);
    return { name: `rope_factors_${k}.weight`, shape: [rd / 2], read: () => Float32Array.from(v as number[]) };
  });
}

/** Phi-3's tensors as stored: the fused qkv_proj as attn_qkv and gate_up_proj as ffn_up (gate rows first). */
function phi3Tensors(cfg: HFConfig, layers: number): Mapping[] {
  const out: Mapping[] = [{ gguf: 'token_embd.weight', hf: 'model.embed_tokens.weight', transform: 'none' }];
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}.`;
    const b = `blk.${i}.`;
    out.push(
      { gguf: `${b}attn_norm.weight`, hf: `${p}input_layernorm.weight`, transform: 'none' },
      { gguf: `${b}attn_qkv.weight`, hf: `${p}self_attn.qkv_proj.weight`, transform: 'none' },
      { gguf: `${b}attn_output.weight`, hf: `${p}self_attn.o_proj.weight`, transform: 'none' },
      { gguf: `${b}ffn_norm.weight`, hf: `${p}post_attention_layernorm.weight`, transform: 'none' },
      { gguf: `${b}ffn_up.weight`, hf: `${p}mlp.gate_up_proj.weight`, transform: 'none' },
      { gguf: `${b}ffn_down.weight`, hf: `${p}mlp.down_proj.weight`, transform: 'none' },
    );
  }
  out.push({ gguf: 'output_norm.weight', hf: 'model.norm.weight', transform: 'none' });
  if (cfg.tie_word_embeddings !== true) out.push({ gguf: 'output.weight', hf: 'lm_head.weight', transform: 'none', optional: true });
  return out;
}

function llamaLikeTensors(cfg: HFConfig, layers: number, permute: boolean, extra: (p: string, b: string) => Mapping[]): Mapping[] {
  const q: Transform = permute ? 'permuteHeads' : 'none';
  const k: Transform = permute ? 'permuteKvHeads' : 'none';
  const out: Mapping[] = [{ gguf: 'token_embd.weight', hf: 'model.embed_tokens.weight', transform: 'none' }];
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}.`;
    const b = `blk.${i}.`;
    out.push(
      { gguf: `${b}attn_norm.weight`, hf: `${p}input_layernorm.weight`, transform: 'none' },
      { gguf: `${b}attn_q.weight`, hf: `${p}self_attn.q_proj.weight`, transform: q },
      { gguf: `${b}attn_q.bias`, hf: `${p}self_attn.q_proj.bias`, transform: q, optional: true },
      { gguf: `${b}attn_k.weight`, hf: `${p}self_attn.k_proj.weight`, transform: k },
      { gguf: `${b}attn_k.bias`, hf: `${p}self_attn.k_proj.bias`, transform: k, optional: true },
      { gguf: `${b}attn_v.weight`, hf: `${p}self_attn.v_proj.weight`, transform: 'none' },
      { gguf: `${b}attn_v.bias`, hf: `${p}self_attn.v_proj.bias`, transform: 'none', optional: true },
      { gguf: `${b}attn_output.weight`, hf: `${p}self_attn.o_proj.weight`, transform: 'none' },
      ...extra(p, b),
      { gguf: `${b}ffn_norm.weight`, hf: `${p}post_attention_layernorm.weight`, transform: 'none' },
      { gguf: `${b}ffn_gate.weight`, hf: `${p}mlp.gate_proj.weight`, transform: 'none' },
      { gguf: `${b}ffn_up.weight`, hf: `${p}mlp.up_proj.weight`, transform: 'none' },
      { gguf: `${b}ffn_down.weight`, hf: `${p}mlp.down_proj.weight`, transform: 'none' },
    );
  }
  out.push({ gguf: 'output_norm.weight', hf: 'model.norm.weight', transform: 'none' });
  if (cfg.tie_word_embeddings !== true) out.push({ gguf: 'output.weight', hf: 'lm_head.weight', transform: 'none', optional: true });
  return out;
}

/**
 * T5 and mT5 as llama.cpp's 't5': the vocabulary from tokenizer.json (a Unigram model), else
 * from spiece.model with tokenizer_config.json's extra_ids sentinels (100 by default, as HF's
 * T5Tokenizer adds them).
 */
function t5Family(): ConvertFamily {
  return {
    arch: 't5',
    metadata: t5Metadata,
    tensors: (c, _l, has) => t5Tensors(c, has).map((m) => ({ gguf: m.gguf, hf: m.hf, transform: m.scale === undefined ? 'none' : 'scale', ...(m.scale === undefined ? {} : { scale: m.scale }) })),
    dims: (c) => {
      const t = t5ConvertConfig(c);
      return { layers: t.encoderLayers + t.decoderLayers, heads: t.heads, kvHeads: t.heads };
    },
    vocabulary: (dir, c) => {
      const vocab = t5ConvertConfig(c).vocabSize;
      const tj = join(dir, 'tokenizer.json');
      if (existsSync(tj)) return t5VocabFromTokenizerJSON(JSON.parse(readFileSync(tj, 'utf8')), c, vocab);
      const sp = join(dir, 'spiece.model');
      if (!existsSync(sp)) throw new RangeError(`convert: ${dir} has neither tokenizer.json nor spiece.model; llama.cpp needs the tokenizer in the GGUF file`);
      const tcPath = join(dir, 'tokenizer_config.json');
      const tc = existsSync(tcPath) ? (JSON.parse(readFileSync(tcPath, 'utf8')) as HFConfig) : {};
      const extra = tc.extra_ids ?? 100;
      if (typeof extra !== 'number' || !Number.isInteger(extra) || extra < 0) throw new RangeError(`tokenizer_config.json extra_ids: expected an integer >= 0, got ${JSON.stringify(extra)}`);
      return t5VocabFromSentencePiece(readFileSync(sp), c, vocab, extra, sp);
    },
  };
}

const none = () => [];
/** The converter's family table, by config.json model_type. */
const FAMILIES: Readonly<Record<string, ConvertFamily>> = {
  // llama.cpp permutes Llama's Q/K rows so that rotary pairs are adjacent (its 'llama' rope type).
  llama: { arch: 'llama', metadata: (c) => llamaLikeMetadata('llama', c), tensors: (c, l) => llamaLikeTensors(c, l, true, none), generated: llamaFreqFactors },
  mistral: { arch: 'llama', metadata: (c) => llamaLikeMetadata('llama', c), tensors: (c, l) => llamaLikeTensors(c, l, true, none), generated: llamaFreqFactors },
  // Qwen's rope is llama.cpp's NEOX type: rotate_half order, no permutation.
  qwen2: { arch: 'qwen2', metadata: (c) => llamaLikeMetadata('qwen2', c), tensors: (c, l) => llamaLikeTensors(c, l, false, none) },
  qwen3: {
    arch: 'qwen3', metadata: (c) => llamaLikeMetadata('qwen3', c),
    tensors: (c, l) => llamaLikeTensors(c, l, false, (p, b) => [
      { gguf: `${b}attn_q_norm.weight`, hf: `${p}self_attn.q_norm.weight`, transform: 'none' },
      { gguf: `${b}attn_k_norm.weight`, hf: `${p}self_attn.k_norm.weight`, transform: 'none' },
    ]),
  },
  phi3: { arch: 'phi3', metadata: phi3Metadata, tensors: phi3Tensors, generated: phi3Factors },
  t5: t5Family(),
  mt5: t5Family(),
  gpt2: {
    arch: 'gpt2',
    metadata: (c) => [
      ['gpt2.context_length', u32(int(c, 'n_positions'))],
      ['gpt2.embedding_length', u32(int(c, 'n_embd'))],
      ['gpt2.feed_forward_length', u32(int(c, 'n_inner', 4 * int(c, 'n_embd')))],
      ['gpt2.block_count', u32(int(c, 'n_layer'))],
      ['gpt2.attention.head_count', u32(int(c, 'n_head'))],
      ['gpt2.attention.layer_norm_epsilon', f32(float(c, 'layer_norm_epsilon', 1e-5))],
    ],
    tensors: (_c, layers) => {
      // Conv1D stores (in, out): llama.cpp's matrices are (out, in).
      const out: Mapping[] = [{ gguf: 'token_embd.weight', hf: 'wte.weight', transform: 'none' }, { gguf: 'position_embd.weight', hf: 'wpe.weight', transform: 'none' }];
      for (let i = 0; i < layers; i++) {
        const p = `h.${i}.`;
        const b = `blk.${i}.`;
        for (const [g, h, t] of [['attn_norm', 'ln_1', 'none'], ['attn_qkv', 'attn.c_attn', 'transpose'], ['attn_output', 'attn.c_proj', 'transpose'],
          ['ffn_norm', 'ln_2', 'none'], ['ffn_up', 'mlp.c_fc', 'transpose'], ['ffn_down', 'mlp.c_proj', 'transpose']] as const) {
          out.push({ gguf: `${b}${g}.weight`, hf: `${p}${h}.weight`, transform: t }, { gguf: `${b}${g}.bias`, hf: `${p}${h}.bias`, transform: 'none' });
        }
      }
      out.push({ gguf: 'output_norm.weight', hf: 'ln_f.weight', transform: 'none' }, { gguf: 'output_norm.bias', hf: 'ln_f.bias', transform: 'none' });
      return out;
    },
  },
};

export const CONVERT_MODEL_TYPES = Object.keys(FAMILIES);

/** (out, in) rows regrouped per head from (i, i + D/2) pairs to adjacent (2i, 2i + 1) pairs. */
function permuteRows(x: Float32Array, shape: readonly number[], heads: number): Float32Array {
  const rows = shape[0]!;
  const cols = shape.length > 1 ? shape[1]! : 1;
  const D = rows / heads;
  if (!Number.isInteger(D) || D % 2 !== 0) throw new RangeError(`permute: ${rows} rows do not split into ${heads} heads of even size`);
  const half = D / 2;
  const out = new Float32Array(x.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const dst = h * D + 2 * j + s;
        const src = h * D + s * half + j;
        out.set(x.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

function transpose(x: Float32Array, shape: readonly number[]): Float32Array {
  const [r, c] = shape as [number, number];
  const out = new Float32Array(x.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j]!;
  return out;
}

export interface ConvertOptions {
  /** a plain type or mix of mixes.ts (default 'f16') */
  type?: string;
  /** general.name (default: the directory's name) */
  name?: string;
}

/** Converts a Hugging Face directory to a GGUF file; returns the plan (tensor -> ggml type). */
export function convertHFToGGUF(dir: string, out: string, options: ConvertOptions = {}): Map<string, string> {
  const type = options.type ?? 'f16';
  mixOf(type);
  const { config } = readConfig(dir);
  const mt = String(config.model_type);
  const fam = FAMILIES[mt];
  if (!fam) throw new RangeError(`config.json model_type: '${mt}' is not converted (supported: ${CONVERT_MODEL_TYPES.join(', ')})`);
  const tokPath = join(dir, 'tokenizer.json');
  const tcPath = join(dir, 'tokenizer_config.json');
  let tokMeta: KV;
  if (fam.vocabulary) tokMeta = fam.vocabulary(dir, config);
  else {
    if (!existsSync(tokPath)) throw new RangeError(`convert: ${tokPath} is missing; llama.cpp needs the tokenizer in the GGUF file`);
    tokMeta = tokenizerMetadata(JSON.parse(readFileSync(tokPath, 'utf8')), existsSync(tcPath) ? JSON.parse(readFileSync(tcPath, 'utf8')) : undefined, config);
  }
  const { layers, heads, kvHeads } = fam.dims?.(config) ?? {
    layers: int(config, mt === 'gpt2' ? 'n_layer' : 'num_hidden_layers'),
    heads: int(config, mt === 'gpt2' ? 'n_head' : 'num_attention_heads'),
    kvHeads: mt === 'gpt2' ? int(config, 'n_head') : int(config, 'num_key_value_heads', int(config, 'num_attention_heads')),
  };
  const ckpt = new SafetensorsCheckpoint(dir);
  try {
    const pre = mt === 'gpt2' && ckpt.has('transformer.wte.weight') ? 'transformer.' : '';
    const sources: SourceTensor[] = [...(fam.generated?.(config) ?? [])];
    for (const m of fam.tensors(config, layers, (n) => ckpt.has(pre + n))) {
      const hf = pre + m.hf;
      if (!ckpt.has(hf)) {
        if (m.optional) continue;
        throw new RangeError(`convert: ${dir} has no tensor '${hf}' (needed for ${m.gguf})`);
      }
      const t = ckpt.tensor(hf);
      if (!isWeightDType(t.dtype)) throw new TypeError(`convert: tensor '${hf}' has dtype ${t.dtype}; expected f32, f16 or bf16`);
      const shape = m.transform === 'transpose' ? [...t.shape].reverse() : t.shape;
      const dtype = t.dtype;
      sources.push({
        name: m.gguf, shape,
        read: () => {
          const x = WEIGHT_FORMATS[dtype].dequantize(t.file.read(t.byteOffset, t.byteLength));
          if (m.transform === 'transpose') return transpose(x, t.shape);
          if (m.transform === 'permuteHeads') return permuteRows(x, t.shape, heads);
          if (m.transform === 'permuteKvHeads') return permuteRows(x, t.shape, kvHeads);
          if (m.transform === 'scale') return x.map((v) => v * m.scale!);
          return x;
        },
      });
    }
    const plan = planTypes(type, sources, layers, heads / kvHeads);
    const general: KV = [
      ['general.architecture', { type: 'string', value: fam.arch }],
      ['general.name', { type: 'string', value: options.name ?? dir.split(/[\\/]/).filter(Boolean).pop() ?? 'model' }],
      ['general.file_type', u32(fileTypeOf(type))],
    ];
    writeGGUF(out, [...general, ...fam.metadata(config), ...tokMeta], tensorsToGGUF(sources, plan));
    return plan;
  } finally {
    ckpt.dispose();
  }
}
