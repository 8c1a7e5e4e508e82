// DecoderConfig: the one shape description every family's graph is built from, and the readers
// the families share for config.json fields and GGUF metadata. Not a loader (model.ts) and not
// the per-family parts (families/*.ts), nor the table that picks a family (families/index.ts).

import type { GGUFFile } from '../io/gguf.js';
import type { RopeScaling } from './rope.js';

/** The families of the table in families/index.ts. */
export type Architecture = 'gpt2' | 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'phi3' | 'gemma2' | 'gemma3';

export interface DecoderConfig {
  readonly architecture: Architecture;
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** MLP inner width. */
  readonly ffn: number;
  readonly maxPositions: number;
  readonly normEps: number;
  /** Llama: rotary base; GPT-2: unused (learned positions). */
  readonly ropeTheta: number;
  /** GGUF Llama files store Q/K rows permuted for interleaved rotary pairs (llama.cpp's converter). */
  readonly ropeInterleaved: boolean;
  /** Rotated dimensions of each head (Phi-3's partial_rotary_factor); default headDim. */
  readonly rotaryDim?: number;
  /** Scaled rotary embeddings (config.json rope_scaling): tables and factors for the rope op. */
  readonly ropeScaling?: RopeScaling;
  readonly tiedEmbeddings: boolean;
  /** Sliding-window attention (Mistral): each position attends to the last `slidingWindow` positions. */
  readonly slidingWindow?: number;
  /**
   * Gemma's alternating layers: 'sliding' ones attend to the last `localWindow` positions (and,
   * in Gemma 3, rotate with base `ropeLocalTheta`, unscaled), 'full' ones to every position.
   * Unlike slidingWindow, cache pages stay: the full layers read them.
   */
  readonly layerTypes?: readonly ('sliding' | 'full')[];
  readonly localWindow?: number;
  readonly ropeLocalTheta?: number;
  /** Attention score scale (Gemma's query_pre_attn_scalar^-0.5); default 1/sqrt(headDim). */
  readonly attnScale?: number;
  /** Attention and final logit soft-capping (Gemma 2). */
  readonly attnSoftcap?: number;
  readonly finalSoftcap?: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number | readonly number[];
}

/** A positive integer field (or `fallback` when absent); RangeError naming the field. */
export function int(cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 2 ** 31)
    throw new RangeError(`config: '${key}' must be a positive integer, got ${JSON.stringify(cfg[key])}`);
  return v;
}

/** A positive finite number field (or `fallback` when absent). */
export function num(cfg: Record<string, unknown>, key: string, fallback: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`config: '${key}' must be a positive number, got ${JSON.stringify(cfg[key])}`);
  return v;
}

/**
 * A field that changes the computation in a way the family does not implement: refused, naming
 * the field and its value, rather than ignored (which would give wrong logits without a word).
 */
export function refuse(family: string, key: string, value: unknown, why: string): never {
  throw new RangeError(`config: ${family} '${key}' = ${JSON.stringify(value)} is not supported (${why})`);
}

/** Checks every family shares: grouped-query heads divide evenly. */
export function checkHeads(c: DecoderConfig): DecoderConfig {
  if (c.heads % c.kvHeads !== 0) throw new RangeError(`config: ${c.heads} attention heads are not a multiple of ${c.kvHeads} key/value heads`);
  return c;
}

/** bos/eos ids of a config.json, when given. */
export function hfTokenIds(cfg: Record<string, unknown>): { bosTokenId?: number; eosTokenId?: number | number[] } {
  const out: { bosTokenId?: number; eosTokenId?: number | number[] } = {};
  if (typeof cfg.bos_token_id === 'number') out.bosTokenId = cfg.bos_token_id;
  if (typeof cfg.eos_token_id === 'number' || Array.isArray(cfg.eos_token_id)) out.eosTokenId = cfg.eos_token_id as number | number[];
  return out;
}

/** The GGUF metadata a family reads: `${arch}.${key}` for each key, by key. */
export function ggufFields(g: GGUFFile, keys: readonly string[]): Record<string, unknown> {
  const arch = String(g.get('general.architecture'));
  const md: Record<string, unknown> = {};
  for (const k of keys) md[k] = g.get(`${arch}.${k}`);
  return md;
}

/** Vocabulary size of a GGUF file: `${arch}.vocab_size`, else the tokenizer's, else the embedding's rows. */
export function ggufVocab(g: GGUFFile, md: Record<string, unknown>): number {
  const tokens = g.get('tokenizer.ggml.tokens');
  const embd = g.tensors.get('token_embd.weight');
  const vocab = (md.vocab_size as number | undefined) ?? (Array.isArray(tokens) ? tokens.length : embd?.shape[0]);
  return int({ vocab }, 'vocab');
}

/** bos/eos ids of a GGUF file's tokenizer metadata, when given. */
export function ggufTokenIds(g: GGUFFile): { bosTokenId?: number; eosTokenId?: number } {
  const out: { bosTokenId?: number; eosTokenId?: number } = {};
  const bos = g.get('tokenizer.ggml.bos_token_id');
  const eos = g.get('tokenizer.ggml.eos_token_id');
  if (typeof bos === 'number') out.bosTokenId = bos;
  if (typeof eos === 'number') out.eosTokenId = eos;
  return out;
}
