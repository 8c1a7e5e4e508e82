// Which ggml type each tensor of a GGUF model gets for a `--type` of `attnode convert` / `attnode
// quantize`: a plain type (f32, f16, bf16, q8_0, any type of the format table) or a llama.cpp-style
// mix (q4_k_m, ...). Not the quantizers: those are the format table's (ts/tensor/formats.ts).
//
// The mixes follow llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) for dense models
// without an importance matrix: the output matrix (or the tied embedding) gets Q6_K, and the
// value projections, FFN down projections and attention outputs get more bits in some layers.

import { WEIGHT_DTYPES, WEIGHT_FORMATS, type WeightFormat } from '../tensor/formats.js';

/** ggml types a mix may name: values per block (ggml.h / ggml-common.h) and ggml_type id. */
const GGML_BLOCKS: Readonly<Record<string, { id: number; block: number }>> = {
  F32: { id: 0, block: 1 }, F16: { id: 1, block: 1 }, BF16: { id: 30, block: 1 },
  Q4_0: { id: 2, block: 32 }, Q4_1: { id: 3, block: 32 }, Q5_0: { id: 6, block: 32 }, Q5_1: { id: 7, block: 32 }, Q8_0: { id: 8, block: 32 },
  Q2_K: { id: 10, block: 256 }, Q3_K: { id: 11, block: 256 }, Q4_K: { id: 12, block: 256 }, Q5_K: { id: 13, block: 256 }, Q6_K: { id: 14, block: 256 },
  IQ4_NL: { id: 20, block: 32 }, IQ4_XS: { id: 23, block: 256 },
};
/** llama.cpp's fallback when a row is not a whole number of blocks (tensor_type_fallback). */
const FALLBACK: Readonly<Record<string, string>> = { Q2_K: 'IQ4_NL', Q3_K: 'IQ4_NL', IQ4_XS: 'IQ4_NL', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };

/** What a tensor is, for the mix rules (llama.cpp's tensor categories). */
export type TensorRole = 'tokenEmbd' | 'output' | 'attnV' | 'attnOutput' | 'attnQkv' | 'ffnDown' | 'other';

interface Layer { i: number; n: number; gqa: number }
type Rule = string | ((l: Layer) => string | undefined);
interface Mix {
  /** llama.cpp's ftype name and general.file_type (enum llama_ftype) */
  readonly ftype: string;
  readonly fileType: number;
  readonly base: string;
  /** false: every matrix gets `base` (f32, f16, bf16) */
  readonly rules: boolean;
  readonly attnV?: Rule;
  readonly ffnDown?: Rule;
  readonly attnOutput?: Rule;
  readonly attnQkv?: Rule;
}

// llama.cpp's layer thresholds are C integer divisions.
const div = (a: number, b: number) => Math.trunc(a / b);
const moreBits = ({ i, n }: Layer) => i < div(n, 8) || i >= div(7 * n, 8) || (i - div(n, 8)) % 3 === 2;
const plain = (ftype: string, fileType: number, base: string, rules = true): Mix => ({ ftype, fileType, base, rules });

/** The --type names, lower case, and their mixes. */
export const MIXES: Readonly<Record<string, Mix>> = {
  f32: plain('F32', 0, 'F32', false),
  f16: plain('F16', 1, 'F16', false),
  bf16: plain('BF16', 32, 'BF16', false),
  q8_0: plain('Q8_0', 7, 'Q8_0'),
  q4_0: plain('Q4_0', 2, 'Q4_0'),
  q4_1: plain('Q4_1', 3, 'Q4_1'),
  q5_0: plain('Q5_0', 8, 'Q5_0'),
  q5_1: plain('Q5_1', 9, 'Q5_1'),
  q2_k: { ...plain('Q2_K', 10, 'Q2_K'), attnV: (l) => (l.gqa >= 4 ? 'Q4_K' : 'Q3_K'), ffnDown: 'Q3_K', attnOutput: 'Q3_K' },
  q3_k_s: plain('Q3_K_S', 11, 'Q3_K'),
  q3_k_m: { ...plain('Q3_K_M', 12, 'Q3_K'), attnV: (l) => (l.i < 2 ? 'Q5_K' : 'Q4_K'), ffnDown: (l) => (l.i < div(l.n, 16) ? 'Q5_K' : 'Q4_K'), attnOutput: 'Q4_K', attnQkv: 'Q4_K' },
  q3_k_l: { ...plain('Q3_K_L', 13, 'Q3_K'), attnV: 'Q5_K', ffnDown: 'Q5_K', attnOutput: 'Q5_K', attnQkv: 'Q4_K' },
  q4_k_s: { ...plain('Q4_K_S', 14, 'Q4_K'), attnV: (l) => (l.i < 4 ? 'Q5_K' : undefined), ffnDown: (l) => (l.i < div(l.n, 8) ? 'Q5_K' : undefined) },
  q4_k_m: { ...plain('Q4_K_M', 15, 'Q4_K'), attnV: (l) => (moreBits(l) ? 'Q6_K' : undefined), ffnDown: (l) => (moreBits(l) ? 'Q6_K' : undefined), attnQkv: 'Q5_K' },
  q5_k_s: plain('Q5_K_S', 16, 'Q5_K'),
  q5_k_m: { ...plain('Q5_K_M', 17, 'Q5_K'), attnV: (l) => (moreBits(l) ? 'Q6_K' : undefined), ffnDown: (l) => (moreBits(l) ? 'Q6_K' : undefined), attnQkv: 'Q6_K' },
  q6_k: plain('Q6_K', 18, 'Q6_K'),
  iq4_nl: { ...plain('IQ4_NL', 25, 'IQ4_NL'), attnV: (l) => (l.gqa >= 4 ? 'Q5_K' : undefined), ffnDown: (l) => (l.i < div(l.n, 8) ? 'Q5_K' : undefined) },
  iq4_xs: { ...plain('IQ4_XS', 30, 'IQ4_XS'), attnV: (l) => (l.gqa >= 4 ? 'Q5_K' : undefined), ffnDown: (l) => (l.i < div(l.n, 8) ? 'Q5_K' : undefined) },
};

export function mixOf(type: string): Mix {
  const m = MIXES[type.toLowerCase()];
  if (!m) throw new RangeError(`--type: '${type}' is not a type or mix (expected one of ${Object.keys(MIXES).join(', ')})`);
  return m;
}

/** The role of a tensor from its llama.cpp name. */
export function roleOf(name: string): TensorRole {
  if (name === 'token_embd.weight') return 'tokenEmbd';
  if (name === 'output.weight') return 'output';
  // T5's stacks (enc.blk, dec.blk): llama.cpp matches by substring, so cross_attn_v counts as attn_v.
  const m = /^(?:blk|enc\.blk|dec\.blk)\.\d+\.(?:cross_)?(attn_v|attn_output|attn_qkv|ffn_down)\.weight$/.exec(name);
  const roles: Record<string, TensorRole> = { attn_v: 'attnV', attn_output: 'attnOutput', attn_qkv: 'attnQkv', ffn_down: 'ffnDown' };
  return m ? roles[m[1]!]! : 'other';
}

/** Whether a tensor is quantized at all (llama.cpp: matrices, not norms nor position tables). */
export function isQuantizable(name: string, shape: readonly number[]): boolean {
  // T5's relative-position tables (attn_rel_b) stay f32, as llama.cpp keeps them.
  return shape.length >= 2 && name.endsWith('.weight') && !name.includes('_norm.') && name !== 'position_embd.weight' && !name.includes('attn_rel_b.');
}

/**
 * A mix's plan: tensor name -> ggml type name, for a model's matrices (name and row-major shape,
 * in file order) with `layers` blocks and heads / kvHeads query and key-value heads.
 */
export function planTypes(mixName: string, tensors: ReadonlyArray<{ name: string; shape: readonly number[] }>, layers: number, gqa: number): Map<string, string> {
  const mix = mixOf(mixName);
  const tied = !tensors.some((t) => t.name === 'output.weight');
  const counters: Record<string, number> = { attnV: 0, ffnDown: 0 };
  // llama.cpp counts attn_v and ffn_down tensors over the whole file (a decoder: one per block;
  // T5: its self- and cross-attention ones of both stacks), and places each by its running index.
  const totals: Record<string, number> = { attnV: 0, ffnDown: 0 };
  for (const t of tensors) {
    const r = roleOf(t.name);
    if (r === 'attnV' || r === 'ffnDown') totals[r]!++;
  }
  const plan = new Map<string, string>();
  for (const t of tensors) {
    if (!isQuantizable(t.name, t.shape)) {
      plan.set(t.name, 'F32');
      continue;
    }
    let type = mix.base;
    const role = roleOf(t.name);
    if (mix.rules) {
      const cols = t.shape[t.shape.length - 1]!;
      if (role === 'output' || (tied && role === 'tokenEmbd')) {
        type = mix.base === 'Q8_0' || cols % 256 !== 0 ? 'Q8_0' : 'Q6_K';
      } else if (role !== 'tokenEmbd' && role !== 'other') {
        const rule = mix[role];
        // llama.cpp counts attn_v per tensor and ffn_down per layer; with one per layer both are the layer index.
        const i = role === 'attnV' || role === 'ffnDown' ? counters[role]!++ : 0;
        const n = role === 'attnV' || role === 'ffnDown' ? totals[role]! : layers;
        const r = typeof rule === 'function' ? rule({ i, n, gqa }) : rule;
        if (r !== undefined) type = r;
      }
      while (cols % GGML_BLOCKS[type]!.block !== 0) type = FALLBACK[type] ?? 'F16';
    }
    plan.set(t.name, type);
  }
  return plan;
}

/** ggml_type id of a ggml type name. */
export function ggmlTypeId(name: string): number {
  const b = GGML_BLOCKS[name];
  if (!b) throw new RangeError(`ggml type '${name}' is unknown`);
  return b.id;
}

/** attnode's format for a ggml type name, or a clear error when the format table has none yet. */
export function formatFor(ggmlName: string, tensor: string): WeightFormat {
  const f = WEIGHT_DTYPES.map((d) => WEIGHT_FORMATS[d]).find((x) => x.ggufName === ggmlName);
  if (!f) {
    throw new RangeError(`${tensor}: type ${ggmlName} has no quantizer in attnode's format table (ts/tensor/formats.ts has ${
      WEIGHT_DTYPES.map((d) => WEIGHT_FORMATS[d].ggufName).join(', ')})`);
  }
  return f;
}

/** llama.cpp's enum llama_ftype value for general.file_type. */
export function fileTypeOf(mixName: string): number {
  return mixOf(mixName).fileType;
}
