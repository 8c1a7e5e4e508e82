// DecoderConfig: the one shape description GPT-2 and Llama graphs are built from, read from a
// Hugging Face config.json or from GGUF metadata. Not a loader: see load.ts.

import type { GGUFFile, GGUFValue } from '../io/gguf.js';

export type Architecture = 'gpt2' | 'llama';

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
  readonly tiedEmbeddings: boolean;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number | readonly number[];
}

function int(cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 2 ** 31)
    throw new RangeError(`config: '${key}' must be a positive integer, got ${JSON.stringify(cfg[key])}`);
  return v;
}

function num(cfg: Record<string, unknown>, key: string, fallback: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`config: '${key}' must be a positive number, got ${JSON.stringify(cfg[key])}`);
  return v;
}

function check(c: DecoderConfig): DecoderConfig {
  if (c.hidden !== c.heads * c.headDim && c.architecture === 'gpt2')
    throw new RangeError(`config: hidden size ${c.hidden} is not heads (${c.heads}) x head size`);
  if (c.heads % c.kvHeads !== 0) throw new RangeError(`config: ${c.heads} attention heads are not a multiple of ${c.kvHeads} key/value heads`);
  if (c.headDim % 2 !== 0 && c.architecture === 'llama') throw new RangeError(`config: rotary embeddings need an even head size, got ${c.headDim}`);
  return c;
}

/** From a Hugging Face config.json (model_type 'gpt2' or 'llama', or their architectures). */
export function configFromHF(cfg: Record<string, unknown>): DecoderConfig {
  const type = String(cfg.model_type ?? '');
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [];
  if (type === 'gpt2' || archs.includes('GPT2LMHeadModel')) {
    const hidden = int(cfg, 'n_embd');
    const heads = int(cfg, 'n_head');
    const act = cfg.activation_function ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') throw new RangeError(`config: GPT-2 activation '${String(act)}' is not supported (gelu_new is)`);
    return check({
      architecture: 'gpt2', vocabSize: int(cfg, 'vocab_size'), hidden, layers: int(cfg, 'n_layer'), heads, kvHeads: heads,
      headDim: hidden / heads, ffn: cfg.n_inner == null ? 4 * hidden : int(cfg, 'n_inner'), maxPositions: int(cfg, 'n_positions'),
      normEps: num(cfg, 'layer_norm_epsilon', 1e-5), ropeTheta: 0, ropeInterleaved: false, tiedEmbeddings: true,
      ...ids(cfg),
    });
  }
  if (type === 'llama' || archs.includes('LlamaForCausalLM')) {
    const hidden = int(cfg, 'hidden_size');
    const heads = int(cfg, 'num_attention_heads');
    if (cfg.rope_scaling != null) throw new RangeError('config: Llama rope_scaling is not supported yet');
    if (cfg.attention_bias === true || cfg.mlp_bias === true) throw new RangeError('config: Llama attention_bias / mlp_bias are not supported yet');
    return check({
      architecture: 'llama', vocabSize: int(cfg, 'vocab_size'), hidden, layers: int(cfg, 'num_hidden_layers'), heads,
      kvHeads: int(cfg, 'num_key_value_heads', heads), headDim: int(cfg, 'head_dim', hidden / heads), ffn: int(cfg, 'intermediate_size'),
      maxPositions: int(cfg, 'max_position_embeddings'), normEps: num(cfg, 'rms_norm_eps', 1e-6), ropeTheta: num(cfg, 'rope_theta', 10000),
      ropeInterleaved: false, tiedEmbeddings: cfg.tie_word_embeddings === true, ...ids(cfg),
    });
  }
  throw new RangeError(`config: model_type '${type}' (architectures ${JSON.stringify(archs)}) is not supported; supported: gpt2, llama`);
}

function ids(cfg: Record<string, unknown>): { bosTokenId?: number; eosTokenId?: number | number[] } {
  const out: { bosTokenId?: number; eosTokenId?: number | number[] } = {};
  if (typeof cfg.bos_token_id === 'number') out.bosTokenId = cfg.bos_token_id;
  if (typeof cfg.eos_token_id === 'number' || Array.isArray(cfg.eos_token_id)) out.eosTokenId = cfg.eos_token_id as number | number[];
  return out;
}

/** From GGUF metadata ('general.architecture' gpt2 or llama, llama.cpp's key names). */
export function configFromGGUF(g: GGUFFile): DecoderConfig {
  const arch = g.get('general.architecture');
  const get = (key: string): GGUFValue | undefined => g.get(`${String(arch)}.${key}`);
  const md: Record<string, unknown> = {};
  const keys = ['context_length', 'embedding_length', 'feed_forward_length', 'block_count', 'attention.head_count', 'attention.head_count_kv',
    'attention.layer_norm_epsilon', 'attention.layer_norm_rms_epsilon', 'rope.freq_base', 'rope.dimension_count', 'vocab_size'];
  for (const k of keys) md[k] = get(k);
  const tokens = g.get('tokenizer.ggml.tokens');
  const embd = g.tensors.get('token_embd.weight');
  const vocab = (md.vocab_size as number | undefined) ?? (Array.isArray(tokens) ? tokens.length : embd?.shape[0]);
  const hidden = int(md, 'embedding_length');
  const heads = int(md, 'attention.head_count');
  const extra: { bosTokenId?: number; eosTokenId?: number } = {};
  const bos = g.get('tokenizer.ggml.bos_token_id');
  const eos = g.get('tokenizer.ggml.eos_token_id');
  if (typeof bos === 'number') extra.bosTokenId = bos;
  if (typeof eos === 'number') extra.eosTokenId = eos;
  if (arch === 'gpt2')
    return check({
      architecture: 'gpt2', vocabSize: int({ vocab }, 'vocab'), hidden, layers: int(md, 'block_count'), heads, kvHeads: heads, headDim: hidden / heads,
      ffn: int(md, 'feed_forward_length', 4 * hidden), maxPositions: int(md, 'context_length'), normEps: num(md, 'attention.layer_norm_epsilon', 1e-5),
      ropeTheta: 0, ropeInterleaved: false, tiedEmbeddings: !g.tensors.has('output.weight'), ...extra,
    });
  if (arch === 'llama') {
    const headDim = int(md, 'rope.dimension_count', hidden / heads);
    return check({
      architecture: 'llama', vocabSize: int({ vocab }, 'vocab'), hidden, layers: int(md, 'block_count'), heads,
      kvHeads: int(md, 'attention.head_count_kv', heads), headDim, ffn: int(md, 'feed_forward_length'), maxPositions: int(md, 'context_length'),
      normEps: num(md, 'attention.layer_norm_rms_epsilon', 1e-6), ropeTheta: num(md, 'rope.freq_base', 10000), ropeInterleaved: true,
      tiedEmbeddings: !g.tensors.has('output.weight'), ...extra,
    });
  }
  throw new RangeError(`gguf: general.architecture '${String(arch)}' is not supported; supported: gpt2, llama`);
}
