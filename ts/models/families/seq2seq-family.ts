// What an encoder-decoder family (T5; BART and Marian plug in the same way) contributes to the
// table in seq2seq.ts: its config reader, weight binder, parameter list and the graph parts the
// shared encoder-decoder graphs (../seq2seq-graph.ts) call. Only the contract and the config shape.

import type { Activation } from '../../backend/ops/linear.js';
import type { GraphBuilder, ValueRef } from '../../graph/ir.js';
import type { GGUFFile } from '../../io/gguf.js';
import type { Binder } from '../weights.js';

/** The encoder-decoder families, by the name Seq2SeqConfig.architecture carries. */
export type Seq2SeqArchitecture = 't5' | 'bart' | 'mbart' | 'marian';

/** Which stack a graph part builds for: the encoder, or the decoder. */
export type Seq2SeqSide = 'enc' | 'dec';

/** The attention kinds of an encoder-decoder: the encoder's, the decoder's own (causal) and its cross-attention. */
export type Seq2SeqAttention = 'encoder' | 'decoder' | 'cross';

export interface Seq2SeqConfig {
  readonly architecture: Seq2SeqArchitecture;
  /** The HF class of the checkpoint (config.json `architectures[0]`). */
  readonly hfArchitecture: string;
  /** Ids the encoder reads (and, unless decoderVocabSize says otherwise, the decoder too). */
  readonly vocabSize: number;
  /**
   * Ids the decoder reads and the head scores (Marian's decoder_vocab_size with separate source and
   * target vocabularies); undefined: vocabSize. Read it through decoderVocabSize(cfg).
   */
  readonly decoderVocabSize?: number;
  /** d_model */
  readonly hidden: number;
  readonly heads: number;
  /** Per head (T5's d_kv, which need not be hidden / heads). */
  readonly headDim: number;
  readonly ffn: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly normEps: number;
  /** The FFN activation; `gated`: act(gate(x)) * up(x) (T5 v1.1's gated-gelu), else act(up(x)). */
  readonly activation: Activation;
  readonly gated: boolean;
  /** The head is the shared embedding table (T5 v1.0); else its own lm_head. */
  readonly tiedEmbeddings: boolean;
  /** Most positions of a sequence (learned position tables); undefined: no limit from the model (relative positions). */
  readonly maxPositions?: number;
  /** Relative-position buckets (T5): count and the distance where the logarithmic buckets end. */
  readonly relativeBuckets?: number;
  readonly relativeMaxDistance?: number;
  readonly decoderStartTokenId: number;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId?: number;
  /** Token embeddings times sqrt(d_model) (BART's, mBART's and Marian's scale_embedding). */
  readonly scaleEmbedding?: boolean;
  /** Ids forced as the first generated token / as the token that reaches max_length (BART's forced_bos/eos_token_id). */
  readonly forcedBosTokenId?: number;
  readonly forcedEosTokenId?: number;
}

/** The decoder's vocabulary: the logits' length and the ids decoder tokens may take. */
export function decoderVocabSize(cfg: Seq2SeqConfig): number {
  return cfg.decoderVocabSize ?? cfg.vocabSize;
}

/** How a family's attention of one kind differs from plain scaled dot-product attention. */
export interface Seq2SeqAttentionParts {
  /** Score scale; default 1/sqrt(headDim) (T5: 1, its scale is folded into the weights). */
  readonly scale?: number;
  /** Bias on the q, k, v and o projections (BART): params `<p>.q.b` ... */
  readonly bias: boolean;
  /** A generated bias from relative positions: T5 buckets over the table param `table` (buckets, H). */
  readonly positionBias?: { readonly table: string; readonly maxDistance: number; readonly bidirectional: boolean };
}

/** The family-specific parts of the shared encoder and decoder graphs (../seq2seq-graph.ts). */
export interface Seq2SeqParts {
  /** The graphs take a positions input (T) i32: learned or sinusoidal position tables (BART, Marian). */
  readonly readsPositions: boolean;
  /**
   * 'pre': x + f(norm(x)) with a final norm after the stack (T5); 'post': norm(x + f(x)) (BART).
   * The norm params are `<side>.l<i>.<attn|cross|mlp>.norm` and `<side>.final`.
   */
  readonly normPlacement: 'pre' | 'post';
  /** Whether each stack ends in a norm `<side>.final` (T5: both; BART: none). */
  readonly finalNorm: boolean;
  /** x: (T, C) -> (T, C) with param prefix p: RMSNorm (T5) or LayerNorm (BART). */
  norm(g: GraphBuilder, cfg: Seq2SeqConfig, x: ValueRef, p: string, rows: 'T' | 'B'): ValueRef;
  /** ids (T) i32 -> (T, C): the token table `<side>.embed`, with whatever the family adds (positions, scale, norm). */
  embed(g: GraphBuilder, cfg: Seq2SeqConfig, side: Seq2SeqSide, ids: ValueRef, positions: ValueRef | undefined): ValueRef;
  attention(cfg: Seq2SeqConfig, kind: Seq2SeqAttention): Seq2SeqAttentionParts;
  /** h: (T, C) -> (T, C), params under prefix p ('enc.l0.mlp'). */
  mlp(g: GraphBuilder, cfg: Seq2SeqConfig, p: string, h: ValueRef): ValueRef;
  /** x: (B, C), each segment's last decoder row after the stack (and its final norm) -> (B, V) logits. */
  head(g: GraphBuilder, cfg: Seq2SeqConfig, x: ValueRef): ValueRef;
}

export interface Seq2SeqFamily {
  readonly name: Seq2SeqArchitecture;
  /** What selects it: config.json `model_type` values and `architectures` entries. */
  readonly hf: { readonly modelTypes: readonly string[]; readonly architectures: readonly string[] };
  /** From a config.json; a field that changes the computation and is not implemented is a RangeError naming it. */
  configFromHF(cfg: Record<string, unknown>): Seq2SeqConfig;
  /** Binds an HF safetensors checkpoint to the canonical names of parameters(). */
  bindHF(b: Binder, cfg: Seq2SeqConfig): void;
  /** Its GGUF form (llama.cpp's names), when it has one: the general.architecture values, config reader and binder. */
  readonly gguf?: {
    readonly architectures: readonly string[];
    /** From GGUF metadata; a key or tensor layout that changes the computation and is not implemented is a RangeError naming it. */
    configFromGGUF(g: GGUFFile): Seq2SeqConfig;
    /** Binds a GGUF file's tensors to the canonical names of parameters(). */
    bindGGUF(b: Binder, cfg: Seq2SeqConfig): void;
  };
  /** Every parameter the graphs read, with its shape. */
  parameters(cfg: Seq2SeqConfig): { name: string; shape: readonly number[] }[];
  readonly graph: Seq2SeqParts;
}
