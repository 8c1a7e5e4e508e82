// What one model family contributes to the table in index.ts: the names that select it, its
// config readers, weight binders, graph parts and parameter list. Only the contract; the
// families are gpt2.ts and llama.ts, the shared blocks are ../blocks.ts.

import type { GGUFFile } from '../../io/gguf.js';
import type { DecoderParts } from '../blocks.js';
import type { Architecture, DecoderConfig } from '../config.js';
import type { Binder } from '../weights.js';

/** The rows of the parameter report (params.ts), in the order it prints them. */
export type ParamComponent =
  | 'embedding' | 'positions' | 'attention.q' | 'attention.k' | 'attention.v' | 'attention.o'
  | 'mlp.gate' | 'mlp.up' | 'mlp.down' | 'norms' | 'final.norm' | 'unembedding';

/** One parameter tensor of the graph, by its canonical name ('l0.q', 'final.w'). */
export interface ParamTensor {
  readonly name: string;
  /** Linear weights (N out, K in); tables (rows, C); norms and biases (C). */
  readonly shape: readonly number[];
  readonly component: ParamComponent;
  /** The block it belongs to; absent for embeddings, final norm and unembedding. */
  readonly layer?: number;
  /** Shares the storage of this parameter (tied unembedding): counted once, there. */
  readonly tiedTo?: string;
}

export interface ModelFamily {
  readonly name: Architecture;
  /** What selects it: config.json `model_type` values and `architectures` entries. */
  readonly hf: { readonly modelTypes: readonly string[]; readonly architectures: readonly string[] };
  /** GGUF `general.architecture` values. */
  readonly gguf: readonly string[];
  /** From a config.json; a field it reads but does not implement is a RangeError naming it. */
  configFromHF(cfg: Record<string, unknown>): DecoderConfig;
  /** From GGUF metadata (llama.cpp's key names). */
  configFromGGUF(g: GGUFFile): DecoderConfig;
  /** Binds a Hugging Face safetensors checkpoint to the canonical names of parameters(). */
  bindHF(b: Binder, cfg: DecoderConfig): void;
  /** Binds a llama.cpp GGUF file to the canonical names of parameters(). */
  bindGGUF(b: Binder, cfg: DecoderConfig): void;
  /** What its decoder stack puts into the shared blocks. */
  readonly graph: DecoderParts;
  /** Every parameter tensor the graph reads, with its shape from the config. */
  parameters(cfg: DecoderConfig): ParamTensor[];
}
